"""Typed, immutable ONTAP facts: what each collector learned, free of wire details.

One fragment type per collector. Open files and sessions are aggregated into counts while the
pages stream in (a 100k-file cluster becomes a few hundred count keys, never 100k objects).
Values ONTAP did not tell us are ``None``: a check must say "unknown", never guess.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from itertools import accumulate
from typing import TypeVar, overload

# ---------------------------------------------------------------------------------------------
# Cluster


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    name: str
    uuid: str
    version: tuple[int, int, int]  # (generation, major, minor), e.g. (9, 14, 1)
    version_full: str

    @property
    def version_text(self) -> str:
        return ".".join(str(p) for p in self.version)

    def at_least(self, major: int, minor: int = 0) -> bool:
        """True when the cluster runs ONTAP 9.<major>.<minor> or later."""
        return self.version >= (9, major, minor)


# ---------------------------------------------------------------------------------------------
# health: system health status / subsystem / alert / config (private CLI passthrough)


@dataclass(frozen=True, slots=True)
class Subsystem:
    name: str  # normalised: "cifs_ndo", "ha_health", ...
    health: str  # ok | ok_with_suppressed | degraded | unreachable | unknown
    init_state: str  # normalised, e.g. "initialized", "initializing"
    outstanding_alerts: int | None
    suppressed_alerts: int | None

    @property
    def initialized(self) -> bool:
        return self.init_state in ("initialized", "discovery_done")


@dataclass(frozen=True, slots=True)
class HealthAlert:
    node: str
    monitor: str
    alert_id: str
    alerting_resource: str
    subsystem: str
    perceived_severity: str  # normalised lower case: major, minor, critical, ...
    probable_cause: str
    description: str
    corrective_action: str
    possible_effect: str
    indication_time: str
    acknowledged: bool
    suppressed: bool


@dataclass(frozen=True, slots=True)
class HealthMonitor:
    node: str
    monitor: str
    subsystems: tuple[str, ...]
    health: str
    init_state: str

    @property
    def initialized(self) -> bool:
        return self.init_state in ("initialized", "discovery_done", "")


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """One row of `system health policy definition show`: a rule that raises an alert when true."""

    node: str
    monitor: str  # normalised, e.g. "node_connect"
    policy: str  # the policy identifier (``-policy-id``)
    alert_id: str  # the alert the policy raises, e.g. "HaNotReadyCifsNdo_Alert"
    enabled: bool | None  # ``-enable`` (Policy Status)


# The separately fetched parts of the health view; one failing costs only its own series.
HEALTH_PARTS = ("status", "subsystem", "alert", "config", "policy")


@dataclass(frozen=True)
class HealthFacts:
    cluster: ClusterInfo
    status: str  # overall system health: ok | ok_with_suppressed | degraded | unreachable | unknown
    subsystems: tuple[Subsystem, ...]
    alerts: tuple[HealthAlert, ...]
    monitors: tuple[HealthMonitor, ...]
    policies: tuple[HealthPolicy, ...] = ()
    # part (one of HEALTH_PARTS) -> why it could not be read; its tuple above is then empty.
    failed: tuple[tuple[str, str], ...] = ()

    def known(self, part: str) -> bool:
        return all(p != part for p, _ in self.failed)


# ---------------------------------------------------------------------------------------------
# nodes: cluster nodes with HA state, aggregates and their owners


@dataclass(frozen=True, slots=True)
class HaState:
    enabled: bool | None
    partners: tuple[str, ...]
    auto_giveback: bool | None
    takeover_state: str | None  # not_possible | not_attempted | in_takeover | in_progress | failed
    giveback_state: str | None
    interconnect_state: str | None  # up | down; None before ONTAP 9.11
    takeover_possible: bool | None  # ha.takeover_check (9.14+); None when not reported
    takeover_reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NodeFact:
    name: str
    uuid: str
    state: str | None  # up | booting | down | taken_over | waiting_for_giveback | degraded | unknown
    membership: str | None
    ha: HaState


@dataclass(frozen=True, slots=True)
class AggregateFact:
    name: str
    node: str  # current owner
    home_node: str
    state: str | None


@dataclass(frozen=True)
class NodesFacts:
    cluster: ClusterInfo
    nodes: tuple[NodeFact, ...]
    aggregates: tuple[AggregateFact, ...]

    def node(self, name: str) -> NodeFact | None:
        return next((n for n in self.nodes if n.name == name), None)


# ---------------------------------------------------------------------------------------------
# lifs: SVM data LIFs, ethernet ports, CIFS servers


@dataclass(frozen=True, slots=True)
class LifFact:
    svm: str
    name: str
    address: str
    enabled: bool | None  # administrative state
    state: str | None  # operational state: up | down
    services: tuple[str, ...]
    home_node: str
    home_port: str
    node: str
    port: str
    is_home: bool | None
    auto_revert: bool | None

    @property
    def serves_cifs(self) -> bool:
        return "data_cifs" in self.services

    @property
    def usable(self) -> bool:
        """Enabled and operationally up: could carry SMB clients right now."""
        return self.enabled is not False and self.state == "up"


@dataclass(frozen=True, slots=True)
class PortFact:
    node: str
    name: str
    state: str | None  # up | down | degraded
    enabled: bool | None
    type: str | None


@dataclass(frozen=True, slots=True)
class CifsServerFact:
    svm: str
    name: str
    enabled: bool | None
    domain: str = ""  # ad_domain.fqdn: clients reach the server as name.domain too


@dataclass(frozen=True)
class LifsFacts:
    cluster: ClusterInfo
    lifs: tuple[LifFact, ...]  # SVM-scoped LIFs that serve data_cifs
    ports: tuple[PortFact, ...]
    cifs_servers: tuple[CifsServerFact, ...]

    def port(self, node: str, name: str) -> PortFact | None:
        return next((p for p in self.ports if p.node == node and p.name == name), None)


# ---------------------------------------------------------------------------------------------
# shares


@dataclass(frozen=True, slots=True)
class ShareFact:
    svm: str
    name: str
    volume: str
    path: str
    continuously_available: bool | None
    oplocks: bool | None
    home_directory: bool | None
    attribute_cache: bool | None
    branchcache: bool | None
    access_based_enumeration: bool | None
    offline_files: str | None  # none | manual | documents | programs
    unix_symlink: str | None  # local | widelink | disable


@dataclass(frozen=True)
class SharesFacts:
    cluster: ClusterInfo
    shares: tuple[ShareFact, ...]
    cli_properties_available: bool  # private CLI answered: BranchCache is known
    cli_error: str  # why not, when it did not


# ---------------------------------------------------------------------------------------------
# sessions and open files: counts by low-cardinality keys

# (node, svm, protocol, continuously_available, authentication)
SessionKey = tuple[str, str, str, str, str]
# (node, svm, volume, protocol, continuously_available)
VolumeSessionKey = tuple[str, str, str, str, str]
# (node, svm, protocol, continuously_available, volumes the session uses): lets a check count
# sessions (not session x volume pairs) that touch a given set of volumes. Not exported.
SessionVolumesKey = tuple[str, str, str, str, tuple[str, ...]]
# (node, svm, client_ip, user, protocol, continuously_available)
ClientSessionKey = tuple[str, str, str, str, str, str]


# Upper bounds of the per-item maps kept for the takeover join: past them the map is marked
# truncated and the join says "unknown" for what it cannot see, instead of growing without limit.
MAX_MACHINE_SESSIONS = 50_000
MAX_VIRTUAL_DISK_FILES = 200_000


@dataclass(frozen=True, slots=True)
class MachineSession:
    """One SMB session of a computer account (``DOMAIN\\HOST$``): how a Hyper-V host reaches its disks."""

    node: str
    svm: str
    identifier: str
    user: str  # as ONTAP reports it, e.g. CORP\HV01$
    client_ip: str
    server_ip: str  # the LIF address the session rides
    protocol: str  # smb1 | smb2 | smb2_1 | smb3 | smb3_1 | ...
    continuous_availability: str  # yes | partial | no | unknown


@dataclass(frozen=True)
class SessionsFacts:
    cluster: ClusterInfo
    counts: tuple[tuple[SessionKey, int], ...]
    by_volume: tuple[tuple[VolumeSessionKey, int], ...]
    by_volume_set: tuple[tuple[SessionVolumesKey, int], ...]
    clients: tuple[tuple[ClientSessionKey, int], ...] | None  # only with client detail on
    total: int
    # The same two views restricted to sessions that hold open files (``open_files`` > 0, or not
    # reported). An idle session reports continuous availability ``unavailable`` because it has no
    # CA handle (ontap-semantics.md); only sessions holding files are judged. None: not collected.
    by_volume_set_with_files: tuple[tuple[SessionVolumesKey, int], ...] | None = None
    by_volume_with_files: tuple[tuple[VolumeSessionKey, int], ...] = ()
    # Sessions of computer accounts only (bounded by MAX_MACHINE_SESSIONS), for the takeover join.
    machine_sessions: tuple[MachineSession, ...] = ()
    machine_sessions_truncated: bool = False


# (node, svm, volume, share, continuously_available)
FileKey = tuple[str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class VolumeFact:
    svm: str
    name: str
    aggregates: tuple[str, ...]
    style: str | None


VIRTUAL_DISK_SUFFIXES = (".vhdx", ".vhd", ".avhdx", ".avhd", ".vhds")


@dataclass(frozen=True, slots=True)
class VirtualDiskOpen:
    """An open virtual-disk file (.vhd/.vhdx/.avhdx/.vhds): the only files kept by path."""

    svm: str
    share: str
    path: str  # as ONTAP reports it: relative to the share root
    node: str  # the node whose LIF carries the session
    continuously_available: str  # yes | no | unknown
    session: str  # the session's identifier (SessionsFacts.machine_sessions)


def _virtual_disk_open_factory() -> Callable[[str, str, str, str, str, str], VirtualDiskOpen]:
    """``VirtualDiskOpen(...)`` at a third of the cost, for ``OpenDisks.disk``: the join makes a
    record for each Hyper-V disk it looks up (10k at estate scale on a first run). A frozen
    dataclass's ``__init__`` sets each field through ``object.__setattr__`` by name; this sets the
    same slots through their descriptors. Same object, equal to the one ``__init__`` makes
    (tests/unit/test_ontap_files_fold.py)."""
    new = object.__new__
    # In field order; a seventh field would make this unpack fail at import, not leave a slot unset.
    svm, share, path, node, ca, session = (VirtualDiskOpen.__dict__[f.name].__set__ for f in fields(VirtualDiskOpen))

    def make(a: str, b: str, c: str, d: str, e: str, f: str) -> VirtualDiskOpen:
        disk = new(VirtualDiskOpen)
        svm(disk, a)
        share(disk, b)
        path(disk, c)
        node(disk, d)
        ca(disk, e)
        session(disk, f)
        return disk

    return make


virtual_disk_open = _virtual_disk_open_factory()

_Row = TypeVar("_Row")

# (svm, share, node, continuously_available): what many open disks of a cluster have in common.
DiskGroup = tuple[str, str, str, str]


def _renumber(table: Sequence[_Row], indexes: array[int]) -> tuple[tuple[_Row, ...], array[int]]:
    """``table`` and ``indexes`` with the table in order of first use by ``indexes``, unused rows dropped."""
    order: dict[int, int] = {}
    renumbered = array("I", [order.setdefault(i, len(order)) for i in indexes])
    return tuple(table[i] for i in order), renumbered


def _rows(indexes: array[int], rows: int) -> array[int]:
    """``indexes`` in two bytes each when the table is that small (a cluster's groups always are)."""
    return array("H" if rows <= 0x10000 else "I", indexes.tolist())


def _numbers(ids: tuple[str, ...]) -> tuple[str, ...] | array[int]:
    """Session ids as 8-byte numbers when each is one written the way ``str`` writes it (ONTAP's
    are 19-digit numbers: 68 bytes each as strings); ``str`` of the number gives the id back."""
    if not all(i.isascii() and i.isdigit() and (i[0] != "0" or i == "0") and len(i) <= 20 for i in ids):
        return ids
    try:
        return array("Q", map(int, ids))
    except OverflowError:
        return ids


class OpenDisks(Sequence[VirtualDiskOpen]):
    """A cluster's open virtual disks kept for the takeover join, compactly (issue 16, P4).

    50k ``VirtualDiskOpen`` objects a big cluster were 8.9 MB kept from one cycle to the next (an
    object, its tuple slot and its path string each); here the paths are one string with an
    offsets array, and each disk's (svm, share, node, CA) group and session id are indexes into
    small tables (session ids as numbers): about its path's text plus 8 bytes a disk. Read as a
    sequence of ``VirtualDiskOpen`` (made on demand); the join reads positions by share
    (``by_share``) and makes a record only for a disk it looks up.

    Immutable; equal and hashed by value, cheaply: the tables are numbered in order of first use,
    so equal sequences have equal arrays and strings, compared in C (the join compares each
    cycle's disks with the previous cycle's)."""

    __slots__ = ("__weakref__", "_group", "_groups", "_offsets", "_paths", "_session", "_sessions")

    _groups: tuple[DiskGroup, ...]
    _sessions: tuple[str, ...] | array[int]  # as numbers when all are (ONTAP's are: 19 digits)

    def __init__(
        self,
        groups: Sequence[DiskGroup],
        group: array[int],
        sessions: Sequence[str],
        session: array[int],
        paths: Iterable[str],
        *,
        numbered: bool = False,
    ) -> None:
        """``group[i]``/``session[i]``: disk i's rows of ``groups``/``sessions``; ``paths``: in disk
        order. ``numbered``: the rows are already distinct, in order of first use, and all used
        (what a builder that only appends makes); otherwise they are renumbered so."""
        paths = list(paths)
        if not len(group) == len(session) == len(paths):
            raise ValueError("open disks: one group, session and path a disk")
        if numbered:
            self._groups, self._group = tuple(groups), _rows(group, len(groups))
            self._sessions, self._session = _numbers(tuple(sessions)), _rows(session, len(sessions))
        else:
            self._groups, g = _renumber(groups, group)
            s, self._session = _renumber(sessions, session)
            self._group, self._session = _rows(g, len(self._groups)), _rows(self._session, len(s))
            self._sessions = _numbers(s)
        self._paths = "".join(paths)
        offsets = list(accumulate(map(len, paths), initial=0))
        self._offsets = array("I" if offsets[-1] <= 0xFFFFFFFF else "Q", offsets)

    @classmethod
    def of(cls, disks: Iterable[VirtualDiskOpen]) -> OpenDisks:
        """The compact form of ``disks`` (tests, benches and anything else that has records)."""
        groups: dict[DiskGroup, int] = {}
        sessions: dict[str, int] = {}
        group, session, paths = array("I"), array("I"), []
        for d in disks:
            group.append(groups.setdefault((d.svm, d.share, d.node, d.continuously_available), len(groups)))
            session.append(sessions.setdefault(d.session, len(sessions)))
            paths.append(d.path)
        return cls(tuple(groups), group, tuple(sessions), session, paths, numbered=True)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, i: int) -> VirtualDiskOpen: ...

    @overload
    def __getitem__(self, i: slice) -> list[VirtualDiskOpen]: ...

    def __getitem__(self, i: int | slice) -> VirtualDiskOpen | list[VirtualDiskOpen]:
        if isinstance(i, slice):
            return [self.disk(j) for j in range(len(self))[i]]
        return self.disk(range(len(self))[i])

    def disk(self, i: int) -> VirtualDiskOpen:
        """The record at position ``i`` (0 <= i < len), made now."""
        svm, share, node, ca = self._groups[self._group[i]]
        return virtual_disk_open(svm, share, self.path(i), node, ca, str(self._sessions[self._session[i]]))

    def path(self, i: int) -> str:
        """The path of the disk at position ``i`` (0 <= i < len), as ONTAP reported it."""
        offsets = self._offsets
        return self._paths[offsets[i]:offsets[i + 1]]

    def __iter__(self) -> Iterator[VirtualDiskOpen]:
        # Tests and benches iterate; the join looks disks up by position (by_share, disk).
        return map(self.disk, range(len(self)))

    def by_share(self) -> dict[tuple[str, str], list[int]]:
        """Positions by (svm, share lower-cased), ascending, for the shares that have open disks."""
        lists: dict[tuple[str, str], list[int]] = {}
        lowered: dict[str, str] = {}
        appends = []
        for svm, share, _node, _ca in self._groups:
            low = lowered.get(share)
            if low is None:
                low = lowered[share] = share.lower()
            appends.append(lists.setdefault((svm, low), []).append)
        for i, g in enumerate(self._group):
            appends[g](i)
        return lists

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, OpenDisks):
            return NotImplemented
        return (
            self._paths == other._paths and self._offsets == other._offsets
            and self._group == other._group and self._session == other._session
            and self._groups == other._groups and self._sessions == other._sessions
        )

    def __hash__(self) -> int:
        return hash((len(self._offsets), self._paths))

    def __repr__(self) -> str:
        return f"OpenDisks({len(self)} disks)"


NO_OPEN_DISKS = OpenDisks((), array("I"), (), array("I"), (), numbered=True)


@dataclass(frozen=True)
class FilesFacts:
    cluster: ClusterInfo
    counts: tuple[tuple[FileKey, int], ...]
    reconnected: tuple[tuple[FileKey, int], ...]
    reconnected_known: bool
    reconnected_error: str
    volumes: tuple[VolumeFact, ...]
    total: int
    # Open virtual-disk files (bounded by MAX_VIRTUAL_DISK_FILES) and every volume's aggregates
    # (not only those with open files: a stopped VM's disk still has an owning node).
    virtual_disks: OpenDisks = NO_OPEN_DISKS
    virtual_disks_truncated: bool = False
    all_volumes: tuple[VolumeFact, ...] = ()
