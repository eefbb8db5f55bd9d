"""vcsim (govmomi's vSphere API simulator) and govc for the vSphere tests, bench and demo.

* ``binaries()`` builds or reuses the cached binaries (``tools/vcsim/build.sh`` ->
  ``.cache/vcsim/bin``). ``require_binaries()`` is what tests call: when vcsim cannot be built the
  test FAILS with the reason; it is skipped only when ``NDO_SKIP_VCSIM=1`` is set explicitly.
* ``Vcsim`` runs one simulator on 127.0.0.1 (a free port picked by vcsim itself) with fixed
  credentials, optionally TLS with our own CA, latency injection and a loaded model; ``govc()``
  shapes it.
* ``build_exchange_model()`` makes the known inventory of the tests (below), once per directory.

vcsim quirks met here (vcsim 0.24.2, docs/vsphere.md "Background measurements" B1):
* host hardware is read-only through the API: core counts and the autostart policy are set by
  saving the model (``govc object.save``), editing the host XML and loading it (``vcsim -load``);
* ``govc fields.add`` needs ``-type VirtualMachine``: without it vcsim leaves the required
  ``CustomFieldDef.type`` empty and pyVmomi refuses the whole answer;
* ``-vm N`` is per resource pool; ``-standalone-host 0`` gives exact counts.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "tools" / "vcsim" / "build.sh"
PATCH = REPO / "tools" / "vcsim" / "vcsim-fetch-unset.patch"
CACHE = REPO / ".cache" / "vcsim" / "bin"
USERNAME = "ndo-reader"
PASSWORD = "vcsim-Secret-9"


class VcsimUnavailable(Exception):
    pass


def _stamp() -> str:
    # Same recipe as build.sh: sha256 of the script and the patch, first 16 hex digits.
    return hashlib.sha256(BUILD_SCRIPT.read_bytes() + PATCH.read_bytes()).hexdigest()[:16]


def cached() -> bool:
    """True when a build matching the recipe is already cached (no build is started)."""
    stamp = CACHE / ".stamp"
    return (
        (CACHE / "vcsim").exists()
        and (CACHE / "govc").exists()
        and stamp.exists()
        and stamp.read_text().strip() == _stamp()
    )


def binaries(timeout: float = 1200.0) -> tuple[Path, Path]:
    """(vcsim, govc): the cached build when it matches the recipe, else build now."""
    vcsim, govc = CACHE / "vcsim", CACHE / "govc"
    stamp = CACHE / ".stamp"
    if vcsim.exists() and govc.exists() and stamp.exists() and stamp.read_text().strip() == _stamp():
        return vcsim, govc
    try:
        res = subprocess.run(
            ["bash", str(BUILD_SCRIPT), str(CACHE)], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VcsimUnavailable(f"tools/vcsim/build.sh could not run: {exc}") from None
    if res.returncode != 0 or not vcsim.exists() or not govc.exists():
        tail = "\n".join((res.stderr or "").strip().splitlines()[-15:])
        raise VcsimUnavailable(f"tools/vcsim/build.sh failed (rc={res.returncode}):\n{tail}")
    return vcsim, govc


# ---------------------------------------------------------------------------------------------
# TLS material: a private CA and a server certificate for 127.0.0.1 / localhost


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_tls(directory: Path) -> TlsFiles:
    """A private CA and a server certificate for 127.0.0.1 / localhost (vcsim -tlscert/-tlskey)."""
    from simulators.tls import generate

    files = generate(directory, "127.0.0.1", "vcsim")
    return TlsFiles(files.ca_file, files.cert_file, files.key_file)


# ---------------------------------------------------------------------------------------------
# One simulator


class Vcsim:
    """A vcsim process on 127.0.0.1:<free port>. Use as a context manager or call stop()."""

    def __init__(
        self,
        args: list[str] | None = None,
        *,
        load: Path | None = None,
        tls: TlsFiles | None = None,
        username: str = USERNAME,
        password: str = PASSWORD,
        port: int = 0,
        start_timeout: float = 120.0,
    ) -> None:
        self.vcsim, self.govc_bin = binaries()
        self.username, self.password = username, password
        cmd = [str(self.vcsim), "-l", f"127.0.0.1:{port}", "-username", username, "-password", password]
        if load is not None:
            cmd += ["-load", str(load)]
        if tls is not None:
            cmd += ["-tlscert", str(tls.server_cert), "-tlskey", str(tls.server_key)]
        cmd += args or []
        self._log = tempfile.NamedTemporaryFile(prefix="vcsim-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.port = self._wait_port(start_timeout)

    def _wait_port(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        pattern = re.compile(rb"GOVC_URL=https://[^@\s]*@?127\.0\.0\.1:(\d+)/sdk")
        while time.monotonic() < deadline:
            out = Path(self._log.name).read_bytes()
            m = pattern.search(out)
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                tail = out.decode(errors="replace")[-2000:]
                raise VcsimUnavailable(f"vcsim exited with {self.proc.returncode}: {tail}")
            time.sleep(0.05)
        self.stop()
        raise VcsimUnavailable(f"vcsim did not announce its port within {timeout:.0f}s")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def govc_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "GOVC_URL": f"https://127.0.0.1:{self.port}/sdk",
            "GOVC_USERNAME": self.username,
            "GOVC_PASSWORD": self.password,
            "GOVC_INSECURE": "1",
        }

    def govc(self, *args: str, timeout: float = 120.0) -> str:
        res = subprocess.run(
            [str(self.govc_bin), *args], env=self.govc_env(), capture_output=True, text=True, timeout=timeout
        )
        if res.returncode != 0:
            raise RuntimeError(f"govc {' '.join(args)} failed ({res.returncode}): {res.stderr.strip()}")
        return res.stdout

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def __enter__(self) -> Vcsim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# Model editing (host hardware and policies are read-only through the API)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def host_model_file(model: Path, host_name: str) -> Path:
    for f in sorted(model.glob("*-HostSystem-*.xml")):
        if f"<name>{host_name}</name>" in f.read_text():
            return f
    raise FileNotFoundError(f"no HostSystem file for {host_name} in {model}")


def set_host_cpu(model: Path, host_name: str, cores: int, threads: int) -> None:
    f = host_model_file(model, host_name)
    text = f.read_text()
    text = re.sub(r"<numCpuCores>\d+</numCpuCores>", f"<numCpuCores>{cores}</numCpuCores>", text)
    text = re.sub(r"<numCpuThreads>\d+</numCpuThreads>", f"<numCpuThreads>{threads}</numCpuThreads>", text)
    f.write_text(text)


def set_host_autostart(model: Path, host_name: str, enabled: bool, stop_action: str) -> None:
    f = host_model_file(model, host_name)
    text = f.read_text()
    block = re.search(r"<autoStart>.*?</autoStart>", text, re.S)
    if block is None:
        raise ValueError(f"no autoStart block for {host_name}")
    new = re.sub(r"<stopAction>[^<]*</stopAction>", f"<stopAction>{stop_action}</stopAction>", block.group(0))
    new = re.sub(r"<enabled>[^<]*</enabled>\s*", "", new)
    new = new.replace("<defaults>", f"<defaults>\n          <enabled>{'true' if enabled else 'false'}</enabled>", 1)
    f.write_text(text[: block.start()] + new + text[block.end() :])


# ---------------------------------------------------------------------------------------------
# The known inventory of the tests
#
# Cluster DC0_C0 with three hosts, one datacenter, a local datastore LocalDS_0 and an NFS one:
#   DC0_C0_H0  8 cores / 16 threads  EXCH01 8 vCPU (reserved), EXCH02 4 vCPU (reservation 2 GiB of
#              8), APP01 8 vCPU, MBX04 2 vCPU (2 snapshots) -> (8+4+8+2)/8 = 2.75: unsupported
#   DC0_C0_H1  4 cores / 8 threads   EXCH03 4 vCPU suspended, APP02 4 vCPU (annotation marker
#              "ndo:exchange" -> Exchange), autostart on with stop action "suspend"
#              -> 4/4 = 1.0: fine; APP02 saves state on stop
#   DC0_C0_H2  2 cores (vcsim default) MBX05 2 vCPU on the NFS datastore nfs01, APP03 1 vCPU with
#              custom attribute exchange_role=mailbox (Exchange when the selector has tags
#              "exchange_role=*"; no reservation) -> 3/2 = 1.5: above recommended
# Every Exchange VM except EXCH02 reserves all its memory.

GIB_MB = 1024


def _create_vm(sim: Vcsim, name: str, host: str, cpus: int, mem_mb: int, ds: str = "LocalDS_0") -> None:
    sim.govc(
        "vm.create",
        "-c",
        str(cpus),
        "-m",
        str(mem_mb),
        "-g",
        "windows9Server64Guest",
        "-net",
        "VM Network",
        "-ds",
        ds,
        "-host",
        host,
        "-disk",
        "1G",
        "-on=true",
        name,
    )


def build_exchange_model(directory: Path) -> Path:
    """Create (once) the saved and edited model of the known inventory; return its directory."""
    model = directory / "exchange-model"
    if (model / ".complete").exists():
        return model
    if model.exists():
        shutil.rmtree(model)
    nfs = directory / "nfs-export" / "nfs01"
    nfs.mkdir(parents=True, exist_ok=True)
    with Vcsim(["-dc", "1", "-cluster", "1", "-host", "3", "-vm", "0", "-standalone-host", "0"]) as sim:
        # vcsim mounts an NFS datastore on a local directory named by -name (its base name is the
        # datastore name); summary.type is NFS as on a real vCenter.
        sim.govc(
            "datastore.create",
            "-type",
            "nfs",
            "-name",
            str(nfs),
            "-remote-host",
            "198.51.100.7",
            "-remote-path",
            "/vol/exchange",
            "/DC0/host/DC0_C0/DC0_C0_H2",
        )
        _create_vm(sim, "EXCH01", "DC0_C0_H0", 8, 32 * GIB_MB)
        _create_vm(sim, "EXCH02", "DC0_C0_H0", 4, 8 * GIB_MB)
        _create_vm(sim, "APP01", "DC0_C0_H0", 8, 16 * GIB_MB)
        _create_vm(sim, "MBX04", "DC0_C0_H0", 2, 8 * GIB_MB)
        _create_vm(sim, "EXCH03", "DC0_C0_H1", 4, 16 * GIB_MB)
        _create_vm(sim, "APP02", "DC0_C0_H1", 4, 8 * GIB_MB)
        _create_vm(sim, "MBX05", "DC0_C0_H2", 2, 8 * GIB_MB, ds="nfs01")
        _create_vm(sim, "APP03", "DC0_C0_H2", 1, 4 * GIB_MB)
        for vm, mb in (("EXCH01", 32), ("MBX04", 8), ("EXCH03", 16), ("MBX05", 8)):
            sim.govc("vm.change", "-vm", vm, "-mem.reservation", str(mb * GIB_MB))
        sim.govc("vm.change", "-vm", "APP02", "-memory-pin=true")  # reserve all guest memory
        sim.govc("vm.change", "-vm", "EXCH02", "-mem.reservation", str(2 * GIB_MB))
        sim.govc("vm.change", "-vm", "APP02", "-annotation", "Mailbox role, DAG2 [ndo:exchange]")
        sim.govc("snapshot.create", "-vm", "MBX04", "before-CU14")
        sim.govc("snapshot.create", "-vm", "MBX04", "before-CU15")
        sim.govc("vm.power", "-suspend", "EXCH03")
        sim.govc("fields.add", "-type", "VirtualMachine", "exchange_role")
        sim.govc("fields.set", "exchange_role", "mailbox", "/DC0/vm/APP03")
        sim.govc("object.save", "-d", str(model))
    set_host_cpu(model, "DC0_C0_H0", 8, 16)
    set_host_cpu(model, "DC0_C0_H1", 4, 8)
    set_host_autostart(model, "DC0_C0_H1", True, "suspend")
    (model / ".complete").write_text("ok\n")
    return model


# ---------------------------------------------------------------------------------------------
# The allocation / vVol / layoutEx inventory (issue 12): a second, separate model so the counts of
# the known inventory above stay as they are.
#
# Cluster DC0_C0, two hosts:
#   DC0_C0_H0  8 cores / 16 threads  EXCH11 4 vCPU on; APP11 8 vCPU powered off; APP12 6 vCPU
#              suspended; TMPL01 16 vCPU template -> powered-on 4, allocated 4+8+6 = 18 (a
#              template never starts, so it is not a guest of the host)
#   DC0_C0_H1  4 cores / 8 threads   EXCH12 2 vCPU on vvol01 (vVol, NFS protocol endpoint: NAS);
#              EXCH13 2 vCPU on vvol02 (vVol, SCSI protocol endpoint: block)
# vcsim cannot create vVol datastores: vvol01/vvol02 are created as NFS datastores, and the saved
# model is edited into what vCenter serves for a vVol datastore (summary.type VVOL, info a
# VvolDatastoreInfo whose vvolDS lists the host's protocol endpoint, docs/vsphere.md "vVol").
# The deprecated ``layout`` property is removed from every VM (a server that no longer fills it):
# disk files can then come only from ``layoutEx``.

# (datastore, HostProtocolEndpoint.type, deprecated peType)
VVOL_DATASTORES = (("vvol01", "nfs", "nas"), ("vvol02", "scsi", "block"))


def _host_moid(model: Path, host_name: str) -> str:
    # Saved files are named <seq>-<Type>-<moid>.xml
    return host_model_file(model, host_name).stem.split("-HostSystem-", 1)[1]


def make_vvol(model: Path, name: str, host_moid: str, pe_type: str, legacy_pe_type: str) -> None:
    """Edit the saved NFS datastore ``name`` into a vVol datastore with one protocol endpoint."""
    for f in sorted(model.glob("*-Datastore-*.xml")):
        text = f.read_text()
        if f"<name>{name}</name>" not in text:
            continue
        nas = re.search(r"<nas>.*?</nas>", text, re.S)
        if nas is None:
            raise ValueError(f"{f.name}: no NAS volume to turn into a vVol container")
        nfs = (
            "<nfsServer>198.51.100.9</nfsServer>\n            <nfsDir>/vvol/pe-" + name + "</nfsDir>\n"
            if pe_type.startswith("nfs")
            else "<deviceId>naa.600a098038314c4a2f5d4f4b53467a31</deviceId>\n"
        )
        vvol = (
            "<vvolDS>\n        <type>VVOL</type>\n        <name>" + name + "</name>\n        <capacity>0</capacity>\n"
            "        <scId>vvol:5d1b0c3e4f6a7b8c-9d0e1f2a3b4c5d6e</scId>\n        <hostPE>\n"
            f'          <key type="HostSystem">{host_moid}</key>\n          <protocolEndpoint>\n'
            f"            <peType>{legacy_pe_type}</peType>\n            <type>{pe_type}</type>\n"
            f"            <uuid>rfc4122.{name}-pe</uuid>\n            {nfs}"
            "          </protocolEndpoint>\n        </hostPE>\n      </vvolDS>"
        )
        text = text[: nas.start()] + vvol + text[nas.end() :]
        text = text.replace('XMLSchema-instance:type="NasDatastoreInfo"', 'XMLSchema-instance:type="VvolDatastoreInfo"')
        text = re.sub(r"(<type>)NFS(</type>\s*<maintenanceMode>)", r"\1VVOL\2", text)
        f.write_text(text)
        return
    raise FileNotFoundError(f"no Datastore file for {name} in {model}")


def drop_deprecated_layout(model: Path) -> None:
    """Remove ``layout`` (deprecated since API 4.0) from every saved VM; ``layoutEx`` stays."""
    for f in sorted(model.glob("*-VirtualMachine-vm-*.xml")):
        text = f.read_text()
        text = re.sub(r"\s*<propSet>\s*<name>layout</name>.*?</propSet>", "", text, count=1, flags=re.S)
        f.write_text(text)


def build_allocation_model(directory: Path) -> Path:
    """Create (once) the saved and edited allocation / vVol model; return its directory."""
    model = directory / "allocation-model"
    if (model / ".complete").exists():
        return model
    if model.exists():
        shutil.rmtree(model)
    with Vcsim(["-dc", "1", "-cluster", "1", "-host", "2", "-vm", "0", "-standalone-host", "0"]) as sim:
        for name, _, _ in VVOL_DATASTORES:
            export = directory / "vvol-export" / name
            export.mkdir(parents=True, exist_ok=True)
            sim.govc("datastore.create", "-type", "nfs", "-name", str(export), "-remote-host", "198.51.100.9",
                     "-remote-path", f"/vvol/{name}", "/DC0/host/DC0_C0/DC0_C0_H1")
        _create_vm(sim, "EXCH11", "DC0_C0_H0", 4, 16 * GIB_MB)
        _create_vm(sim, "APP11", "DC0_C0_H0", 8, 16 * GIB_MB)
        _create_vm(sim, "APP12", "DC0_C0_H0", 6, 8 * GIB_MB)
        _create_vm(sim, "TMPL01", "DC0_C0_H0", 16, 8 * GIB_MB)
        _create_vm(sim, "EXCH12", "DC0_C0_H1", 2, 8 * GIB_MB, ds="vvol01")
        _create_vm(sim, "EXCH13", "DC0_C0_H1", 2, 8 * GIB_MB, ds="vvol02")
        for vm, mb in (("EXCH11", 16), ("EXCH12", 8), ("EXCH13", 8)):
            sim.govc("vm.change", "-vm", vm, "-mem.reservation", str(mb * GIB_MB))
        sim.govc("vm.power", "-off", "APP11", "TMPL01")
        sim.govc("vm.power", "-suspend", "APP12")
        sim.govc("vm.markastemplate", "TMPL01")
        sim.govc("object.save", "-d", str(model))
    set_host_cpu(model, "DC0_C0_H0", 8, 16)
    set_host_cpu(model, "DC0_C0_H1", 4, 8)
    h1 = _host_moid(model, "DC0_C0_H1")
    for name, pe_type, legacy in VVOL_DATASTORES:
        make_vvol(model, name, h1, pe_type, legacy)
    drop_deprecated_layout(model)
    (model / ".complete").write_text("ok\n")
    return model
