"""The takeover blast radius as a cross-target step: latest ONTAP + Hyper-V snapshots -> join -> families.

Reads, per ONTAP target, the fragments of ``nodes``, ``lifs``, ``shares``, ``sessions`` and
``files`` plus its configured ``smb_server_aliases``; per Hyper-V target, ``inventory``. Stale or
missing fragments are passed on as such: the join then answers "unknown", never "survives".
"""

from __future__ import annotations

import gc
import ipaddress
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING

from collectors.hyperv.facts import HyperVInventory
from collectors.ontap.facts import FilesFacts, LifsFacts, NodesFacts, SessionsFacts, SharesFacts
from collectors.takeover import advice
from collectors.takeover.hyperv import from_hyperv
from collectors.takeover.join import JoinMemo, join
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


# Per Hyper-V target: (its inventory fragment, stale, addresses) -> the join's input made of them.
HostCache = dict[str, tuple[object, tuple[str, ...], tuple[str, ...], HyperVInputs]]


def run_join(
    targets: Sequence[TargetInputs],
    aliases: Mapping[str, Mapping[str, str]],
    host_addresses: Mapping[str, tuple[str, ...]] | None = None,
    hosts: HostCache | None = None,
    memo: JoinMemo | None = None,
) -> JoinResult:
    """``hosts``: the previous run's Hyper-V inputs, reused while a host's inventory fragment is the
    same object (fragments are immutable) and updated in place. The join re-runs after every ONTAP
    collector run, while an inventory changes every few minutes: without it, 2,000 hosts' 10,000
    VMs were turned into join inputs again on each run (~40% of the step at that size, bench/README.md).
    ``memo``: the previous run's verdicts, reused per host while what they were judged on is
    unchanged (collectors.takeover.join.JoinMemo)."""
    empty: Mapping[str, str] = MappingProxyType({})
    known = host_addresses or {}
    ontap = [ontap_inputs(t, aliases.get(t.name, empty)) for t in targets if t.kind == "ontap"]
    hyperv = []
    seen: HostCache = {}
    for t in targets:
        if t.kind != "hyperv":
            continue
        inventory, addresses = t.fragments.get("inventory"), known.get(t.name, ())
        if not isinstance(inventory, HyperVInventory):  # missing: nothing to reuse, cheap to say
            hyperv.append(hyperv_inputs(t, addresses))
            continue
        stale = t.problems(HYPERV_INPUTS, "stale")
        cached = hosts.get(t.name) if hosts is not None else None
        if cached is not None and cached[0] is inventory and cached[1] == stale and cached[2] == addresses:
            inputs = cached[3]
        else:
            inputs = hyperv_inputs(t, addresses)
            if cached is not None and inputs == cached[3]:
                # A new poll that changed nothing the join reads (VMs, states, disks on SMB,
                # addresses): keep the object, so the join memo reuses the host's verdicts.
                inputs = cached[3]
        seen[t.name] = (inventory, stale, addresses, inputs)
        hyperv.append(inputs)
    if hosts is not None:  # only the targets of this run: a removed host leaves the cache
        hosts.clear()
        hosts.update(seen)
    return join(ontap, hyperv, memo)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Automatic garbage collection paused for one run of the step.

    At 10,000 disks a run makes ~150,000 short-lived container objects, none in a reference cycle
    (refcounting frees them); on the way they set off two or three full collections, each walking
    every object the store holds (all targets' fragments, none garbage): a third of the step's
    CPU (bench/README.md). The pause lasts one run (the CrossDeriver waits >= 10x a run between
    runs); collection resumes on its usual thresholds after it, and an explicit gc.collect() in
    another thread still works meanwhile.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def step(config: Config) -> CrossStep:
    aliases = {
        t.name: MappingProxyType({k.lower().rstrip("."): v for k, v in t.smb_server_aliases.items()})
        for t in config.targets
        if isinstance(t, OntapTarget)
    }

    host_addresses = {t.name: address_literal(t.address) for t in config.targets if isinstance(t, HyperVTarget)}

    # Kept from run to run (the CrossDeriver runs a step in one thread at a time): each host's
    # join input, verdicts and rendered series, each reused while what it was made of is unchanged.
    hosts: HostCache = {}
    memo = JoinMemo()
    rendered = render.RenderCache()

    def run(targets: Sequence[TargetInputs]) -> CrossOutput:
        start = time.perf_counter()
        with gc_paused():
            result = run_join(targets, aliases, host_addresses, hosts, memo)
            findings = [advice.finding(d) for d in result.disks if d.survives == "no"]
            return CrossOutput(render.render(result, time.perf_counter() - start, rendered), findings, result)

    return CrossStep(NAME, KINDS, run)
