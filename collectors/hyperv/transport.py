"""WinRM transport: run one PowerShell script on one host over pywinrm, within our own deadline.

Behind a one-method interface (``ScriptRunner.run``) so pypsrp can replace pywinrm later
(docs/hyperv.md "Why not pypsrp (yet)"). What this module works around, from
docs/hyperv.md (Transport; pywinrm issues listed in its Sources):
* ``Session.run_ps`` goes through cmd.exe (8,191-character limit): we use the ``Protocol`` API with
  WINRS_SKIP_CMD_SHELL and send the script on stdin (collectors/hyperv/script.py);
* ``get_command_output`` retries ``WinRMOperationTimeoutError`` forever: we loop on
  ``get_command_output_raw`` ourselves and stop at the deadline (then Signal + Delete the shell);
* pywinrm's ``run_cmd`` sends Signal terminate after every command, also one that has finished:
  we Delete the shell alone then, which frees its commands (MS-WSMV 3.1.4.4.1), one exchange less
  a run (800 a minute at bench/scale's P4);
* pywinrm's ``close_shell`` closes its HTTP session by default, so every run pays a TLS and an NTLM
  handshake (half a poll's CPU alone, less in a busy process: bench/README.md thirteenth round): a
  runner told to keep its connection (``keep_connection``: polls under 30 s apart,
  exporter/hyperv_source.py, well inside HTTP.sys's 120 s idle timeout) keeps it between runs.
  NTLM authenticates the connection, so when the host has closed it, the next request is answered
  401 on the new one and requests-ntlm authenticates again. A sealed session (NTLM/Kerberos over
  HTTP) never keeps it: pywinrm's sealing context is made once per session and does not survive a
  new connection;
* environment proxies and CA bundles are honoured by default: we pass an explicit CA file (or
  requests' default bundle, certifi's) and give every session it builds no proxies and ``trust_env = False``;
  pywinrm's own way of ignoring proxies (``proxy=None``: ``no_proxy="*"``) makes requests set and
  delete ``os.environ["no_proxy"]`` around every request (psf/requests#4997), which broke other
  threads reading the environment (``KeyError: 'no_proxy'`` in ONTAP runs, bench/scale) and can
  leave ``no_proxy=*`` set for the whole process;
* a ``Protocol`` holds one ``requests.Session`` and is not thread-safe: one per target job.
Secrets: the password is only handed to pywinrm; no message built here contains it, and pywinrm's
own exception texts carry status codes and fault reasons, never headers.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from dataclasses import dataclass, field
from typing import Literal, Protocol
from xml.etree import ElementTree

import requests
import urllib3
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol as WinRMProtocol

from collectors import tlscontext
from collectors.errors import CollectionError, parse_retry_after
from collectors.hyperv import clixml, soapxml
from collectors.hyperv import script as ps
from collectors.hyperv.ntlm import ntlm_secret
from collectors.netguard import DEFAULT_MAX_BODY_BYTES, ConnectionGuard

log = logging.getLogger(__name__)
# pywinrm's requests serialized without xmltodict's name checks: same text, ~14 % of a poll's CPU
# less (collectors/hyperv/soapxml.py).
soapxml.install()
# pywinrm warns (once) that "legacy_requests" would use an environment proxy; the sessions it
# builds get no proxy at all (``WinRMRunner._guard_sessions``).
warnings.filterwarnings(
    "ignore", message=re.escape("'pywinrm' will use an environment defined proxy"), category=DeprecationWarning
)

Auth = Literal["ntlm", "kerberos", "credssp", "basic"]
CUT_AFTER_DEADLINE_SECONDS = 1.0  # within the scheduler's grace (collectors/netguard.py)
CLEANUP_SECONDS = 3.0  # Signal + Delete of a shell, after a failure or the deadline
Encryption = Literal["auto", "always", "never"]


@dataclass(frozen=True)
class ScriptResult:
    stdout: bytes
    stderr: bytes
    exit_code: int
    elapsed_seconds: float


class ScriptRunner(Protocol):
    def run(self, script: str, deadline: float) -> ScriptResult: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class WinRMSettings:
    endpoint: str  # https://host:5986/wsman
    username: str
    password: str = field(repr=False)
    auth: Auth = "ntlm"
    message_encryption: Encryption = "auto"
    verify: bool = True
    ca_file: str | None = None
    # WS-Man OperationTimeout: how long one Receive may wait on the host before the w:TimedOut fault.
    operation_timeout: int = 20
    # HTTP read timeout; pywinrm insists it exceeds operation_timeout (the host blocks that long).
    read_timeout: int = 30
    max_response_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Keep the authenticated connection between runs (see the module docstring); never when sealed.
    keep_connection: bool = False


def _pywinrm_auth(auth: Auth, https: bool) -> str:
    # pywinrm calls Basic "basic" over HTTP but "ssl" over HTTPS; both are HTTPBasicAuth.
    if auth == "basic":
        return "ssl" if https else "basic"
    return auth


class WinRMRunner:
    """One ``WinRMProtocol`` per host, reused across polls; each poll opens and deletes one shell."""

    def __init__(self, settings: WinRMSettings) -> None:
        self.settings = settings
        self._protocol: WinRMProtocol | None = None
        # Every WS-Man answer is read within a size cap; a run's requests end by its deadline.
        self._guard = ConnectionGuard(settings.max_response_bytes, settings.endpoint)
        # The Retry-After of the last 429/503 answer: pywinrm's WinRMTransportError keeps only the
        # status code, so a response hook on the session notes the header for ``run`` to attach.
        self._retry_after: float | None = None

    def _proto(self) -> WinRMProtocol:
        if self._protocol is None:
            s = self.settings
            https = s.endpoint.lower().startswith("https://")
            validation: Literal["validate", "ignore"] = "validate" if s.verify else "ignore"
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    self._protocol = WinRMProtocol(
                        endpoint=s.endpoint,
                        transport=_pywinrm_auth(s.auth, https),  # type: ignore[arg-type]
                        username=s.username,
                        # NTLM: the hash pair, derived once here instead of at every handshake.
                        password=ntlm_secret(s.password) if s.auth == "ntlm" else s.password,
                        server_cert_validation=validation,
                        # None = requests' default bundle (certifi's); never REQUESTS_CA_BUNDLE (pitfall 6).
                        ca_trust_path=s.ca_file if s.ca_file else None,  # type: ignore[arg-type]
                        message_encryption=s.message_encryption,
                        operation_timeout_sec=s.operation_timeout,
                        read_timeout_sec=s.read_timeout,
                        # Not None (see the module docstring): the session's proxies are
                        # cleared when it is built (``_guard_sessions``).
                        proxy="legacy_requests",
                    )
            except WinRMError as exc:
                raise CollectionError("config", f"WinRM client setup failed: {exc}") from None
            self._guard_sessions(self._protocol)
        return self._protocol

    def _guard_sessions(self, proto: WinRMProtocol) -> None:
        """pywinrm builds its requests session lazily (and again after close): guard each one."""
        transport = proto.transport
        build = transport.build_session

        def build_session() -> requests.Session:
            fresh = transport.session is None
            session = build()
            if fresh:
                # Never a proxy, and nothing read from the environment per request.
                session.proxies = {}
                session.trust_env = False
                self._guard.install_requests(session)
                tlscontext.share_contexts(session)  # the CA bundle parsed once, not every run
                session.hooks["response"].append(self._note_retry_after)
            return session

        transport.build_session = build_session  # type: ignore[method-assign]

    def _note_retry_after(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        if response.status_code in (429, 503):
            self._retry_after = parse_retry_after(response.headers.get("Retry-After"), time.time())

    def close(self) -> None:
        if self._protocol is not None:
            self._protocol.transport.close_session()
        self._protocol = None

    def run(self, script: str, deadline: float) -> ScriptResult:
        started = time.monotonic()
        self._retry_after = None
        try:
            return self._run(script, deadline, started)
        except CollectionError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            if time.monotonic() >= deadline + CUT_AFTER_DEADLINE_SECONDS and isinstance(
                exc, requests.exceptions.RequestException
            ):
                late = f"{self.settings.endpoint}: no complete answer by the deadline"
                raise CollectionError("timeout", late) from None
            error = classify(exc, self.settings.endpoint)
            if error.reason == "http_status" and self._retry_after is not None:
                # Honoured by the scheduler skipping this job's cycles, never by sleeping here.
                error.retry_after = self._retry_after
                error.message += f"; Retry-After {self._retry_after:g}s"
                error.args = (error.message,)
            raise error from None

    def _run(self, script: str, deadline: float, started: float) -> ScriptResult:
        # A session kept from the last run may hold a connection the host is closing right now.
        kept = self._protocol is not None and self._protocol.transport.session is not None
        proto = self._proto()
        _check(deadline, "opening the shell")
        # A host that drips its answer is cut shortly after the deadline (our own checks between
        # Receives come first); the Signal + Delete that end the shell get their own short bound.
        with self._guard.watch(deadline + CUT_AFTER_DEADLINE_SECONDS):
            shell = _open_shell(proto, kept)
        command: str | None = None
        finished = False
        try:
            with self._guard.watch(deadline + CUT_AFTER_DEADLINE_SECONDS):
                # skip_cmd_shell: no cmd.exe, so its 8,191-character limit does not apply. stdin as a pipe
                # (not console mode): ReadToEnd() then ends at the Send with End="true", as Ansible's
                # winrm plugin does whenever it feeds a script on stdin.
                command = proto.run_command(
                    shell, ps.POWERSHELL, ps.command_arguments(), console_mode_stdin=False, skip_cmd_shell=True
                )
                proto.send_command_input(shell, command, ps.stdin_bytes(script), end=True)
                out: list[bytes] = []
                err: list[bytes] = []
                rc, done = -1, False
                while not done:
                    _check(deadline, "waiting for the collection script")
                    try:
                        o, e, rc, done = proto.get_command_output_raw(shell, command)
                    except WinRMOperationTimeoutError:
                        # The host held the Receive for OperationTimeout without output: the script is
                        # still running. Poll again, but only until our deadline (pywinrm would loop forever).
                        continue
                    out.append(o)
                    err.append(e)
                finished = True  # CommandState Done: nothing left for a Signal to terminate
                return ScriptResult(b"".join(out), b"".join(err), rc, time.monotonic() - started)
        finally:
            with self._guard.watch(time.monotonic() + CLEANUP_SECONDS):
                _cleanup(proto, shell, None if finished else command)
            if not (self.settings.keep_connection and proto.transport.encryption is None):
                proto.transport.close_session()  # the protocol (and its NTLM hashes) stays


def _open_shell(proto: WinRMProtocol, kept: bool) -> str:
    """Create the shell; on a kept connection that the host closed as the request went out (its
    idle timer firing at that moment: urllib3 only sees a close that came before), ask once more
    on a new connection. Nothing was answered, so no shell was made for the first ask."""
    try:
        return proto.open_shell(noprofile=True)
    except requests.exceptions.ConnectionError as exc:
        # requests wraps urllib3's ProtocolError ("Connection aborted": closed or reset with no
        # answer) as the first argument; a refused or timed-out connect is a MaxRetryError there.
        if not (kept and isinstance(exc.args[0] if exc.args else None, urllib3.exceptions.ProtocolError)):
            raise
        log.debug("WinRM: the kept connection was closed under the request; connecting again")
        proto.transport.close_session()
        return proto.open_shell(noprofile=True)


def _check(deadline: float, doing: str) -> None:
    if time.monotonic() >= deadline:
        raise CollectionError("timeout", f"deadline passed while {doing}")


def _cleanup(proto: WinRMProtocol, shell: str, command: str | None) -> None:
    """Signal terminate to a command still running (``command``: None when there is none, or it has
    finished), then Delete the shell. Delete alone would do: "Any commands in progress SHOULD be
    immediately terminated and all resources for the Shell SHOULD be freed" (MS-WSMV 3.1.4.4.1,
    https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/d2855e51-d060-40e2-a7bc-972ae8b403de),
    but a run cut at its deadline ends its script the way pywinrm and winrs do first. Errors here
    change nothing."""
    try:
        if command is not None:
            proto.cleanup_command(shell, command)
    except Exception as exc:  # the shell may already be gone; Delete below still frees it
        log.debug("WinRM Signal failed: %s", type(exc).__name__)
    try:
        proto.close_shell(shell, close_session=False)  # the runner decides (``keep_connection``)
    except Exception as exc:
        log.debug("WinRM Delete failed: %s", type(exc).__name__)


def classify(exc: BaseException, endpoint: str) -> CollectionError:
    """A pywinrm/requests exception -> CollectionError with a stable reason and no secret."""
    if isinstance(exc, InvalidCredentialsError | PermissionError):
        return CollectionError("auth", f"{endpoint}: credentials rejected (HTTP 401)")
    if isinstance(exc, requests.exceptions.SSLError):
        return CollectionError("tls", f"{endpoint}: TLS failed: {_short(exc)}")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return CollectionError("connect", f"{endpoint}: connect timed out")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return CollectionError("timeout", f"{endpoint}: no answer within the read timeout")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return CollectionError("connect", f"{endpoint}: cannot connect: {_short(exc)}")
    if isinstance(exc, WinRMOperationTimeoutError):
        return CollectionError("timeout", f"{endpoint}: WS-Man operation timed out")
    if isinstance(exc, WSManFaultError):
        return CollectionError(
            "http_status",
            f"{endpoint}: HTTP {exc.code} WS-Man fault {exc.wsman_fault_code}: {(exc.reason or '').strip()[:300]}",
        )
    if isinstance(exc, WinRMTransportError):
        return CollectionError("http_status", f"{endpoint}: HTTP {exc.code} from the WinRM service")
    if isinstance(exc, WinRMError):
        return CollectionError("config", f"{endpoint}: WinRM client error: {_short(exc)}")
    if isinstance(exc, requests.exceptions.RequestException):
        return CollectionError("connect", f"{endpoint}: {type(exc).__name__}")
    if isinstance(exc, AssertionError | StopIteration | ElementTree.ParseError):
        # pywinrm asserts RelatesTo on Signal/Delete and next()s for ShellId/CommandId: an answer
        # that is not the WS-Man response to our request.
        return CollectionError(
            "malformed", f"{endpoint}: WS-Man response does not fit the request ({type(exc).__name__})"
        )
    if isinstance(exc, OSError) and "CA certificate bundle" in str(exc):
        # requests checks tls.ca_file only when it first connects.
        return CollectionError("config", f"{endpoint}: {_short(exc)}")
    return CollectionError("internal", f"{endpoint}: unexpected {type(exc).__name__} in the WinRM transport")


def _short(exc: BaseException) -> str:
    # requests' messages can be long chains of urllib3 reprs; the last line is the useful one.
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text[:200]


def script_error(result: ScriptResult) -> str:
    """A readable message for a script that failed: its own errors, else the decoded stderr."""
    return clixml.decode(result.stderr) or f"exit code {result.exit_code} and nothing on stderr"
