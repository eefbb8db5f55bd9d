"""The six ONTAP collectors: (client, deadline) -> one facts fragment each.

Each asks only for the fields its parser reads, pages with ``max_records``, checks the cluster
version once (cached by the client) and raises ``UnsupportedError`` instead of sending a request
the version cannot answer. Sessions and open files are folded into counts page by page.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from collectors.declare import Declarations
from collectors.errors import CollectionError, UnsupportedError
from collectors.ontap import checks, parse, walks
from collectors.ontap import endpoints as ep
from collectors.ontap.client import OntapClient
from collectors.ontap.facts import (
    HEALTH_PARTS,
    MAX_MACHINE_SESSIONS,
    MAX_VIRTUAL_DISK_FILES,
    VIRTUAL_DISK_SUFFIXES,
    ClientSessionKey,
    ClusterInfo,
    FileKey,
    FilesFacts,
    HealthFacts,
    LifsFacts,
    MachineSession,
    NodesFacts,
    SessionKey,
    SessionsFacts,
    SessionVolumesKey,
    SharesFacts,
    VirtualDiskOpen,
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


def _records(
    client: OntapClient,
    endpoint: ep.Endpoint,
    cluster: ClusterInfo,
    deadline: float,
    fields: tuple[str, ...] | None = None,
) -> Iterator[dict[str, Any]]:
    if not endpoint.supported(cluster):
        raise UnsupportedError(
            f"{endpoint.path} needs ONTAP {endpoint.describe_since()} or later; "
            f"cluster {cluster.name} runs {cluster.version_text}"
        )
    pages = client.pages(endpoint.path, fields or endpoint.fields_for(cluster), deadline, dict(endpoint.query))
    for page in walks.GATE.pages(pages, deadline, f"GET {endpoint.path}"):  # big walks: a few at once
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
    machines: list[MachineSession] = []
    machines_truncated = False
    counts: Counter[SessionKey] = Counter()
    by_volume: Counter[VolumeSessionKey] = Counter()
    by_volume_set: Counter[SessionVolumesKey] = Counter()
    clients: Counter[ClientSessionKey] = Counter()
    by_volume_set_files: Counter[SessionVolumesKey] = Counter()
    by_volume_files: Counter[VolumeSessionKey] = Counter()
    total = 0
    keep = _Interner()
    volume_sets: dict[tuple[str, ...], tuple[str, ...]] = {}
    for index, r in enumerate(_records(client, ep.SESSIONS, cluster, deadline, fields)):
        if not isinstance(r, dict):
            raise CollectionError("malformed", f"{ep.SESSIONS.path}: record {index} is not an object")
        try:
            node = keep(parse.name_of(r, "node"))
            svm = keep(parse.name_of(r, "svm"))
            protocol = norm(r.get("protocol")) or "unknown"
            ca = _SESSION_CA.get(norm(r.get("continuous_availability")), "unknown")
            auth = norm(r.get("authentication")) or "unknown"
            volumes = keep.each(parse.names(r.get("volumes"), "volumes"))
            open_files = parse.to_int(r.get("open_files"), "open_files")
            user = r.get("user")
            if detail:
                clients[(node, svm, parse.text(r, "client_ip"), parse.text(r, "user"), protocol, ca)] += 1
            # Computer accounts (DOMAIN\HOST$) are how Hyper-V hosts open VM files: keep those
            # sessions one by one (bounded) for the takeover join; people are only counted.
            if user.__class__ is str and user.endswith("$"):
                if len(machines) < MAX_MACHINE_SESSIONS:
                    machines.append(
                        MachineSession(
                            node=node,
                            svm=svm,
                            identifier=parse.text(r, "identifier"),
                            user=user,
                            client_ip=parse.text(r, "client_ip"),
                            server_ip=parse.text(r, "server_ip"),
                            protocol=protocol,
                            continuous_availability=ca,
                        )
                    )
                else:
                    machines_truncated = True
        except MalformedRecord as exc:
            raise CollectionError("malformed", f"{ep.SESSIONS.path}: record {index}: {exc}") from None
        counts[(node, svm, protocol, ca, auth)] += 1
        for vol in volumes:
            by_volume[(node, svm, vol, protocol, ca)] += 1
        # Sessions repeat a few volume lists: sort and dedupe each distinct list once.
        volume_set = volume_sets.get(volumes)
        if volume_set is None:
            volume_set = volume_sets[volumes] = tuple(sorted(set(volumes)))
        by_volume_set[(node, svm, protocol, ca, volume_set)] += 1
        if open_files is None or open_files > 0:  # not reported: judged, as before
            by_volume_set_files[(node, svm, protocol, ca, volume_set)] += 1
            for vol in volumes:
                by_volume_files[(node, svm, vol, protocol, ca)] += 1
        total += 1
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
        machine_sessions_truncated=machines_truncated,
    )


@COLLECTORS.collector(
    "files",
    every=60.0,
    help="open SMB files counted by node, SVM, volume, share, CA and reconnected state",
    produces=FilesFacts,
    render="exporter.render.ontap:render_files",
)
def collect_files(client: OntapClient, deadline: float) -> FilesFacts:
    cluster = client.cluster(deadline)
    disks: dict[tuple[str, str, str], VirtualDiskOpen] = {}
    if ep.OPEN_FILES.supported(cluster):
        counts, total, disks_truncated = _native_file_counts(client, cluster, deadline, disks)
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
        virtual_disks=tuple(disks.values()),
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


# A file's CA flag as native REST sends it (the enum yes/no; a JSON boolean from some passthroughs)
# -> its label, read as parse.to_bool reads it. Any other value takes the strict path.
_FILE_CA_FAST: dict[Any, str] = {"yes": "yes", "no": "no", "true": "yes", "false": "no", True: "yes", False: "no",
                                 None: "unknown"}


def _strict_file_key(r: Any, index: int) -> FileKey:
    """A native open-file record's count key, every field checked: the slow path of the fold, for
    records the direct read in ``_native_file_counts`` does not take; same key, or the error."""
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


def _native_file_counts(
    client: OntapClient,
    cluster: ClusterInfo,
    deadline: float,
    disks: dict[tuple[str, str, str], VirtualDiskOpen],
) -> tuple[Counter[FileKey], int, bool]:
    """Counts per (node, svm, volume, share, ca); virtual-disk files also kept by path in
    ``disks`` (bounded by MAX_VIRTUAL_DISK_FILES) for the takeover join. Returns whether the
    bound cut the map short."""
    counts: Counter[FileKey] = Counter()
    total = 0
    truncated = False
    # Up to MAX_VIRTUAL_DISK_FILES disks stay in memory until the next cycle, on every big cluster
    # at once: each keeps one copy of its SVM, share, node and session id per cluster (not one
    # per record as parsed), and its path; the lower-cased key shares the path when they match.
    keep = _Interner()
    lowered: dict[str, str] = {}
    sids: dict[Any, str] = {}
    for index, r in enumerate(_records(client, ep.OPEN_FILES, cluster, deadline)):
        # The common record, read directly: four names and an enum CA flag. Anything else (a
        # missing or null object, a non-string name, another spelling of the flag, a record
        # that is not an object) takes the strict path, which gives the same key or the error.
        try:
            node, svm, volume, share = r["node"]["name"], r["svm"]["name"], r["volume"]["name"], r["share"]["name"]
            ca = r.get("continuously_available")
            if ca.__class__ is int or ca.__class__ is float:  # 1 == True as a key; to_bool refuses numbers
                raise TypeError
            ca_label = _FILE_CA_FAST[ca]
            if not (node.__class__ is svm.__class__ is volume.__class__ is share.__class__ is str):
                raise TypeError
            key = (node, svm, volume, share, ca_label)
        except (KeyError, TypeError, AttributeError):
            key = _strict_file_key(r, index)
        path = r.get("path")
        if path.__class__ is str and path[-1:] in _DISK_LAST_CHARS:
            low = path.lower()
            if low.endswith(VIRTUAL_DISK_SUFFIXES):
                if low == path:
                    low = path
                svm, share = keep(key[1]), keep(key[3])
                share_low = lowered.get(share)
                if share_low is None:
                    share_low = lowered[share] = keep(share.lower())
                dkey = (svm, share_low, low)
                prev = disks.get(dkey)
                # A shared VHDX is open by several hosts: keep the handle that would not survive.
                if prev is None and len(disks) >= MAX_VIRTUAL_DISK_FILES:
                    truncated = True
                elif prev is None or (prev.continuously_available == "yes" and key[4] != "yes"):
                    session = r.get("session")
                    sid = session.get("identifier") if session.__class__ is dict else None
                    sid_text = sids.get(sid)
                    if sid_text is None:
                        sid_text = sids[sid] = "" if sid is None else str(sid)
                    disks[dkey] = VirtualDiskOpen(svm, share, path, keep(key[0]), key[4], sid_text)
        counts[key] += 1
        total += 1
    return counts, total, truncated


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
