"""The join: every Hyper-V VM disk on SMB x the ONTAP facts that decide whether it survives a takeover.

For each disk (``\\\\server\\share\\path``), in this order, the first rule that fails is its reason:

1. inputs: the Hyper-V host's facts are stale/missing -> unknown;
2. which cluster and SVM: the server name (names.ServerIndex) -> unmatched/ambiguous -> unknown
   (unmatched while a cluster's names are unknown -> input_missing);
3. which share, volume, aggregate owner (node) and HA partner -> unknown when not found;
4. a VM that is not running has nothing to lose -> yes (vm_not_running);
5. the matched cluster's facts are stale or missing -> unknown;
6. the owning node's partner cannot take over (checks.ha_readiness) -> no;
7. the partner has no usable data LIF of the SVM (checks.usable_lifs_on) -> no;
8. the share is not continuously available, or fails another CA share requirement -> no;
9. the VHDX has no open-file record although the VM runs -> unknown (file_not_open);
10. the session the file is open on (else the host's sessions to the SVM: of its machine account
    or from its addresses) is not SMB 3 -> no; the file handle is not CA -> no; the session has no
    CA handle at all -> no.

A LIF revert or migration (the session's LIF is not home) re-checks only 8-10: it moves the
connection, not the aggregate. Pure: no I/O, no clock; a ``JoinMemo`` passed in carries the
previous run's answers to reuse, never a different one (each run equals a join without it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from operator import attrgetter

from collectors.ontap import checks
from collectors.ontap.facts import (
    NO_OPEN_DISKS,
    LifFact,
    MachineSession,
    OpenDisks,
    SessionsFacts,
    ShareFact,
    VirtualDiskOpen,
    VolumeFact,
)
from collectors.takeover import advice
from collectors.takeover.model import (
    VERDICT_OF,
    DiskVerdict,
    HyperVInputs,
    InputStatus,
    JoinResult,
    NodeImpact,
    OntapInputs,
    OwnerVerdict,
    Reason,
    Verdict,
)
from collectors.takeover.names import (
    ServerIndex,
    ServerMatch,
    canonical_ip,
    file_key,
    machine_account_host,
    parse_unc,
)

_WORST = {"no": 0, "unknown": 1, "yes": 2}


class _DiskLookup:
    """A cluster's open virtual disks by (svm, share lower, path lower), indexed when first asked.

    A join used to index every open disk of every cluster: 20 clusters with 50k open VHDX each
    made a million keys (~250 MB, seconds) on each run, although the Hyper-V hosts' disks touch
    a few shares (bench/scale, issue 16 P4). Now a cluster nobody's disk points to costs nothing,
    and one that is costs one pass over its disks' share rows (``OpenDisks.by_share``, no records
    made) plus an index of the shares asked; a record is made only for a disk looked up."""

    __slots__ = ("_all", "_by_share", "_index")

    def __init__(self, disks: OpenDisks, equal: _DiskLookup | None = None) -> None:
        """``equal``: the lookup of disks equal to ``disks`` (the previous run's): its indexes hold
        positions, so they serve these as they are, and the records handed out are made from
        these (the previous fragment is not kept alive by them)."""
        self._all = disks
        self._by_share: dict[tuple[str, str], list[int]] | None = None
        self._index: dict[tuple[str, str], dict[str, int]] = {}
        if equal is not None:
            self._by_share, self._index = equal._by_share, equal._index

    def get(self, key: tuple[str, str, str]) -> VirtualDiskOpen | None:
        svm, share, path = key
        index = self._index.get((svm, share))
        if index is None:
            disks = self._all
            if self._by_share is None:
                self._by_share = disks.by_share()
            index = self._index[(svm, share)] = {}
            path_of = disks.path
            for i in self._by_share.get((svm, share), ()):  # names.file_key's path half, inlined
                index[path_of(i).replace("/", "\\").lstrip("\\").lower()] = i
        found = index.get(path)
        return None if found is None else self._all.disk(found)


@dataclass
class _Cluster:
    """Per-cluster lookups, built once per join (dicts, so 10k disks cost 10k lookups)."""

    side: OntapInputs
    readiness: dict[str, checks.HaReadiness]
    owners: dict[str, str]  # aggregate -> node
    volumes: dict[tuple[str, str], VolumeFact]
    shares: dict[tuple[str, str], ShareFact]  # (svm, share lower)
    disks: _DiskLookup  # (svm, share lower, path lower) -> the open handle
    sessions: dict[tuple[str, str, str], MachineSession]  # (node, svm, identifier)
    host_sessions: dict[tuple[str, str], list[MachineSession]]  # (svm, host lower)
    client_sessions: dict[tuple[str, str], list[MachineSession]]  # (svm, canonical client IP)
    lifs_by_address: dict[tuple[str, str], LifFact]  # (svm, address)
    problem: tuple[Reason, str] | None  # stale or missing inputs
    # What the lookups were built from, compared with the previous run's (JoinMemo): ``core`` is
    # everything read except the open disks and the machine sessions, which are large and compared
    # on their own so an unchanged list keeps its indexes.
    core: tuple[object, ...] = ()
    virtual_disks: OpenDisks | None = None
    machine_sessions: tuple[MachineSession, ...] | None = None
    same_core: bool = False  # each True when equal to the previous run's (False on a first run)
    same_disks: bool = False
    same_sessions: bool = False
    # Memoised per join: the same share / node answers for every disk on it.
    standby: dict[tuple[str, str], int] = field(default_factory=dict)  # (svm, partner) -> usable LIFs
    requirements: dict[tuple[str, str], dict[str, bool | None]] = field(default_factory=dict)

    def standby_lifs(self, svm: str, partner: str) -> int:
        key = (svm, partner)
        found = self.standby.get(key)
        if found is None:
            lifs = self.side.lifs
            found = self.standby[key] = checks.usable_lifs_on(lifs, svm, partner) if lifs is not None else 0
        return found

    def share_requirements(self, share: ShareFact) -> dict[str, bool | None]:
        key = (share.svm, share.name)
        found = self.requirements.get(key)
        if found is None:
            found = self.requirements[key] = checks.share_requirements(share)
        return found


class _Draft:
    """A verdict being built (mutable, cheap); ``freeze()`` makes the DiskVerdict."""

    __slots__ = (
        "cluster",
        "clustered",
        "controller",
        "detail",
        "exchange",
        "fix",
        "host",
        "hyperv_target",
        "lif",
        "lif_move_reason",
        "lif_move_survives",
        "node",
        "owners",
        "partner",
        "path",
        "reason",
        "running",
        "share",
        "survives",
        "svm",
        "vm",
        "volume",
    )

    def __init__(self, hv: HyperVInputs, vm_name: str, controller: str, path: str, exchange: bool,
                 clustered: bool, running: bool) -> None:
        self.hyperv_target, self.host, self.vm = hv.target, hv.host, vm_name
        self.controller, self.path = controller, path
        self.exchange, self.clustered, self.running = exchange, clustered, running
        self.cluster = self.svm = self.share = self.volume = self.node = self.partner = ""
        self.survives: Verdict = "unknown"
        self.reason: Reason = "input_missing"
        self.detail = self.fix = self.lif = ""
        self.lif_move_survives: Verdict | None = None
        self.lif_move_reason: Reason = "none"
        self.owners: tuple[OwnerVerdict, ...] = ()

    def copy(self) -> _Draft:
        other = _Draft.__new__(_Draft)
        for name in _Draft.__slots__:
            setattr(other, name, getattr(self, name))
        return other

    def freeze(self) -> DiskVerdict:
        return DiskVerdict(*_VERDICT_FIELDS(self))


# The draft's values in DiskVerdict's field order, read in C (10,000 disks a run at scale).
_VERDICT_FIELDS = attrgetter(*(f.name for f in fields(DiskVerdict)))


def _problem(side: OntapInputs) -> tuple[Reason, str] | None:
    if side.missing:
        return ("input_missing", f"{side.cluster}: no data from {', '.join(side.missing)}")
    if side.stale:
        return ("input_stale", f"{side.cluster}: stale data from {', '.join(side.stale)}")
    return None


_Sessions = tuple[
    dict[tuple[str, str, str], MachineSession],
    dict[tuple[str, str], list[MachineSession]],
    dict[tuple[str, str], list[MachineSession]],
]


def _index_sessions(sessions: SessionsFacts | None) -> _Sessions:
    """Machine sessions by (node, svm, identifier), by (svm, host) and by (svm, client address)."""
    by_id: dict[tuple[str, str, str], MachineSession] = {}
    by_host: dict[tuple[str, str], list[MachineSession]] = {}
    by_client: dict[tuple[str, str], list[MachineSession]] = {}
    if sessions is not None:
        for s in sessions.machine_sessions:
            by_id[(s.node, s.svm, s.identifier)] = s
            by_host.setdefault((s.svm, machine_account_host(s.user)), []).append(s)
            client = canonical_ip(s.client_ip)
            if client:
                by_client.setdefault((s.svm, client), []).append(s)
    return by_id, by_host, by_client


def _cluster(side: OntapInputs, prev: _Cluster | None = None) -> _Cluster:
    """The cluster's lookups; those whose inputs equal ``prev``'s (the previous run) are taken from it.

    Inputs are compared by value: every ONTAP cycle hands over new fragment objects, mostly with
    the same content. Comparing costs a fraction of rebuilding (50k open disks: ~20 ms vs ~60 ms)."""
    nodes, files, sessions, shares, lifs = side.nodes, side.files, side.sessions, side.shares, side.lifs
    problem = _problem(side)
    volumes: dict[tuple[str, str], VolumeFact] = {}
    if files is not None:
        for v in files.all_volumes or files.volumes:
            volumes[(v.svm, v.name)] = v
    readiness = checks.ha_readiness(nodes) if nodes is not None else {}
    owners = {a.name: a.node for a in nodes.aggregates} if nodes is not None else {}
    share_map = {(s.svm, s.name.lower()): s for s in shares.shares} if shares is not None else {}
    core = (
        problem, readiness, owners, volumes, share_map,
        (lifs.lifs, lifs.cifs_servers) if lifs is not None else None, tuple(side.aliases.items()),
        files.virtual_disks_truncated if files is not None else None,
        sessions.machine_sessions_truncated if sessions is not None else None,
    )
    virtual_disks = files.virtual_disks if files is not None else None
    machine_sessions = sessions.machine_sessions if sessions is not None else None
    same_core = prev is not None and prev.core == core
    same_disks = prev is not None and prev.virtual_disks == virtual_disks
    same_sessions = prev is not None and prev.machine_sessions == machine_sessions
    disks = _DiskLookup(virtual_disks or NO_OPEN_DISKS, prev.disks if same_disks and prev is not None else None)
    if same_sessions and prev is not None:
        by_id, by_host, by_client = prev.sessions, prev.host_sessions, prev.client_sessions
    else:
        by_id, by_host, by_client = _index_sessions(sessions)
    return _Cluster(
        side=side,
        readiness=readiness,
        owners=owners,
        volumes=volumes,
        shares=share_map,
        disks=disks,
        sessions=by_id,
        host_sessions=by_host,
        client_sessions=by_client,
        lifs_by_address={(x.svm, x.address): x for x in lifs.lifs} if lifs is not None else {},
        problem=problem,
        core=core,
        virtual_disks=virtual_disks,
        machine_sessions=machine_sessions,
        same_core=same_core,
        same_disks=same_disks,
        same_sessions=same_sessions,
        # Answers memoised from the same LIFs and shares stay true: carry them over.
        standby=prev.standby if same_core and prev is not None else {},
        requirements=prev.requirements if same_core and prev is not None else {},
    )


def _own_addresses(hyperv: Sequence[HyperVInputs]) -> list[HyperVInputs]:
    """Each host keeps only the addresses no other host claims: a session from an address two
    hosts report (a failover cluster's moving IP address, a copied configuration) is nobody's."""
    claims = Counter(a for hv in hyperv for a in set(hv.addresses))
    shared = {a for a, n in claims.items() if n > 1}
    if not shared:
        return list(hyperv)
    return [replace(hv, addresses=tuple(a for a in hv.addresses if a not in shared)) for hv in hyperv]


# A file record one disk's verdict read: (cluster, (svm, share lower, path lower), the record).
_Read = tuple[str, tuple[str, str, str], VirtualDiskOpen | None]
# (cluster, node) -> (VMs that would stop, Exchange guests among them, VMs whose fate is unknown)
_Counts = dict[tuple[str, str], tuple[int, int, int]]


@dataclass(frozen=True)
class _HostMemo:
    """One host's verdicts and what they were judged from, kept for the next run."""

    source: HyperVInputs  # the host's input as given (the same object while its inventory is)
    addresses: tuple[str, ...]  # its own addresses after _own_addresses
    verdicts: tuple[DiskVerdict, ...]
    clusters: frozenset[str]  # the clusters its disks were matched to
    opened: tuple[_Read, ...]  # the open-file records its disks were judged on
    impact: _Counts  # what its verdicts add to each node's counts


class JoinMemo:
    """The previous run's cluster lookups and per-host verdicts, so the next run judges again only
    the hosts whose inputs changed (the takeover step keeps one; ``join`` without one judges all).

    A host's verdicts are reused when its input is the same object, its own addresses are the
    same, and, compared by value with the previous run: every cluster's lookups except open disks
    and sessions (``_Cluster.core``: a change there can move any disk: the server index, shares,
    owners, HA readiness, LIFs, stale/missing inputs); the machine sessions of the clusters its
    disks matched; and the open-file record of each of its disks. Anything else is judged again,
    so a stale or failed input turns a reused "yes" into "unknown" on the run it appears in.
    Not thread-safe: one join at a time (the CrossDeriver runs a step in one thread).
    """

    def __init__(self) -> None:
        self.clusters: dict[str, _Cluster] = {}
        self.hosts: dict[str, _HostMemo] = {}
        self.reused = 0  # hosts whose verdicts the last run reused (bench, tests)


def join(ontap: Sequence[OntapInputs], hyperv: Sequence[HyperVInputs], memo: JoinMemo | None = None) -> JoinResult:
    sources = list(hyperv)
    hyperv = _own_addresses(sources)
    if memo is not None and len({hv.target for hv in sources}) != len(sources):
        memo.clusters, memo.hosts, memo.reused = {}, {}, 0  # duplicate target names: nothing
        memo = None  # identifies a host across runs, so judge all and keep nothing
    prev_clusters = memo.clusters if memo is not None else {}
    clusters = {side.cluster: _cluster(side, prev_clusters.get(side.cluster)) for side in ontap}
    # The server index (names of every cluster) and each cluster's core are as the previous run's.
    stable = list(prev_clusters) == list(clusters) and all(c.same_core for c in clusters.values())
    index = ServerIndex(ontap)
    lookups: dict[str, list[ServerMatch]] = {}
    verdicts: list[DiskVerdict] = []
    hosts: dict[str, _HostMemo] = {}
    reused = 0
    for source, hv in zip(sources, hyperv, strict=True):
        prev = memo.hosts.get(hv.target) if memo is not None and stable else None
        if prev is not None and _still_true(prev, source, hv.addresses, clusters):
            hosts[hv.target] = prev
            verdicts.extend(prev.verdicts)
            reused += 1
            continue
        reads: list[_Read] = []
        judged = tuple(_judge_host(hv, index, lookups, clusters, reads))
        verdicts.extend(judged)
        if memo is not None:
            matched = frozenset(d.cluster for d in judged if d.cluster)
            hosts[hv.target] = _HostMemo(source, hv.addresses, judged, matched, tuple(reads), _impact(judged))
    if memo is not None:  # only this run's hosts and clusters: a removed one leaves the memo
        memo.clusters, memo.hosts, memo.reused = clusters, hosts, reused
        # Target names are unique here: no VM is two hosts', so the per-host counts add up.
        impacts = [h.impact for h in hosts.values()]
    else:
        impacts = [_impact(verdicts)]
    return JoinResult(
        disks=tuple(verdicts),
        nodes=tuple(_node_impacts(clusters.values(), impacts)),
        inputs=tuple(_inputs(ontap, hyperv)),
    )


def _still_true(prev: _HostMemo, source: HyperVInputs, addresses: tuple[str, ...],
                clusters: dict[str, _Cluster]) -> bool:
    """Would the host's previous verdicts come out the same now? (the cluster cores already are)"""
    if prev.source is not source or prev.addresses != addresses:
        return False
    if not all(clusters[name].same_sessions for name in prev.clusters):
        return False
    for name, key, opened in prev.opened:
        c = clusters[name]
        if not c.same_disks and c.disks.get(key) != opened:
            return False
    return True


def _judge_host(
    hv: HyperVInputs,
    index: ServerIndex,
    lookups: dict[str, list[ServerMatch]],
    clusters: dict[str, _Cluster],
    reads: list[_Read],
) -> Iterator[DiskVerdict]:
    hv_problem: tuple[Reason, str] | None = None
    if hv.missing:
        hv_problem = ("input_missing", f"{hv.target}: no data from {', '.join(hv.missing)}")
    elif hv.stale:
        hv_problem = ("input_stale", f"{hv.target}: stale data from {', '.join(hv.stale)}")
    for vm in hv.vms:
        for disk in vm.disks:
            d = _Draft(hv, vm.name, disk.controller, disk.path, vm.exchange, vm.clustered, vm.running)
            _judge(d, hv, hv_problem, index, lookups, clusters, reads)
            yield d.freeze()


def _done(d: _Draft, reason: Reason, detail: str, failed_props: Iterable[str] = ()) -> _Draft:
    d.survives, d.reason, d.detail = VERDICT_OF[reason], reason, detail
    d.fix = advice.fix_for(reason, d, failed_props)
    return d


def _judge(
    d: _Draft,
    hv: HyperVInputs,
    hv_problem: tuple[Reason, str] | None,
    index: ServerIndex,
    lookups: dict[str, list[ServerMatch]],
    clusters: dict[str, _Cluster],
    reads: list[_Read],
) -> _Draft:
    unc = parse_unc(d.path)
    if unc is None:
        return _done(d, "unmatched_server", f"{d.path} is not a \\\\server\\share path")
    matches = lookups.get(unc.server)
    if matches is None:
        matches = lookups[unc.server] = index.lookup(unc.server)
    if len(matches) > 1:
        where = ", ".join(f"{m.cluster}:{m.svm}" for m in matches)
        return _done(d, "ambiguous_server", f"SMB server {unc.server} is known to several SVMs: {where}")
    if not matches:
        if hv_problem is not None:
            return _done(d, *hv_problem)
        if index.blind:
            return _done(
                d,
                "input_missing",
                f"SMB server {unc.server} matches no known SVM, and the names of {', '.join(index.blind)} "
                "are unknown (no LIF/CIFS server data)",
            )
        return _done(d, "unmatched_server", f"SMB server {unc.server} is served by no configured ONTAP target")
    m = matches[0]
    c = clusters[m.cluster]
    d.cluster, d.svm, d.share = m.cluster, m.svm, unc.share
    share = c.shares.get((m.svm, unc.share.lower()))
    if share is not None:
        d.share, d.volume = share.name, share.volume
    if hv_problem is not None:
        return _done(d, *hv_problem)
    if share is None:
        if c.problem is not None:
            return _done(d, *c.problem)
        return _done(d, "share_not_found", f"SVM {m.svm} of {m.cluster} has no share {unc.share}")
    owners = _owners(c, m.svm, share.volume)
    if not owners:
        if c.problem is not None:
            return _done(d, *c.problem)
        return _done(d, "owner_unknown", f"which node owns volume {share.volume} of {m.svm} is unknown")
    key = (d.svm, *file_key(unc.share, unc.rest))
    opened = c.disks.get(key)
    reads.append((m.cluster, key, opened))
    session = _session(c, hv, d.svm, opened)
    if len(owners) == 1:
        d.node = owners[0]
        return _judge_on_node(d, c, share, opened, session)
    # A FlexGroup spans several nodes and ONTAP does not say which constituent holds the file:
    # judge the disk against each owner (node counts and `once --before-takeover` use each one),
    # report the worst owner in the disk's own verdict (one series per disk).
    results = []
    for n in owners:
        draft = d.copy()
        draft.node = n
        results.append(_judge_on_node(draft, c, share, opened, session))
    worst = min(results, key=lambda r: _WORST[r.survives])
    for name in _Draft.__slots__:
        setattr(d, name, getattr(worst, name))
    d.owners = tuple(OwnerVerdict(r.node, r.partner, r.survives, r.reason, r.detail, r.fix) for r in results)
    return d


def _owners(c: _Cluster, svm: str, volume: str) -> list[str]:
    v = c.volumes.get((svm, volume))
    if v is None:
        return []
    if len(v.aggregates) == 1:
        owner = c.owners.get(v.aggregates[0])
        return [owner] if owner else []
    return sorted({c.owners[a] for a in v.aggregates if a in c.owners})


def _judge_on_node(
    d: _Draft, c: _Cluster, share: ShareFact, opened: VirtualDiskOpen | None, session: MachineSession | None
) -> _Draft:
    ready = c.readiness.get(d.node)
    d.partner = ready.partner if ready is not None else ""
    _lif_move(d, c, share, opened, session)
    if not d.running:
        return _done(d, "vm_not_running", "the VM is not running: nothing is open to lose")
    if c.problem is not None:
        return _done(d, *c.problem)
    if ready is None:
        return _done(d, "owner_unknown", f"node {d.node} has no HA facts")
    if not ready.ready:
        return _done(d, "partner_cannot_takeover", f"{d.node} cannot be taken over now: {'; '.join(ready.reasons)}")
    if c.side.lifs is not None and c.standby_lifs(d.svm, d.partner) == 0:
        return _done(
            d, "no_standby_lif", f"partner {d.partner or '(none)'} has no data LIF of {d.svm} up to reconnect to"
        )
    return _done(d, *_ca_chain(d, c, share, opened, session))


def _ca_chain(
    d: _Draft,
    c: _Cluster,
    share: ShareFact,
    opened: VirtualDiskOpen | None,
    session: MachineSession | None,
) -> tuple[Reason, str, list[str]]:
    """Rules 8-10: would the handle itself be replayed on the surviving node (or LIF)?"""
    reqs = c.share_requirements(share)
    if reqs["continuously_available"] is False:
        return "share_not_ca", f"share {share.name} lacks the continuously-available property", []
    failed = [r for r, ok in reqs.items() if ok is False]
    if failed:
        return "share_not_ca_ready", f"share {share.name} fails {', '.join(failed)}", failed
    if opened is None:
        files = c.side.files
        if files is not None and files.virtual_disks_truncated:
            return "input_truncated", "more virtual-disk files are open than the exporter keeps", []
        return "file_not_open", "the VM runs but ONTAP lists no open handle on this disk file", []
    if session is None:
        sessions = c.side.sessions
        if sessions is not None and sessions.machine_sessions_truncated:
            return "input_truncated", "more machine-account sessions exist than the exporter keeps", []
        return "session_unknown", f"no session of {d.host}$ to {d.svm} is known", []
    if session.protocol not in checks.SMB3:
        return (
            "session_not_smb3",
            f"the session of {session.user} uses {session.protocol}: only SMB 3 has CA handles",
            [],
        )
    if opened.continuously_available == "no":
        return "file_not_ca", "the disk is open without a persistent (CA) handle: opened before CA was enabled", []
    # "partial" only says the session mixes CA and non-CA handles: this file's own flag (yes here)
    # decides. "no" (unavailable) means no handle of the session is persistent.
    if session.continuous_availability == "no" or (
        opened.continuously_available == "unknown" and session.continuous_availability == "partial"
    ):
        return (
            "session_not_ca",
            f"the session of {session.user} has continuous availability {session.continuous_availability}",
            [],
        )
    return "none", "", []


def _session(c: _Cluster, hv: HyperVInputs, svm: str, opened: VirtualDiskOpen | None) -> MachineSession | None:
    """The session the file is open on; else the host's worst session to the SVM: those of its
    machine account (``DOMAIN\\HOST$``) and those coming from its addresses (another account
    name, e.g. after a rename, still connects from the host)."""
    if opened is not None:
        s = c.sessions.get((opened.node, svm, opened.session))
        if s is not None:
            return s
    candidates = list(c.host_sessions.get((svm, hv.host.lower()), []))
    for address in hv.addresses:
        candidates += [s for s in c.client_sessions.get((svm, address), []) if s not in candidates]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (s.protocol in checks.SMB3, s.continuous_availability == "yes"))


def _lif_move(
    d: _Draft, c: _Cluster, share: ShareFact, opened: VirtualDiskOpen | None, session: MachineSession | None
) -> None:
    """A LIF revert/migrate moves the connection, not the aggregate: only the CA rules decide."""
    if session is None:
        return
    lif = c.lifs_by_address.get((d.svm, session.server_ip))
    if lif is None or lif.is_home is not False:
        return
    reason: Reason
    if not d.running:
        reason = "vm_not_running"
    elif c.problem is not None:
        reason = c.problem[0]
    else:
        reason = _ca_chain(d, c, share, opened, session)[0]
    d.lif, d.lif_move_survives, d.lif_move_reason = lif.name, VERDICT_OF[reason], reason


def _impact(verdicts: Iterable[DiskVerdict]) -> _Counts:
    """Per (cluster, node): distinct running VMs that would stop, Exchange guests among them, and
    VMs whose fate is unknown (not counted when another disk already stops them)."""
    stop: dict[tuple[str, str], set[tuple[str, str]]] = {}
    exchange: dict[tuple[str, str], set[tuple[str, str]]] = {}
    unknown: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for d in verdicts:
        if not d.node:
            continue
        vm = (d.hyperv_target, d.vm)
        for node, survives in [(o.node, o.survives) for o in d.owners] or [(d.node, d.survives)]:
            key = (d.cluster, node)
            if survives == "no":
                stop.setdefault(key, set()).add(vm)
                if d.exchange:
                    exchange.setdefault(key, set()).add(vm)
            elif survives == "unknown":
                unknown.setdefault(key, set()).add(vm)
    return {
        key: (len(stop.get(key, ())), len(exchange.get(key, ())), len(unknown.get(key, set()) - stop.get(key, set())))
        for key in stop.keys() | unknown.keys()
    }


def _node_impacts(clusters: Iterable[_Cluster], impacts: Iterable[_Counts]) -> list[NodeImpact]:
    """``impacts``: counts over disjoint sets of VMs (per host, or one for all), summed here."""
    total: dict[tuple[str, str], list[int]] = {}
    for counts in impacts:
        for key, (stops, exchanges, unknowns) in counts.items():
            t = total.setdefault(key, [0, 0, 0])
            t[0] += stops
            t[1] += exchanges
            t[2] += unknowns
    out = []
    for c in clusters:
        if c.side.nodes is None:
            continue
        for n in c.side.nodes.nodes:
            stops, exchanges, unknowns = total.get((c.side.cluster, n.name), (0, 0, 0))
            ready = c.readiness.get(n.name)
            out.append(
                NodeImpact(
                    cluster=c.side.cluster,
                    node=n.name,
                    partner=ready.partner if ready is not None else "",
                    vms_stop=stops,
                    exchange_vms_stop=exchanges,
                    vms_unknown=unknowns,
                )
            )
    return out


def _inputs(ontap: Sequence[OntapInputs], hyperv: Sequence[HyperVInputs]) -> list[InputStatus]:
    out = []
    for o in ontap:
        detail = "; ".join([*(f"no data: {m}" for m in o.missing), *(f"stale: {s}" for s in o.stale)])
        out.append(InputStatus(o.cluster, "ontap", not detail, detail))
    for h in hyperv:
        detail = "; ".join([*(f"no data: {m}" for m in h.missing), *(f"stale: {s}" for s in h.stale)])
        out.append(InputStatus(h.target, "hyperv", not detail, detail))
    return out
