"""The six ONTAP collectors: (client, deadline) -> one facts fragment each.

Each asks only for the fields its parser reads, pages with ``max_records``, checks the cluster
version once (cached by the client) and raises ``UnsupportedError`` instead of sending a request
the version cannot answer. Sessions and open files are folded into counts page by page.
"""

from __future__ import annotations

import logging
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import compress, repeat
from operator import attrgetter, ne
from typing import Any, TypeVar

from collectors.declare import Declarations
from collectors.errors import CollectionError, UnsupportedError
from collectors.ontap import checks, parse, walker, walks, wire
from collectors.ontap import endpoints as ep
from collectors.ontap.client import OntapClient
from collectors.ontap.facts import (
    HEALTH_PARTS,
    MAX_MACHINE_SESSIONS,
    MAX_VIRTUAL_DISK_FILES,
    NO_OPEN_DISKS,
    VIRTUAL_DISK_SUFFIXES,
    ClientSessionKey,
    ClusterInfo,
    DiskGroup,
    FileKey,
    FilesFacts,
    HealthFacts,
    LifsFacts,
    MachineSession,
    NodesFacts,
    OpenDisks,
    SessionKey,
    SessionsFacts,
    SessionVolumesKey,
    SharesFacts,
    VolumeSessionKey,
)
from collectors.ontap.options import DEFAULT_SESSIONS, SessionsOptions
from collectors.ontap.parse import MalformedRecord, norm

log = logging.getLogger(__name__)
T = TypeVar("T")

# The six collectors, each declared on its collect function below (collectors/declare.py).
COLLECTORS = Declarations()

# Last characters of VIRTUAL_DISK_SUFFIXES, both cases: a cheap first test on 100k paths.
_DISK_LAST_CHARS = frozenset("xXdDsS")

# Session CA levels and file CA flags share one label vocabulary: yes | partial | no.
_SESSION_CA = {"available": "yes", "partial": "partial", "unavailable": "no"}


class _Interner(dict[str, str]):
    """One copy of each repeated string (node, SVM, share, volume names) per collection.

    The parser makes a new string object for every value of every record; kept as they come, the
    names in 50,000 retained disks or 6,000 counter keys cost ~50 bytes each again and again."""

    def __call__(self, value: str) -> str:
        return self.setdefault(value, value)

    def each(self, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.setdefault(v, v) for v in values)


def _pages(
    client: OntapClient,
    endpoint: ep.Endpoint,
    cluster: ClusterInfo,
    deadline: float,
    fields: tuple[str, ...] | None = None,
    typed: wire.TypedDecoder | None = None,
) -> Iterator[list[Any]]:
    """The walk's non-empty pages; with ``typed``, well-formed ones as typed records (wire.py)."""
    if not endpoint.supported(cluster):
        raise UnsupportedError(
            f"{endpoint.path} needs ONTAP {endpoint.describe_since()} or later; "
            f"cluster {cluster.name} runs {cluster.version_text}"
        )
    fields = fields or endpoint.fields_for(cluster)
    pages = client.pages(endpoint.path, fields, deadline, dict(endpoint.query), typed=typed)
    yield from walks.GATE.pages(pages, deadline, f"GET {endpoint.path}")  # big walks: a few at once


def _records(
    client: OntapClient,
    endpoint: ep.Endpoint,
    cluster: ClusterInfo,
    deadline: float,
    fields: tuple[str, ...] | None = None,
) -> Iterator[dict[str, Any]]:
    for page in _pages(client, endpoint, cluster, deadline, fields):
        yield from page


def _parse_all(records: Iterator[dict[str, Any]], parser: Callable[[dict[str, Any]], T], path: str) -> tuple[T, ...]:
    out = []
    for index, record in enumerate(records):
        out.append(_parse_one(parser, record, path, index))
    return tuple(out)


def _parse_one(parser: Callable[[dict[str, Any]], T], record: Any, path: str, index: int) -> T:
    if not isinstance(record, dict):
        raise CollectionError("malformed", f"{path}: record {index} is not an object")
    try:
        return parser(record)
    except MalformedRecord as exc:
        raise CollectionError("malformed", f"{path}: record {index}: {exc}") from None


# ---------------------------------------------------------------------------------------------


@COLLECTORS.collector(
    "health",
    every=60.0,
    help="ONTAP system health: overall status, subsystems (CIFS-NDO), monitors and active alerts",
    produces=HealthFacts,
    render="exporter.render.ontap:render_health",
    assess=checks.assess_health,
)
def collect_health(client: OntapClient, deadline: float) -> HealthFacts:
    """ONTAP's own CIFS-NDO view: five private-CLI requests, each on its own.

    A failing request (a role without one command, a 500 from one table) leaves only its own part
    empty and recorded in ``failed``; the others still report. Only when every part fails does
    the collection fail, with the first error (the target is then down for health, as before).
    """
    cluster = client.cluster(deadline)
    failed: list[tuple[str, str]] = []
    first_error: CollectionError | None = None

    def part(name: str, read: Callable[[], tuple[T, ...]]) -> tuple[T, ...]:
        nonlocal first_error
        try:
            return read()
        except CollectionError as exc:
            if exc.reason == "timeout":  # the deadline is shared: nothing after this would answer
                raise
            failed.append((name, f"{exc.reason}: {exc}"))
            first_error = first_error or exc
            log.info("target %s: health %s unavailable: %s", client.settings.name, name, exc)
            return ()

    def read(endpoint: ep.Endpoint, parser: Callable[[dict[str, Any]], T]) -> Callable[[], tuple[T, ...]]:
        return lambda: _parse_all(_records(client, endpoint, cluster, deadline), parser, endpoint.path)

    status_rows = part("status", lambda: tuple(_records(client, ep.HEALTH_STATUS, cluster, deadline)))
    subsystems = part("subsystem", read(ep.HEALTH_SUBSYSTEM, parse.subsystem))
    alerts = part("alert", read(ep.HEALTH_ALERT, parse.health_alert))
    monitors = part("config", read(ep.HEALTH_CONFIG, parse.health_monitor))
    policies = part("policy", read(ep.HEALTH_POLICY, parse.health_policy))
    if first_error is not None and len(failed) == len(HEALTH_PARTS):
        raise first_error
    status = norm(status_rows[0].get("status")) if status_rows and isinstance(status_rows[0], dict) else ""
    return HealthFacts(
        cluster=cluster,
        status=status or "unknown",
        subsystems=subsystems,
        alerts=alerts,
        monitors=monitors,
        policies=policies,
        failed=tuple(failed),
    )


@COLLECTORS.collector(
    "nodes",
    every=60.0,
    help="nodes, HA/storage-failover state and aggregate ownership",
    produces=NodesFacts,
    render="exporter.render.ontap:render_nodes",
    assess=checks.assess_nodes,
)
def collect_nodes(client: OntapClient, deadline: float) -> NodesFacts:
    cluster = client.cluster(deadline)
    return NodesFacts(
        cluster=cluster,
        nodes=_parse_all(_records(client, ep.NODES, cluster, deadline), parse.node, ep.NODES.path),
        aggregates=_parse_all(_records(client, ep.AGGREGATES, cluster, deadline), parse.aggregate, ep.AGGREGATES.path),
    )


@COLLECTORS.collector(
    "lifs",
    every=60.0,
    help="SMB data LIFs (home/current placement, state), their ports and CIFS servers",
    produces=LifsFacts,
    render="exporter.render.ontap:render_lifs",
)
def collect_lifs(client: OntapClient, deadline: float) -> LifsFacts:
    cluster = client.cluster(deadline)
    lifs = _parse_all(_records(client, ep.LIFS, cluster, deadline), parse.lif, ep.LIFS.path)
    return LifsFacts(
        cluster=cluster,
        # Only LIFs that can carry SMB matter to CIFS-NDO; intercluster/mgmt LIFs are left out.
        lifs=tuple(lif for lif in lifs if lif.serves_cifs),
        ports=_parse_all(_records(client, ep.PORTS, cluster, deadline), parse.port, ep.PORTS.path),
        cifs_servers=_parse_all(
            _records(client, ep.CIFS_SERVICES, cluster, deadline), parse.cifs_server, ep.CIFS_SERVICES.path
        ),
    )


@COLLECTORS.collector(
    "shares",
    # share properties change rarely; the private CLI call is the costly one
    every=300.0,
    help="SMB share properties against the continuous-availability rules",
    produces=SharesFacts,
    render="exporter.render.ontap:render_shares",
    assess=checks.assess_shares,
)
def collect_shares(client: OntapClient, deadline: float) -> SharesFacts:
    cluster = client.cluster(deadline)
    cli_rows: dict[tuple[str, str], dict[str, Any]] | None = None
    cli_error = ""
    try:
        cli_rows = {}
        for row in _records(client, ep.SHARES_CLI, cluster, deadline):
            cli_rows[(str(row.get("vserver", "")), str(row.get("share_name", "")))] = row
    except CollectionError as exc:
        # A role without the private CLI still gets every native property; only BranchCache
        # becomes unknown. Timeouts and auth failures are not that: let them fail the collection.
        if exc.reason not in ("forbidden", "http_status"):
            raise
        cli_rows, cli_error = None, str(exc)
        log.info("target %s: share properties via private CLI unavailable: %s", client.settings.name, exc)

    def parse_share(r: dict[str, Any]) -> Any:
        key = (parse.text(r, "svm.name"), parse.text(r, "name"))
        return parse.share(r, None if cli_rows is None else cli_rows.get(key, {}))

    shares = _parse_all(_records(client, ep.SHARES, cluster, deadline), parse_share, ep.SHARES.path)
    return SharesFacts(
        cluster=cluster,
        shares=shares,
        cli_properties_available=cli_rows is not None,
        cli_error=cli_error,
    )


# A session's counted facts: (node, svm, protocol, ca, authentication) and its volume names.
_SessionCombo = tuple[tuple[str, str, str, str, str], tuple[str, ...]]


class _SessionEntry:
    """One combination of a session's counted facts, and how many sessions (with files) had it."""

    __slots__ = ("auth", "ca", "count", "node", "protocol", "svm", "volume_set", "volumes", "with_files")

    def __init__(self, key: _SessionCombo, volume_set: tuple[str, ...]) -> None:
        (self.node, self.svm, self.protocol, self.ca, self.auth), self.volumes = key
        self.volume_set = volume_set
        self.count = self.with_files = 0


def _session_key(
    r: dict[str, Any],
    index: int,
    heads: dict[Any, tuple[str, str, str, str, str]],
    volume_lists: dict[Any, tuple[str, ...]],
    keep: _Interner,
) -> _SessionCombo:
    """A session record's counted facts read field by field: the key, or the error of a malformed
    record in the order the fields were always read. Its two halves are then remembered by their
    values as sent, when the direct read can trust them again: string names and volume names,
    string or null enums (never a number or boolean: ``1 == True`` as a dict key)."""
    try:
        head = (
            keep(parse.name_of(r, "node")),
            keep(parse.name_of(r, "svm")),
            norm(r.get("protocol")) or "unknown",
            _SESSION_CA.get(norm(r.get("continuous_availability")), "unknown"),
            norm(r.get("authentication")) or "unknown",
        )
        volumes = keep.each(parse.names(r.get("volumes"), "volumes"))
    except MalformedRecord as exc:
        raise CollectionError("malformed", f"{ep.SESSIONS.path}: record {index}: {exc}") from None
    try:
        raw_head = (r["node"]["name"], r["svm"]["name"], r.get("protocol"), r.get("continuous_availability"),
                    r.get("authentication"))
        if raw_head[0].__class__ is raw_head[1].__class__ is str and all(
            v is None or v.__class__ is str for v in raw_head[2:]
        ):
            head = heads.setdefault(raw_head, head)
    except (KeyError, TypeError, AttributeError):
        pass  # an absent or null object: read this way every time
    try:
        vols = r.get("volumes")
        raw_volumes = () if vols is None else tuple([v["name"] for v in vols])
        if all(v.__class__ is str for v in raw_volumes):
            volumes = volume_lists.setdefault(raw_volumes, volumes)
    except (KeyError, TypeError, AttributeError):
        pass  # a volume without a name, not a list: read this way every time
    return head, volumes


# A typed session's counted facts as sent (names, enums, volume references): a page's keys are
# read in C; the first of each combination goes through the strict readers.
_TYPED_SESSION_RAW = attrgetter("node.name", "svm.name", "protocol", "continuous_availability", "authentication",
                                "volumes")
_TYPED_OPEN_FILES = attrgetter("open_files")


class _SessionsFold:
    """The sessions fold across the pages of one walk.

    20k sessions a cycle repeat a few hundred combinations of node, SVM, protocol, CA level,
    authentication and volumes. A well-formed page (typed records, collectors/ontap/wire.py) is
    counted per distinct combination in C; any other page (dicts) record by record, each looked
    up by its values as sent (one dict lookup). Either way the first record of each combination is
    read field by field (its key, or the error), and the counters are expanded from the
    combinations at the end (tests/unit/test_ontap_sessions_fold.py)."""

    def __init__(self, detail: bool) -> None:
        self.detail = detail
        self.total = 0
        self.machines: list[MachineSession] = []
        self.machines_truncated = False
        self.clients: Counter[ClientSessionKey] = Counter()
        self.heads: dict[Any, tuple[str, str, str, str, str]] = {}
        self.volume_lists: dict[Any, tuple[str, ...]] = {}
        self.by_key: dict[_SessionCombo, _SessionEntry] = {}
        self.by_typed: dict[Any, _SessionEntry] = {}
        self.typed_volumes: dict[tuple[wire.Name, ...] | None, tuple[str, ...]] = {}
        self.volume_sets: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.keep = _Interner()

    def _entry(self, key: _SessionCombo) -> _SessionEntry:
        entry = self.by_key.get(key)
        if entry is None:
            # Sessions repeat a few volume lists: sort and dedupe each distinct list once.
            volume_set = self.volume_sets.get(key[1])
            if volume_set is None:
                volume_set = tuple(sorted(set(key[1])))  # one tuple per set, however it was listed
                volume_set = self.volume_sets[key[1]] = self.volume_sets.setdefault(volume_set, volume_set)
            entry = self.by_key[key] = _SessionEntry(key, volume_set)
        return entry

    def add_typed(self, records: list[wire.Session]) -> None:
        """A well-formed page: nothing in it can be malformed (wire.Session's types are what the
        strict readers accept), so no record needs its index."""
        keys = list(map(_TYPED_SESSION_RAW, records))
        by_typed, heads, typed_volumes, keep = self.by_typed, self.heads, self.typed_volumes, self.keep
        for raw in dict.fromkeys(keys):
            if raw in by_typed:
                continue
            # A few hundred heads and a few thousand volume lists make ~6,000 combinations in 20k
            # sessions: each half is remembered on its own, by its values as sent. A typed name or
            # enum is a string or null and a volume list holds references whose names are strings
            # or null (wire.Session), so the strict readers' answer for a new half is read directly
            # (name_of: null -> ""; names: a null name skipped), not through the record rebuilt as
            # dicts: with a new combination per three sessions that was the fold's largest cost
            # (bench/README.md, tenth round; tests/unit/test_ontap_sessions_fold.py).
            head = heads.get(raw[:5])
            if head is None:
                node, svm, protocol, ca, auth = raw[:5]
                head = heads[raw[:5]] = (
                    keep(node or ""), keep(svm or ""), norm(protocol) or "unknown",
                    _SESSION_CA.get(norm(ca), "unknown"), norm(auth) or "unknown",
                )
            refs = raw[5]
            volumes = typed_volumes.get(refs)
            if volumes is None:
                volumes = typed_volumes[refs] = (
                    () if refs is None else keep.each(tuple([v.name for v in refs if v.name is not None]))
                )
            by_typed[raw] = self._entry((head, volumes))
        for raw, n in Counter(keys).items():
            by_typed[raw].count += n
        # Sessions with open files: a count of 0 is the only "none" (null: not reported, judged).
        for raw, n in Counter(compress(keys, map(ne, map(_TYPED_OPEN_FILES, records), repeat(0)))).items():
            by_typed[raw].with_files += n
        if self.detail:
            for raw, r in zip(keys, records, strict=True):
                e = by_typed[raw]
                self.clients[(e.node, e.svm, r.client_ip or "", r.user or "", e.protocol, e.ca)] += 1
        # Computer accounts (DOMAIN\HOST$): kept one by one for the takeover join (see add_dicts).
        for raw, r in [(k, r) for k, r in zip(keys, records, strict=True) if (u := r.user) and u[-1] == "$"]:
            if len(self.machines) >= MAX_MACHINE_SESSIONS:
                self.machines_truncated = True
                break
            e = by_typed[raw]
            assert r.user is not None  # narrowed by the filter above
            self.machines.append(
                MachineSession(
                    node=e.node,
                    svm=e.svm,
                    identifier="" if r.identifier is None else str(r.identifier),
                    user=r.user,
                    client_ip=r.client_ip or "",
                    server_ip=r.server_ip or "",
                    protocol=e.protocol,
                    continuous_availability=e.ca,
                )
            )
        self.total += len(records)

    def add_dicts(self, records: list[Any]) -> None:
        heads, volume_lists, keep, detail = self.heads, self.volume_lists, self.keep, self.detail
        machines, clients = self.machines, self.clients
        for index, r in enumerate(records, self.total):
            try:
                vols = r.get("volumes")
                key = (heads[(r["node"]["name"], r["svm"]["name"], r.get("protocol"),
                              r.get("continuous_availability"), r.get("authentication"))],
                       volume_lists[() if vols is None else tuple([v["name"] for v in vols])])
            except (KeyError, TypeError, AttributeError):
                if not isinstance(r, dict):
                    raise CollectionError("malformed", f"{ep.SESSIONS.path}: record {index} is not an object") from None
                key = _session_key(r, index, heads, volume_lists, keep)
            entry = self.by_key.get(key) or self._entry(key)
            try:
                open_files = r.get("open_files")
                if open_files.__class__ is not int:
                    open_files = parse.to_int(open_files, "open_files")
                user = r.get("user")
                if detail:
                    clients[(entry.node, entry.svm, parse.text(r, "client_ip"), parse.text(r, "user"),
                             entry.protocol, entry.ca)] += 1
                # Computer accounts (DOMAIN\HOST$) are how Hyper-V hosts open VM files: keep those
                # sessions one by one (bounded) for the takeover join; people are only counted.
                if user.__class__ is str and user.endswith("$"):
                    if len(machines) < MAX_MACHINE_SESSIONS:
                        machines.append(
                            MachineSession(
                                node=entry.node,
                                svm=entry.svm,
                                identifier=parse.text(r, "identifier"),
                                user=user,
                                client_ip=parse.text(r, "client_ip"),
                                server_ip=parse.text(r, "server_ip"),
                                protocol=entry.protocol,
                                continuous_availability=entry.ca,
                            )
                        )
                    else:
                        self.machines_truncated = True
            except MalformedRecord as exc:
                raise CollectionError("malformed", f"{ep.SESSIONS.path}: record {index}: {exc}") from None
            entry.count += 1
            if open_files is None or open_files > 0:  # not reported: judged, as before
                entry.with_files += 1
        self.total += len(records)


@COLLECTORS.collector(
    "sessions",
    every=60.0,
    help="SMB sessions counted by node, SVM, protocol, CA level and authentication",
    produces=SessionsFacts,
    render="exporter.render.ontap:render_sessions",
    options=SessionsOptions,
)
def collect_sessions(
    client: OntapClient, deadline: float, options: SessionsOptions = DEFAULT_SESSIONS
) -> SessionsFacts:
    cluster = client.cluster(deadline)
    detail = options.client_detail
    base = ep.SESSIONS.fields_for(cluster)
    fields = base + tuple(f for f in ep.SESSION_JOIN_FIELDS if f not in base)
    # A big walk goes to a process of its own (collectors/ontap/walker.py).
    by_key, clients, machines, truncated, total = walker.POOL.walk(
        _fold_sessions, client, cluster, deadline, ep.SESSIONS.path, fields, detail
    )
    counts: Counter[SessionKey] = Counter()
    by_volume: Counter[VolumeSessionKey] = Counter()
    by_volume_set: Counter[SessionVolumesKey] = Counter()
    by_volume_set_files: Counter[SessionVolumesKey] = Counter()
    by_volume_files: Counter[VolumeSessionKey] = Counter()
    # The views share their key tuples (one object per distinct key, kept until the next cycle).
    keys: dict[Any, Any] = {}
    for e in by_key.values():
        node, svm, protocol, ca, n, with_files = e.node, e.svm, e.protocol, e.ca, e.count, e.with_files
        set_key = (node, svm, protocol, ca, e.volume_set)
        set_key = keys.setdefault(set_key, set_key)
        volume_keys = [keys.setdefault(k, k) for k in [(node, svm, vol, protocol, ca) for vol in e.volumes]]
        if n:
            counts[(node, svm, protocol, ca, e.auth)] += n
            for k in volume_keys:  # a volume listed twice counts twice, as it always did
                by_volume[k] += n
            by_volume_set[set_key] += n
        if with_files:
            by_volume_set_files[set_key] += with_files
            for k in volume_keys:
                by_volume_files[k] += with_files
    return SessionsFacts(
        cluster=cluster,
        counts=tuple(sorted(counts.items())),
        by_volume=tuple(sorted(by_volume.items())),
        by_volume_set=tuple(sorted(by_volume_set.items())),
        clients=tuple(sorted(clients.items())) if detail else None,
        total=total,
        by_volume_set_with_files=tuple(sorted(by_volume_set_files.items())),
        by_volume_with_files=tuple(sorted(by_volume_files.items())),
        machine_sessions=tuple(machines),
        machine_sessions_truncated=truncated,
    )


def _fold_sessions(
    client: OntapClient, cluster: ClusterInfo, deadline: float, fields: tuple[str, ...], detail: bool
) -> tuple[dict[_SessionCombo, _SessionEntry], Counter[ClientSessionKey], list[MachineSession], bool, int]:
    """The sessions walk and its fold, where they run (here or in a walk process): what
    ``collect_sessions`` reads of the fold, not its caches of raw values."""
    fold = _SessionsFold(detail)
    for page in _pages(client, ep.SESSIONS, cluster, deadline, fields, typed=wire.SESSIONS_PAGE):
        if page and page[0].__class__ is wire.Session:
            fold.add_typed(page)
        else:
            fold.add_dicts(page)
    return fold.by_key, fold.clients, fold.machines, fold.machines_truncated, fold.total


@COLLECTORS.collector(
    "files",
    every=60.0,
    help="open SMB files counted by node, SVM, volume, share, CA and reconnected state",
    produces=FilesFacts,
    render="exporter.render.ontap:render_files",
)
def collect_files(client: OntapClient, deadline: float) -> FilesFacts:
    cluster = client.cluster(deadline)
    disks = NO_OPEN_DISKS
    if ep.OPEN_FILES.supported(cluster):
        counts, total, disks_truncated, disks = _native_file_counts(client, cluster, deadline)
        reconnected, reconnected_known, reconnected_error = _reconnected_via_cli(client, cluster, deadline)
    else:
        # 9.8-9.10: no native open-files endpoint; the CLI table has the same facts and more.
        counts, reconnected, total, reconnected_known, reconnected_error = _cli_file_counts(
            client, cluster, deadline
        )
        # The CLI walk keeps no paths: the takeover join must say "unknown", never "not open".
        disks_truncated = True

    # Only volumes that hold open files are needed for the volume -> aggregate -> node mapping,
    # but ONTAP cannot filter on "has open files": ask for all, keep the ones we need.
    wanted = {(k[1], k[2]) for k in counts}
    all_volumes = _parse_all(_records(client, ep.VOLUMES, cluster, deadline), parse.volume, ep.VOLUMES.path)
    volumes = tuple(v for v in all_volumes if (v.svm, v.name) in wanted)
    return FilesFacts(
        cluster=cluster,
        counts=tuple(sorted(counts.items())),
        reconnected=tuple(sorted(reconnected.items())),
        reconnected_known=reconnected_known,
        reconnected_error=reconnected_error,
        volumes=volumes,
        total=total,
        virtual_disks=disks,
        virtual_disks_truncated=disks_truncated,
        all_volumes=all_volumes,
    )


def _file_ca(value: Any) -> str:
    """A file's CA level as the label vocabulary says it: yes | no | partial | unknown.

    Native REST sends the enum "yes"/"no"; the CLI passthrough a yes/no string or a JSON boolean
    (Harvest's recorded private-CLI bodies carry JSON booleans), and the CLI documents a
    "Partial" protection level for sessions that some releases may also print for files."""
    if value is None:
        return "unknown"
    if value is True or value is False:
        return "yes" if value else "no"
    level = norm(value)
    if level in ("yes", "true"):
        return "yes"
    if level in ("no", "false"):
        return "no"
    if level == "partial":
        return "partial"
    raise MalformedRecord(f"field continuously_available: unexpected value {value!r:.40}")


def _strict_file_key(r: Any, index: int) -> FileKey:
    """A native open-file record's count key, every field checked: the key of the first record of
    each new combination of names and CA flag in ``_native_file_counts``; the key, or the error."""
    if not isinstance(r, dict):
        raise CollectionError("malformed", f"{ep.OPEN_FILES.path}: record {index} is not an object")
    try:
        ca = parse.to_bool(r.get("continuously_available"), "continuously_available")
        return (
            parse.name_of(r, "node"),
            parse.name_of(r, "svm"),
            parse.name_of(r, "volume"),
            parse.name_of(r, "share"),
            "unknown" if ca is None else ("yes" if ca else "no"),
        )
    except MalformedRecord as exc:
        raise CollectionError("malformed", f"{ep.OPEN_FILES.path}: record {index}: {exc}") from None


class _FileEntry:
    """One count key of the open-files fold and what its virtual disks keep (names shared)."""

    __slots__ = ("ca", "count", "group", "key", "node", "share", "share_low", "svm")

    def __init__(self, key: FileKey, keep: _Interner) -> None:
        self.key = key = (keep(key[0]), keep(key[1]), keep(key[2]), keep(key[3]), key[4])
        self.node, self.svm, self.share, self.ca = key[0], key[1], key[3], key[4]
        self.share_low = keep(self.share.lower())
        self.count = 0
        self.group = -1  # its row of the kept disks' (svm, share, node, CA) groups, once one is kept


# A typed open file's (node, svm, volume, share names, CA flag) as sent: the count key of a whole page
# is read in C (attrgetter + Counter), never field by field in Python.
_TYPED_FILE_RAW = attrgetter("node.name", "svm.name", "volume.name", "share.name", "continuously_available")


class _OpenFilesFold:
    """The open-files fold across the pages of one walk: counts per key and the kept virtual disks.

    A well-formed page (typed records, collectors/ontap/wire.py) is counted per distinct raw
    combination in C; any other page (dicts) record by record, each looked up by its four names
    and CA flag as sent. Either way only the first record of each combination is read strictly,
    which gives its key or the error a malformed record deserves, the same combination always
    means the same key, and the disks are kept in record order (tests/unit/test_ontap_files_fold.py)."""

    def __init__(self) -> None:
        self.total = 0
        self.truncated = False
        self.by_raw: dict[Any, _FileEntry] = {}  # dict records: raw combination -> entry
        self.by_typed: dict[Any, _FileEntry] = {}  # typed records (names str | None, CA str | bool | None)
        self.by_key: dict[FileKey, _FileEntry] = {}
        # Up to MAX_VIRTUAL_DISK_FILES disks stay in memory until the next cycle, on every big
        # cluster at once: kept as OpenDisks, each is its path plus an index into the (svm, share,
        # node, CA) groups and one into the session ids, one row per distinct value.
        self.keep = _Interner()
        self.positions: dict[tuple[str, str, str], int] = {}  # (svm, share lower, path lower) -> position
        self.paths: list[str] = []
        self.group, self.session = array("I"), array("I")
        self.groups: dict[DiskGroup, int] = {}
        self.group_cas: list[str] = []  # each group's CA flag, by row
        self.sessions: dict[str, int] = {}
        self.sids: dict[Any, int] = {}  # session identifier as sent -> its row
        self.replaced = False  # a row may have gone unused: renumber the tables when done

    def add_typed(self, records: list[wire.OpenFile]) -> None:
        start = self.total
        keys = list(map(_TYPED_FILE_RAW, records))  # read once: the disks below reuse them
        counted = Counter(keys)
        by_typed = self.by_typed
        # First-seen order: the first bad combination is the one of the page's first bad record.
        for raw in counted:
            if raw not in by_typed:
                by_typed[raw] = self._typed_entry(raw, records, start)
        for raw, n in counted.items():
            by_typed[raw].count += n
        self.total = start + len(records)
        # Half the files of a Hyper-V estate can be virtual disks (70k of 100k pass the cheap test
        # on a big cluster): their keys come from the read above, not a second attrgetter call
        # (0.55 us a record; bench/README.md, eighth round).
        last = _DISK_LAST_CHARS
        for raw, r in [(k, r) for k, r in zip(keys, records, strict=True) if (p := r.path) and p[-1] in last]:
            path = r.path
            assert path is not None  # narrowed by the filter above
            low = path.lower()
            if low.endswith(VIRTUAL_DISK_SUFFIXES):
                sid = r.session
                self._keep_disk(by_typed[raw], path, low, None if sid is None else sid.identifier)

    def _typed_entry(self, raw: tuple[Any, ...], records: list[wire.OpenFile], start: int) -> _FileEntry:
        node, svm, volume, share, ca_sent = raw
        try:
            ca = parse.to_bool(ca_sent, "continuously_available")
        except MalformedRecord as exc:  # names are strings or null here: the CA flag is all that can fail
            index = start + next(i for i, r in enumerate(records) if _TYPED_FILE_RAW(r) == raw)
            raise CollectionError("malformed", f"{ep.OPEN_FILES.path}: record {index}: {exc}") from None
        key = (node or "", svm or "", volume or "", share or "", "unknown" if ca is None else ("yes" if ca else "no"))
        return self._entry(key)

    def _entry(self, key: FileKey) -> _FileEntry:
        entry = self.by_key.get(key)
        if entry is None:
            entry = self.by_key[key] = _FileEntry(key, self.keep)
        return entry

    def add_dicts(self, records: list[Any]) -> None:
        by_raw = self.by_raw
        for index, r in enumerate(records, self.total):
            try:
                entry = by_raw[(r["node"]["name"], r["svm"]["name"], r["volume"]["name"], r["share"]["name"],
                                r.get("continuously_available"))]
            except (KeyError, TypeError, AttributeError):
                entry = self._new_dict_entry(r, index)
            entry.count += 1
            path = r.get("path")
            if path.__class__ is str and path[-1:] in _DISK_LAST_CHARS:
                low = path.lower()
                if low.endswith(VIRTUAL_DISK_SUFFIXES):
                    sid = r.get("session")
                    self._keep_disk(entry, path, low, sid.get("identifier") if sid.__class__ is dict else None)
        self.total += len(records)

    def _new_dict_entry(self, r: Any, index: int) -> _FileEntry:
        """The entry of a record whose (names, CA flag as sent) the fold has not seen: its key read
        strictly (the error of a malformed record), then remembered by that raw combination when
        it is one the direct read can trust again: four string names and a string or null CA flag
        (a JSON boolean or number is never remembered: ``1 == True`` as a dict key, and numbers
        are refused)."""
        entry = self._entry(_strict_file_key(r, index))
        try:
            raw = (r["node"]["name"], r["svm"]["name"], r["volume"]["name"], r["share"]["name"],
                   r.get("continuously_available"))
        except (KeyError, TypeError, AttributeError):
            return entry  # an absent or null object: read strictly every time
        if (raw[0].__class__ is raw[1].__class__ is raw[2].__class__ is raw[3].__class__ is str
                and (raw[4] is None or raw[4].__class__ is str)):
            self.by_raw[raw] = entry
        return entry

    def _keep_disk(self, entry: _FileEntry, path: str, low: str, sid: Any) -> None:
        """Keep a virtual disk's handle by (svm, share, path), both lower case: a shared VHDX is
        open by several hosts, and the handle that would not survive is the one kept."""
        if low == path:
            low = path  # one string object for both
        dkey = (entry.svm, entry.share_low, low)
        at = self.positions.get(dkey)
        if at is None and len(self.paths) >= MAX_VIRTUAL_DISK_FILES:
            self.truncated = True
            return
        if at is not None and not (self.group_cas[self.group[at]] == "yes" and entry.ca != "yes"):
            return
        g = entry.group
        if g < 0:
            g = entry.group = self.groups.setdefault((entry.svm, entry.share, entry.node, entry.ca), len(self.groups))
            if g == len(self.group_cas):
                self.group_cas.append(entry.ca)
        s = self.sids.get(sid)
        if s is None:
            s = self.sids[sid] = self.sessions.setdefault("" if sid is None else str(sid), len(self.sessions))
        if at is None:
            self.positions[dkey] = len(self.paths)
            self.paths.append(path)
            self.group.append(g)
            self.session.append(s)
        else:
            self.paths[at], self.group[at], self.session[at] = path, g, s
            self.replaced = True

    def disks(self) -> OpenDisks:
        return OpenDisks(tuple(self.groups), self.group, tuple(self.sessions), self.session, self.paths,
                         numbered=not self.replaced)

    def counts(self) -> Counter[FileKey]:
        return Counter({e.key: e.count for e in self.by_key.values()})


def _native_file_counts(
    client: OntapClient, cluster: ClusterInfo, deadline: float
) -> tuple[Counter[FileKey], int, bool, OpenDisks]:
    """Counts per (node, svm, volume, share, ca), the total, whether MAX_VIRTUAL_DISK_FILES cut the
    kept disks short, and the virtual-disk files kept by path for the takeover join (one per
    (svm, share lower, path lower)). 100k records a cycle: see ``_OpenFilesFold``."""
    # A big walk goes to a process of its own (collectors/ontap/walker.py).
    return walker.POOL.walk(_fold_files, client, cluster, deadline, ep.OPEN_FILES.path)


def _fold_files(
    client: OntapClient, cluster: ClusterInfo, deadline: float
) -> tuple[Counter[FileKey], int, bool, OpenDisks]:
    """The open-files walk and its fold, where they run (here or in a walk process)."""
    fold = _OpenFilesFold()
    for page in _pages(client, ep.OPEN_FILES, cluster, deadline, typed=wire.OPEN_FILES_PAGE):
        if page and page[0].__class__ is wire.OpenFile:
            fold.add_typed(page)
        else:
            fold.add_dicts(page)
    return fold.counts(), fold.total, fold.truncated, fold.disks()


def _cli_file_key(r: dict[str, Any]) -> FileKey:
    return (
        parse.text(r, "node"),
        parse.text(r, "vserver"),
        parse.text(r, "hosting_volume"),
        parse.text(r, "share"),
        _file_ca(r.get("continuously_available")),
    )


def _cli_file_counts(
    client: OntapClient, cluster: ClusterInfo, deadline: float
) -> tuple[Counter[FileKey], Counter[FileKey], int, bool, str]:
    """Counts and reconnected handles from `vserver cifs session file show`, in one walk."""
    try:
        counts, reconnected, total = _walk_cli_files(client, cluster, deadline, ep.OPEN_FILES_CLI.fields)
        return counts, reconnected, total, True, ""
    except CollectionError as exc:
        # `reconnected` is the one parameter we could not confirm in every release's man page: a
        # release without it answers 400 for the whole request. Ask again without it.
        if exc.reason != "http_status" or "HTTP 400" not in str(exc):
            raise
        log.info("target %s: open files without `reconnected`: %s", client.settings.name, exc)
        fields = tuple(f for f in ep.OPEN_FILES_CLI.fields if f != "reconnected")
        counts, reconnected, total = _walk_cli_files(client, cluster, deadline, fields)
        return counts, reconnected, total, False, str(exc)


def _walk_cli_files(
    client: OntapClient, cluster: ClusterInfo, deadline: float, fields: tuple[str, ...]
) -> tuple[Counter[FileKey], Counter[FileKey], int]:
    counts: Counter[FileKey] = Counter()
    reconnected: Counter[FileKey] = Counter()
    total = 0
    for index, r in enumerate(_records(client, ep.OPEN_FILES_CLI, cluster, deadline, fields)):
        if not isinstance(r, dict):
            raise CollectionError("malformed", f"{ep.OPEN_FILES_CLI.path}: record {index} is not an object")
        try:
            key = _cli_file_key(r)
            is_reconnected = parse.to_bool(r.get("reconnected"), "reconnected") is True
        except MalformedRecord as exc:
            raise CollectionError("malformed", f"{ep.OPEN_FILES_CLI.path}: record {index}: {exc}") from None
        counts[key] += 1
        if is_reconnected:
            reconnected[key] += 1
        total += 1
    return counts, reconnected, total


def _reconnected_via_cli(
    client: OntapClient, cluster: ClusterInfo, deadline: float
) -> tuple[Counter[FileKey], bool, str]:
    reconnected: Counter[FileKey] = Counter()
    try:
        for r in _records(client, ep.OPEN_FILES_RECONNECTED_CLI, cluster, deadline):
            if parse.to_bool(r.get("reconnected"), "reconnected") is not True:
                continue
            reconnected[_cli_file_key(r)] += 1
    except (CollectionError, MalformedRecord) as exc:
        if isinstance(exc, CollectionError) and exc.reason not in ("forbidden", "http_status", "malformed"):
            raise
        log.info("target %s: reconnected state unavailable: %s", client.settings.name, exc)
        return Counter(), False, str(exc)
    return reconnected, True, ""
