"""The takeover blast radius as a cross-target step: latest ONTAP + Hyper-V snapshots -> join -> families.

Reads, per ONTAP target, the fragments of ``nodes``, ``lifs``, ``shares``, ``sessions`` and
``files`` plus its configured ``smb_server_aliases``; per Hyper-V target, ``inventory``. Stale or
missing fragments are passed on as such: the join then answers "unknown", never "survives".
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

from collectors.hyperv.facts import HyperVInventory
from collectors.ontap.facts import FilesFacts, LifsFacts, NodesFacts, SessionsFacts, SharesFacts
from collectors.takeover import advice
from collectors.takeover.hyperv import from_hyperv
from collectors.takeover.join import join
from collectors.takeover.model import ONTAP_INPUTS, HyperVInputs, JoinResult, OntapInputs
from collectors.takeover.names import canonical_ip
from exporter.address import parse_address
from exporter.config import HyperVTarget, OntapTarget
from exporter.crossderive import CrossOutput, CrossStep, TargetInputs
from exporter.render import takeover as render

if TYPE_CHECKING:
    from exporter.config import Config

NAME = "takeover_blast_radius"
KINDS = frozenset({"ontap", "hyperv"})
HYPERV_INPUTS = ("inventory",)


def ontap_inputs(t: TargetInputs, aliases: Mapping[str, str]) -> OntapInputs:
    f = t.fragments
    nodes, lifs, shares = f.get("nodes"), f.get("lifs"), f.get("shares")
    sessions, files = f.get("sessions"), f.get("files")
    return OntapInputs(
        cluster=t.name,
        nodes=nodes if isinstance(nodes, NodesFacts) else None,
        lifs=lifs if isinstance(lifs, LifsFacts) else None,
        shares=shares if isinstance(shares, SharesFacts) else None,
        sessions=sessions if isinstance(sessions, SessionsFacts) else None,
        files=files if isinstance(files, FilesFacts) else None,
        stale=t.problems(ONTAP_INPUTS, "stale"),
        missing=t.problems(ONTAP_INPUTS, "missing"),
        aliases=aliases,
    )


def hyperv_inputs(t: TargetInputs, addresses: tuple[str, ...] = ()) -> HyperVInputs:
    inventory = t.fragments.get("inventory")
    if not isinstance(inventory, HyperVInventory):
        return HyperVInputs(target=t.name, missing=t.problems(HYPERV_INPUTS, "missing") or ("inventory",))
    return from_hyperv(t.name, inventory.hyperv, inventory.neutral, stale=t.problems(HYPERV_INPUTS, "stale"),
                       addresses=addresses)


def address_literal(address: str) -> tuple[str, ...]:
    """The configured address of a Hyper-V target when it is an IP address: the host's, too.

    A DNS name is not resolved here (the join does no I/O); the host's own list (Get-NetIPAddress)
    has its addresses, including those on a storage network the exporter does not reach.
    """
    try:
        host = parse_address(address, 5986, http_port=5985).host
    except ValueError:
        return ()
    ip = canonical_ip(host)
    if not ip or ipaddress.ip_address(ip).is_loopback:  # a tunnel or a lab: not where SMB comes from
        return ()
    return (ip,)


def run_join(
    targets: Sequence[TargetInputs],
    aliases: Mapping[str, Mapping[str, str]],
    host_addresses: Mapping[str, tuple[str, ...]] | None = None,
) -> JoinResult:
    empty: Mapping[str, str] = MappingProxyType({})
    known = host_addresses or {}
    ontap = [ontap_inputs(t, aliases.get(t.name, empty)) for t in targets if t.kind == "ontap"]
    hyperv = [hyperv_inputs(t, known.get(t.name, ())) for t in targets if t.kind == "hyperv"]
    return join(ontap, hyperv)


def step(config: Config) -> CrossStep:
    aliases = {
        t.name: MappingProxyType({k.lower().rstrip("."): v for k, v in t.smb_server_aliases.items()})
        for t in config.targets
        if isinstance(t, OntapTarget)
    }

    host_addresses = {t.name: address_literal(t.address) for t in config.targets if isinstance(t, HyperVTarget)}

    def run(targets: Sequence[TargetInputs]) -> CrossOutput:
        start = time.perf_counter()
        result = run_join(targets, aliases, host_addresses)
        findings = [advice.finding(d) for d in result.disks if d.survives == "no"]
        return CrossOutput(render.render(result, time.perf_counter() - start), findings, result)

    return CrossStep(NAME, KINDS, run)
