"""The ONTAP REST transport: one authenticated keep-alive session per job, raw JSON pages.

Built on netapp-ontap's connection layer (``HostConnection.session``: basic auth, TLS verify, the
``X-Dot-Client-App`` header), but the resource models are never used: they cost ~6 ms per record
against ~14 us for raw parsing (docs/dev/background.md, "ONTAP"). Pages are parsed with
orjson (the two big walks: typed by msgspec when well-formed, collectors/ontap/wire.py) and handed
to the caller one at a time, so a 100k-record collection never sits in memory as a whole (peak RSS
stays near one page).

Every failure becomes a ``CollectionError`` with a closed-set reason and a message that names the
path and ONTAP's own error text, never a credential.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import orjson
import requests
from urllib3.util.retry import Retry

from collectors import runcpu, tlscontext
from collectors.errors import CollectionError, parse_retry_after
from collectors.netguard import DEFAULT_MAX_BODY_BYTES, ConnectionGuard
from collectors.ontap import wire
from collectors.ontap.facts import ClusterInfo

log = logging.getLogger(__name__)

# How long a version answer is trusted. An upgrade changes which endpoints exist; ten minutes of
# lag is harmless and saves one request per collection.
CLUSTER_INFO_TTL_SECONDS = 600.0
# Empty pages that still carry a next link, in a row, before the walk is declared stuck. ONTAP
# sends one when return_timeout expires before any record is ready; a few in a row is a busy
# cluster, dozens is a loop the deadline would otherwise have to end.
MAX_EMPTY_PAGES_IN_A_ROW = 20
# Reads of a response body: big enough that a page costs a few reads, small enough that the body
# cap (netguard) stops an endless body within one read of it.
BODY_READ_CHUNK = 256 * 1024


@dataclass(frozen=True)
class OntapSettings:
    """Everything needed to reach one cluster (transport only: what to collect is a collector's
    options, what the checks are told their check parameters). ``password`` never appears in repr()."""

    name: str
    host: str
    port: int
    scheme: str
    username: str
    password: str = field(repr=False)
    verify: bool | str = True  # True, False or the path of a CA bundle
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_records: int = 1000
    max_response_bytes: int = DEFAULT_MAX_BODY_BYTES

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        return f"{self.scheme}://{host}:{self.port}"


class OntapClient:
    """GETs against one cluster. Not thread-safe: each scheduler job owns one."""

    def __init__(self, settings: OntapSettings) -> None:
        self.settings = settings
        self._session: requests.Session | None = None
        self._cluster: ClusterInfo | None = None
        self._cluster_at = 0.0
        self.requests_made = 0
        # Pages of the last walk of each path (collectors/ontap/walker.py sends big ones away).
        self.pages_walked: dict[str, int] = {}
        # Bounds every read: a body cap and the collection deadline for a whole request.
        self._guard = ConnectionGuard(settings.max_response_bytes, settings.origin)

    # -- session -----------------------------------------------------------------------------
    def _open(self) -> requests.Session:
        if self._session is not None:
            return self._session
        # Imported here: netapp_ontap costs ~95 ms to import; check-config should not pay it.
        from netapp_ontap.host_connection import HostConnection, LoggingAdapter

        s = self.settings
        conn = HostConnection(
            s.host,
            username=s.username,
            password=s.password,
            verify=s.verify,  # type: ignore[arg-type]  # requests accepts a CA bundle path too
            port=s.port,
            scheme=s.scheme,
            protocol_timeouts=(s.connect_timeout, s.read_timeout),
        )
        session = conn.session
        # The library retries read errors up to 5 times with no backoff, which multiplies a slow
        # endpoint's timeout past our deadline. Keep its adapter (logging, URL encoding) but retry
        # only connection setup, twice, with a short backoff. A 429/503 with Retry-After is handed
        # back as it is (urllib3 would otherwise retry it and report "too many 503 responses", and
        # sleep in our worker): the scheduler honours Retry-After by skipping cycles.
        retry = Retry(
            total=2, connect=2, read=0, status=0, other=0, redirect=0, backoff_factor=0.2,
            respect_retry_after_header=False,
        )
        adapter = LoggingAdapter(conn, max_retries=retry, timeout=(s.connect_timeout, s.read_timeout))  # type: ignore[no-untyped-call]
        session.mount(s.origin, adapter)
        session.headers["Accept"] = "application/json"
        # Proxies from the environment (HTTPS_PROXY, ALL_PROXY, NO_PROXY) are resolved once for
        # this origin and pinned on the session, which then stops reading the environment: with
        # trust_env requests walks os.environ twice a request (~0.4 ms of a ~1.1 ms small GET,
        # bench/README.md eleventh round; thousands of requests a minute at the P4 estate). Same
        # answer, as the daemon never changes its environment after start (docs/robustness.md);
        # the other things trust_env reads are not used here: the CA bundle is passed with every
        # request and the session always carries its own auth (no .netrc).
        session.proxies.update(requests.utils.get_environ_proxies(s.origin))
        session.trust_env = False
        self._guard.install_requests(session)
        tlscontext.share_contexts(session)  # the CA bundle parsed once, not at every connection
        self._session = session
        return session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- requests ----------------------------------------------------------------------------
    def _get(
        self,
        path_and_query: str,
        params: Mapping[str, str] | None,
        deadline: float,
        typed: wire.TypedDecoder | None = None,
    ) -> Any:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CollectionError("timeout", f"collection deadline passed before GET {_path(path_and_query)}")
        self._guard.refuse_when_stopping()
        s = self.settings
        url = f"{s.origin}/{path_and_query.lstrip('/')}"
        timeout = (min(s.connect_timeout, remaining), min(s.read_timeout, remaining))
        started = time.monotonic()
        try:
            # verify is passed on every request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
            # override a session's CA bundle otherwise, silently ignoring the configured ca_file.
            try:
                with self._guard.watch(deadline):  # a dripping peer is cut at the deadline
                    response = self._open().get(url, params=params, timeout=timeout, verify=s.verify, stream=True)
                    body = _read_body(response)  # within max_response_bytes: truncation surfaces here
            except requests.exceptions.RequestException:
                if time.monotonic() >= deadline:  # the guard cut the connection
                    raise CollectionError(
                        "timeout", f"GET {_path(path_and_query)}: no complete answer by the collection deadline"
                    ) from None
                raise
        except requests.exceptions.SSLError as exc:
            raise CollectionError("tls", f"TLS failure talking to {s.origin}: {_first_line(exc)}") from None
        except requests.exceptions.ConnectTimeout:
            raise CollectionError("timeout", f"connect to {s.origin} timed out") from None
        except requests.exceptions.ReadTimeout:
            raise CollectionError(
                "timeout", f"GET {_path(path_and_query)} got no answer within {timeout[1]:.1f}s"
            ) from None
        except requests.exceptions.ChunkedEncodingError:
            raise CollectionError("malformed", f"GET {_path(path_and_query)}: body truncated") from None
        except requests.exceptions.ConnectionError as exc:
            if _caused_by_read_timeout(exc):
                # With a Retry object urllib3 wraps a read timeout in MaxRetryError, which requests
                # reports as a ConnectionError: it is still a slow endpoint, not an unreachable one.
                raise CollectionError(
                    "timeout", f"GET {_path(path_and_query)} got no answer within {timeout[1]:.1f}s"
                ) from None
            raise CollectionError(
                "connect", f"cannot reach {s.origin} (GET {_path(path_and_query)}): {_reason(exc)}"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise CollectionError("connect", f"GET {_path(path_and_query)}: {_first_line(exc)}") from None
        self.requests_made += 1
        log.debug(
            "GET %s -> %s (%d bytes, %.3fs)",
            _path(path_and_query),
            response.status_code,
            len(body),
            time.monotonic() - started,
        )
        if response.status_code >= 400:
            error = _status_error(path_and_query, response.status_code, body)
            if response.status_code in (429, 503):
                error.retry_after = parse_retry_after(response.headers.get("Retry-After"), time.time())
                if error.retry_after is not None:
                    error.message = error.args[0] + f"; Retry-After {error.retry_after:g}s"
            raise error
        try:
            # A typed page when it has the well-formed shape; any other as dicts (wire.py).
            return wire.decode_page(body, typed)
        except orjson.JSONDecodeError as exc:
            raise CollectionError(
                "malformed", f"GET {_path(path_and_query)}: response is not valid JSON ({exc})"
            ) from None

    def get_object(self, path: str, fields: Sequence[str], deadline: float) -> dict[str, Any]:
        """GET an object resource such as ``api/cluster``."""
        body = self._get(path, {"fields": ",".join(fields)}, deadline)
        if not isinstance(body, dict):
            raise CollectionError("malformed", f"GET {path}: expected a JSON object")
        return body

    def pages(
        self,
        path: str,
        fields: Sequence[str],
        deadline: float,
        query: Mapping[str, str] | None = None,
        typed: wire.TypedDecoder | None = None,
    ) -> Iterator[list[Any]]:
        """Yield the records of a collection page by page, following ``_links.next``.

        With ``typed`` (a decoder of collectors/ontap/wire.py) a well-formed page comes as a list of
        its typed records, any other page as a list of dicts: the caller folds both.

        ``fields=`` is always narrowed (never ``*``: NetApp discourages it and the CLI passthrough
        rejects it) and ``max_records`` bounds every page. The next page is requested while the
        caller folds the current one (one page of lookahead on a helper thread, started only when
        the first page links on), so the cluster's response time and our parsing overlap instead
        of adding up; the session is still used by one thread at a time, and leaving the loop
        early waits for the in-flight request.
        """
        params: dict[str, str] | None = {
            # No fields at all is sent as no ``fields=`` parameter: `system health status show`
            # documents no parameters, so its passthrough is asked bare (ontap-semantics.md).
            **({"fields": ",".join(fields)} if fields else {}),
            "max_records": str(self.settings.max_records),
            **(query or {}),
        }
        seen: set[str] = set()
        empty_in_a_row = 0
        self.pages_walked[path] = 0
        with _Lookahead(self._get) as lookahead:
            pending: Future[Any] | None = lookahead.fetch_now(path, params, deadline, typed)
            while pending is not None:
                body = pending.result()
                if isinstance(body, wire.TypedPage):
                    records: Any = body.records
                    _note_partial_error(path, {"error": body.error})
                    href = wire.next_href(body)
                else:
                    records = body.get("records") if isinstance(body, dict) else None
                    if not isinstance(records, list):
                        raise CollectionError("malformed", f"GET {path}: no 'records' array in the response")
                    _note_partial_error(path, body)
                    href = _next_href(body)
                pending = None
                self.pages_walked[path] += 1
                if href:
                    # An empty page that still links on is what ONTAP sends when return_timeout
                    # expired before any record was ready (ansible-collections/netapp.ontap #364):
                    # the rest of the collection is behind the link, so follow it. Its link may
                    # repeat the request verbatim (no record to key the next start on), so a
                    # repeat is a loop only after a page that had records, or after too many
                    # empty pages in a row; the collection deadline bounds the rest.
                    empty_in_a_row = 0 if records else empty_in_a_row + 1
                    if records and href in seen:  # Harvest guards against a next link that repeats
                        raise CollectionError("malformed", f"GET {path}: pagination loops on {_path(href)}")
                    if empty_in_a_row > MAX_EMPTY_PAGES_IN_A_ROW:
                        raise CollectionError(
                            "malformed",
                            f"GET {path}: {empty_in_a_row} empty pages in a row still link on; giving up",
                        )
                    seen.add(href)
                    # An abandoned walk (the exporter is stopping) asks for no further page.
                    self._guard.refuse_when_stopping()
                    # The next link carries the whole query; sending params again would duplicate keys.
                    pending = lookahead.submit(href, None, deadline, typed)
                if records:
                    yield records

    # -- cluster identity and version -------------------------------------------------------
    def cluster(self, deadline: float) -> ClusterInfo:
        now = time.monotonic()
        if self._cluster is not None and now - self._cluster_at < CLUSTER_INFO_TTL_SECONDS:
            return self._cluster
        body = self.get_object("api/cluster", ("name", "uuid", "version"), deadline)
        try:
            version = body["version"]
            info = ClusterInfo(
                name=str(body.get("name", "")),
                uuid=str(body.get("uuid", "")),
                version=(int(version["generation"]), int(version["major"]), int(version["minor"])),
                version_full=str(version.get("full", "")),
            )
        except (KeyError, TypeError, ValueError):
            raise CollectionError("malformed", "GET api/cluster: no usable version.generation/major/minor") from None
        self._cluster, self._cluster_at = info, now
        return info


def _read_body(response: requests.Response) -> bytes:
    """The whole body, read BODY_READ_CHUNK bytes at a time.

    ``response.content`` reads 10 KiB at a time, each read a trip through urllib3's Python read
    path: ~80 of them for one 800 KB page of open files, ~1 ms of CPU a page, 2,000 such pages a
    minute at the P4 estate (bench/README.md, eighth round). A fully read response hands its
    connection back to the pool; one cut short (the body cap, a dropped peer) is closed, never
    reused half-read."""
    try:
        return b"".join(response.iter_content(BODY_READ_CHUNK))
    finally:
        response.close()  # after a complete read: gives the connection back; else closes it


class _Lookahead:
    """One daemon thread that fetches the next page while the caller folds the current one.

    The first page is fetched in the caller's thread (``fetch_now``) and the helper thread starts
    only when a page links to a next one: most collections are one page, and a thread start waits
    for a GIL hand-off each way, slow in an interpreter that collectors keep busy (the P4 estate
    started one per walk: ~5 a run, thousands a minute; bench/README.md sixth round).

    Not a ``ThreadPoolExecutor``: a collection thread outlives the main thread by design (stop
    never waits for it), and after interpreter shutdown an executor refuses new work ("cannot
    schedule new futures after interpreter shutdown") and its exit hook joins its threads, so one
    slow page would hold the process. Leaving the ``with`` block waits for the request in flight:
    the session is used by one thread at a time.
    """

    def __init__(self, get: Callable[[str, Mapping[str, str] | None, float, Any], Any]) -> None:
        self._get = get
        # The run this walk belongs to pays for the helper's CPU too (collectors/runcpu.py).
        self._account = runcpu.current()
        self._jobs: queue.SimpleQueue[tuple[Future[Any], tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                future, args = job
                if future.set_running_or_notify_cancel():
                    _settle(future, self._get, args)
        finally:
            runcpu.charge_thread(self._account)  # before __exit__'s join returns

    def fetch_now(
        self, path: str, params: Mapping[str, str] | None, deadline: float, typed: wire.TypedDecoder | None = None
    ) -> Future[Any]:
        """The page fetched in this thread, as a settled future (the walk reads both kinds alike)."""
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        _settle(future, self._get, (path, params, deadline, typed))
        return future

    def submit(
        self, path: str, params: Mapping[str, str] | None, deadline: float, typed: wire.TypedDecoder | None = None
    ) -> Future[Any]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="ontap-page", daemon=True)
            self._thread.start()
        future: Future[Any] = Future()
        self._jobs.put((future, (path, params, deadline, typed)))
        return future

    def __enter__(self) -> _Lookahead:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()


def _settle(future: Future[Any], get: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        future.set_result(get(*args))
    except BaseException as exc:  # handed to the walk through the future
        future.set_exception(exc)


def _next_href(body: Any) -> str | None:
    try:
        href = body["_links"]["next"]["href"]
    except (KeyError, TypeError):
        return None
    return href if isinstance(href, str) and href else None


def _error_text(err: Any) -> tuple[str, str]:
    """(code, message) of an ``error`` member: ONTAP's object, or a bare string some proxies and
    older releases put there. Never raises: an odd error body must not hide the HTTP status."""
    if isinstance(err, dict):
        return str(err.get("code", "") or ""), str(err.get("message", "") or "")[:300]
    if isinstance(err, str):
        return "", err[:300]
    return "", ""


def _note_partial_error(path: str, body: Any) -> None:
    """A 200 collection may carry an ``error`` member next to its records (some nodes did not
    answer in time): keep the records, say so in the log."""
    err = body.get("error") if isinstance(body, dict) else None
    if err is None:
        return
    code, message = _error_text(err)
    log.warning("GET %s: partial answer, ONTAP error %s: %s", path, code or "-", message or "(no message)")


def _path(path_and_query: str) -> str:
    """The path without its query: what logs and errors may show."""
    return path_and_query.split("?", 1)[0].lstrip("/")


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def _caused_by_read_timeout(exc: BaseException) -> bool:
    from urllib3.exceptions import ReadTimeoutError

    cause = exc.args[0] if exc.args else None
    return isinstance(getattr(cause, "reason", None), ReadTimeoutError) or isinstance(cause, ReadTimeoutError)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for hint in (
        "Connection refused",
        "Connection reset",
        "RemoteDisconnected",
        "Name or service not known",
        "No route to host",
        "Connection aborted",
    ):
        if hint in text:
            return hint.lower() if hint != "RemoteDisconnected" else "connection closed without a response"
    return _first_line(exc)


def _status_error(path_and_query: str, status: int, body: bytes) -> CollectionError:
    message = ""
    code = ""
    try:
        parsed = orjson.loads(body)
        code, message = _error_text(parsed.get("error") if isinstance(parsed, dict) else None)
    except orjson.JSONDecodeError:
        pass
    detail = f"HTTP {status}" + (f" ONTAP error {code}: {message}" if message else "")
    where = f"GET {_path(path_and_query)}"
    if status == 401:
        return CollectionError("auth", f"{where}: authentication failed ({detail}); check the username and password")
    if status == 403:
        return CollectionError("forbidden", f"{where}: the role lacks this privilege ({detail})")
    return CollectionError("http_status", f"{where}: {detail}")
