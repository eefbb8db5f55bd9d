"""pyVmomi, imported on first use and typed as ``Any``.

pyVmomi ships ``py.typed`` but its type information is partial (untyped data object
constructors, fault classes created at runtime such as ``vmodl.fault.InvalidProperty``), so
strict mypy cannot check calls into it anyway; one ``Any`` boundary here keeps the rest of the
package strict. Importing it lazily also keeps ``check-config`` and ``--help`` fast (pyVmomi loads
its whole type map on import).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any

from collectors.errors import CollectionError


@dataclass(frozen=True)
class Vmomi:
    vim: Any
    vmodl: Any
    VmomiSupport: Any
    SoapStubAdapter: Any
    GetServiceVersions: Any


@cache
def load() -> Vmomi:
    try:
        pyvmomi = importlib.import_module("pyVmomi")
        connect = importlib.import_module("pyVim.connect")
    except ImportError:
        raise CollectionError("config", "pyVmomi is not installed (pip install pyvmomi)") from None
    return Vmomi(
        vim=pyvmomi.vim,
        vmodl=pyvmomi.vmodl,
        VmomiSupport=pyvmomi.VmomiSupport,
        SoapStubAdapter=pyvmomi.SoapStubAdapter,
        GetServiceVersions=connect.GetServiceVersions,
    )
