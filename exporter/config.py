"""The daemon's configuration: a YAML file validated by pydantic models that forbid unknown keys.

Every model sets ``extra="forbid"`` so a typo (``pasword_env``) is named instead of silently
ignored. ``load_config`` turns every problem into one line ``<yaml path>: <why>`` and never echoes
an input value, because the input may be a secret. Passwords are references (env var, file or
command; exporter/secrets.py) resolved at collection time, so a rotated secret is picked up
without a restart.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from exporter.address import parse_address
from exporter.links import DEFAULT_GRAFANA_URL, DEFAULT_RUNBOOK_BASE

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Durations: numbers are seconds; strings are Go/Prometheus style ("90s", "5m", "1h30m", "250ms").

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_DURATION_SECONDS = 7 * 86400.0
MIN_INTERVAL_SECONDS = 0.1  # a collector polled faster than this hammers its cluster for nothing


def parse_duration(value: Any) -> float:
    """Seconds from a number or a Go-style duration string; positive only."""
    if isinstance(value, bool):  # bool is an int subclass: `interval: yes` is a typo, not 1 s
        raise ValueError("expected a duration (seconds, or a string like '30s', '5m', '1h')")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _DURATION_PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise ValueError(
                    "invalid duration: use seconds or a string like '30s', '5m', '1h30m', '250ms'"
                ) from None
    else:
        raise ValueError("expected a duration (seconds, or a string like '30s', '5m', '1h')")
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError("duration must be greater than zero")
    if seconds > MAX_DURATION_SECONDS:  # 1e300 would overflow the scheduler's datetime arithmetic
        raise ValueError("duration too long: at most 7d")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


def _existing_file(value: str | None) -> str | None:
    if value is not None and not Path(value).is_file():
        raise ValueError(f"file not found: {value}")
    return value


_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------


class WebConfig(_Model):
    listen_address: str = "127.0.0.1:9940"
    # exporter-toolkit web-config.yml (TLS, basic auth, headers): exporter/webconfig.py.
    config_file: str | None = None
    max_requests: int = Field(default=40, ge=1)

    @field_validator("listen_address")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_listen_address(value)
        return value

    _config_file = field_validator("config_file")(_existing_file)


def split_listen_address(value: str) -> tuple[str, int]:
    """``host:port``, ``:port`` (all interfaces) or ``[v6]:port`` -> (host, port)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError("expected HOST:PORT (e.g. 127.0.0.1:9940, :9940 or [::1]:9940)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError("an IPv6 address must be bracketed: [::1]:9940")
    return host, int(port_text)


class LinksConfig(_Model):
    """Where the status page's runbook and dashboard links point (exporter/links.py)."""

    runbook_base_url: str = DEFAULT_RUNBOOK_BASE  # a copy of the repository tree; + docs/runbooks/<Name>.md
    grafana_url: str = DEFAULT_GRAFANA_URL  # + /d/<dashboard uid>

    @field_validator("runbook_base_url", "grafana_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an absolute http:// or https:// URL")
        return value


class LoggingConfig(_Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class TlsConfig(_Model):
    verify: bool = True
    ca_file: str | None = None

    _ca_file = field_validator("ca_file")(_existing_file)


class DefaultsConfig(_Model):
    timeout_seconds: Duration = 60.0
    stale_after_cycles: int = Field(default=3, ge=0)
    max_records: int = Field(default=1000, ge=1)
    tls: TlsConfig = TlsConfig()


class Credentials(_Model):
    username: str = Field(min_length=1)
    password_env: str | None = None
    password_file: str | None = None
    password: SecretStr | None = None
    # argv (no shell) whose stdout is the password; run at most once per cache period.
    password_command: list[str] | None = None
    password_command_timeout: Duration = 10.0
    password_command_cache: Duration = 300.0

    @field_validator("password_command")
    @classmethod
    def _argv(cls, value: list[str] | None) -> list[str] | None:
        # Never echo the arguments: a command line may carry a token.
        if value is not None and (not value or not value[0].strip()):
            raise ValueError("expected a non-empty list: [program, arg, ...] (run without a shell)")
        return value

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_RE.match(value):
            raise ValueError("not a valid environment variable name")
        return value

    @field_validator("password")
    @classmethod
    def _inline_allowed(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        context = info.context or {}
        if value is not None and not context.get("allow_inline_secrets", False):
            raise ValueError(
                "inline passwords are refused; use password_env or password_file "
                "(or set allow_inline_secrets: true for a lab)"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Credentials:
        sources = ("password_env", "password_file", "password_command", "password")
        given = [n for n in sources if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of password_env, password_file, password_command, password"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class CollectorEntry(_Model):
    enabled: bool = True
    interval: Duration | None = None  # None: the collector's default interval

    @field_validator("interval")
    @classmethod
    def _sane_interval(cls, value: float | None) -> float | None:
        if value is not None and value < MIN_INTERVAL_SECONDS:
            raise ValueError(f"interval too short: at least {MIN_INTERVAL_SECONDS:g}s")
        return value


class OntapCollectorEntry(CollectorEntry):
    client_detail: bool = False  # sessions: per-client series (cardinality!)


class ExchangeSelectorConfig(_Model):
    """Which VMs are Exchange guests (hypervisor targets). Any one match selects a VM.

    ``None`` keeps the collector's documented default (docs/hypervisor-rules.md): name patterns
    ``*exch*``/``*mbx*`` and the annotation marker ``ndo:exchange``.
    """

    name_patterns: list[str] | None = None
    annotation_marker: str | None = None  # substring of the VM annotation / Hyper-V Notes


class VsphereExchangeSelectorConfig(ExchangeSelectorConfig):
    tags: list[str] | None = None  # vSphere tag/custom attribute patterns (``name=value``)


class WinRMConfig(_Model):
    """How to reach a Hyper-V host (kind: hyperv)."""

    transport: Literal["ntlm", "kerberos", "credssp", "basic"] = "ntlm"
    # auto: encrypt WinRM messages over http:// with NTLM/Kerberos/CredSSP; TLS protects https://.
    message_encryption: Literal["auto", "always", "never"] = "auto"


# vSphere's SOAP endpoint: the URL vSphere users paste (govc's GOVC_URL, PowerCLI, VMware's docs).
_VSPHERE_PATH = re.compile(r"/sdk/?$", re.IGNORECASE)


def vsphere_endpoint(value: str) -> str:
    """A ``kind: vsphere`` address without its ``/sdk`` path, for ``validate_address``.

    vSphere's API is HTTPS only and its one endpoint is ``/sdk``: ``https://vc[:port]/sdk`` (or
    ``vc/sdk``, https implied) is accepted; ``http://`` and any other path are refused.
    """
    scheme, sep, rest = value.strip().partition("://")
    if not sep:
        scheme, rest = "", value.strip()
    if sep and scheme.lower() == "http":
        raise ValueError("the vSphere API is HTTPS only: use https://host[:port][/sdk] or host[:port]")
    if "@" in rest:
        return value  # validate_address refuses it without echoing the secret
    rest = _VSPHERE_PATH.sub("", rest)
    if any(c in rest.rstrip("/") for c in "/?#"):
        raise ValueError("give host[:port] or https://host[:port]/sdk (the only path of the vSphere API)")
    return f"{scheme}://{rest}" if sep else rest


class TargetConfig(_Model):
    """The keys every kind of target has; each kind's section below adds only its own.

    ``Config.targets`` is a union of the sections discriminated on ``kind`` (``TARGET_SECTIONS``),
    so a source's adapter reads typed fields of its own section, and a key of another kind (say
    ``winrm`` on an ONTAP target) is refused as an unknown key of that target.
    """

    # The names of the kind's collectors, for the ``collectors:`` check. The sources' registry is
    # built from each collector's one declaration; tests/unit/test_source_registry.py holds the two
    # lists equal, so config.py need not import a source (it imports only leaves).
    collector_names: ClassVar[tuple[str, ...]] = ()

    name: str
    kind: str
    address: str
    credentials: Credentials
    tls: TlsConfig = TlsConfig()
    timeout_seconds: Duration = 60.0
    connect_timeout_seconds: Duration = 5.0
    # Largest response body read from the target (after decompression): far above a real page
    # (collectors/netguard.py), so only a broken or hostile peer reaches it.
    max_response_bytes: int = Field(default=64 * 1024 * 1024, ge=64 * 1024, le=1024 * 1024 * 1024)
    stale_after_cycles: int = Field(default=3, ge=0)
    labels: dict[str, str] = Field(default_factory=dict)
    collectors: Mapping[str, CollectorEntry] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("use only letters, digits, '_', '.' and '-'")
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        validate_address(value)
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _LABEL_RE.match(name) or name.startswith("__"):
                raise ValueError(
                    f"invalid label name {name!r}: use [a-zA-Z_][a-zA-Z0-9_]*, not starting '__'"
                )
        return value

    @field_validator("collectors")
    @classmethod
    def _collectors(cls, value: Mapping[str, CollectorEntry], info: ValidationInfo) -> Mapping[str, CollectorEntry]:
        kind = info.data.get("kind")
        if kind is None:  # kind itself was invalid: already reported
            return value
        known = cls.known_collectors(kind)
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(
                f"unknown collector(s) {', '.join(unknown)} for kind {kind}; known: {', '.join(known)}"
            )
        return value

    @classmethod
    def known_collectors(cls, kind: str) -> tuple[str, ...]:
        return cls.collector_names

    def collector(self, name: str) -> CollectorEntry | None:
        """The target's ``collectors.<name>`` entry, or None when the collector is not listed."""
        return self.collectors.get(name)


# kind -> its section, in declaration order: each section registers itself with ``@section``.
TARGET_SECTIONS: dict[str, type[TargetConfig]] = {}
S = TypeVar("S", bound=TargetConfig)


def section(cls: type[S]) -> type[S]:
    """Make ``cls`` the config section of the kind its ``kind: Literal["..."]`` field names: the
    one line a new source adds here (config.py imports no source, so the section lives here)."""
    (kind,) = get_args(cls.model_fields["kind"].annotation)
    if kind in TARGET_SECTIONS:
        raise ValueError(f"kind {kind} has two sections")
    TARGET_SECTIONS[kind] = cls
    return cls


@section
class OntapTarget(TargetConfig):
    collector_names: ClassVar[tuple[str, ...]] = ("health", "nodes", "lifs", "shares", "sessions", "files")

    kind: Literal["ontap"]
    max_records: int = Field(default=1000, ge=1)  # page size of every REST collection request
    collectors: Mapping[str, OntapCollectorEntry] = Field(default_factory=dict)
    # Share name patterns (fnmatch) that must be continuously available even when they are not yet.
    ca_shares: list[str] = Field(default_factory=list)
    # DNS names (CNAMEs) of this cluster's SMB servers the exporter cannot see -> the SVM they
    # reach, for the takeover join (docs/takeover-blast-radius.md).
    smb_server_aliases: dict[str, str] = Field(default_factory=dict)

    def collector(self, name: str) -> OntapCollectorEntry | None:
        return self.collectors.get(name)


@section
class VsphereTarget(TargetConfig):
    collector_names: ClassVar[tuple[str, ...]] = ("inventory",)

    kind: Literal["vsphere"]
    max_records: int = Field(default=1000, ge=1)  # objects per PropertyCollector page
    # Exchange guest selection and the host-OS vCPU baseline counted in the vCPU:core ratio (None:
    # Microsoft's 2, on every hypervisor).
    exchange: VsphereExchangeSelectorConfig = VsphereExchangeSelectorConfig()
    host_os_vcpus: int | None = Field(default=None, ge=0)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        validate_address(vsphere_endpoint(value))
        return value


@section
class HyperVTarget(TargetConfig):
    collector_names: ClassVar[tuple[str, ...]] = ("inventory",)

    kind: Literal["hyperv"]
    exchange: ExchangeSelectorConfig = ExchangeSelectorConfig()
    host_os_vcpus: int | None = Field(default=None, ge=0)
    # Service-name patterns (fnmatch, case-insensitive) allowed on the host although they match a
    # server application, e.g. a backup product's own SQL Express instance (MSSQL$VEEAMSQL*).
    host_allowed_services: list[str] = Field(default_factory=list)
    winrm: WinRMConfig = WinRMConfig()


# Kinds added at run time (``register_kind``): a source outside this package, or the tests'
# exporter.testing.FakeSource. They get the common keys plus ``max_records``.
_EXTRA_KINDS: dict[str, tuple[str, ...]] = {}


def register_kind(kind: str, collector_names: tuple[str, ...]) -> None:
    """Make ``kind`` a valid target kind whose collectors are ``collector_names``."""
    if kind in TARGET_SECTIONS:
        raise ValueError(f"kind {kind} has its own section")
    _EXTRA_KINDS[kind] = tuple(collector_names)


class ExtraTarget(TargetConfig):
    max_records: int = Field(default=1000, ge=1)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in _EXTRA_KINDS:
            raise ValueError(f"unknown kind; known kinds: {', '.join(known_kinds())}")
        return value

    @classmethod
    def known_collectors(cls, kind: str) -> tuple[str, ...]:
        return _EXTRA_KINDS.get(kind, ())


class _UnknownKindTarget(TargetConfig):
    """What a target of no known kind is checked as: its kind is refused, the common keys are
    still checked (every problem reported at once), the other keys cannot be judged."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        # The value is not repeated: a secret pasted into the wrong key must not reach a log.
        raise ValueError(f"unknown kind; known kinds: {', '.join(known_kinds())}")


_TAGS: dict[str, type[TargetConfig]] = {**TARGET_SECTIONS, "extra": ExtraTarget, "unknown": _UnknownKindTarget}


def known_kinds() -> list[str]:
    return sorted({*TARGET_SECTIONS, *_EXTRA_KINDS})


def section_of(kind: Any) -> type[TargetConfig]:
    """The section a raw target with this ``kind`` value is validated as."""
    if isinstance(kind, str):
        if kind in TARGET_SECTIONS:
            return TARGET_SECTIONS[kind]
        if kind in _EXTRA_KINDS:
            return ExtraTarget
    return _UnknownKindTarget


def _tag(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, Mapping) else getattr(value, "kind", None)
    own = section_of(kind)
    return next(tag for tag, cls in _TAGS.items() if cls is own)


if TYPE_CHECKING:
    AnyTarget = TargetConfig  # every section is one; a source's adapter narrows to its own with isinstance
else:
    # A union of every section, discriminated on ``kind``, built from the registered sections.
    AnyTarget = Annotated[Union[tuple(Annotated[cls, Tag(tag)] for tag, cls in _TAGS.items())],  # noqa: UP007
                          Discriminator(_tag)]


def validate_address(value: str) -> None:
    """host | host:port | [v6]:port | https://host[:port] | http://host:port; never user:password@.

    The one parser (exporter/address.py) is the one every source uses to connect.
    """
    parse_address(value, 443)


class ShardingConfig(_Model):
    """This instance collects only the targets whose name hashes to ``shard`` (of ``of``).

    ``shard`` counts from 0, like StatefulSet pod ordinals; exporter/sharding.py has the hash.
    """

    shard: int = Field(default=0, ge=0)
    of: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _in_range(self) -> ShardingConfig:
        if self.shard >= self.of:
            raise ValueError(f"shard must be between 0 and {self.of - 1} (counting from 0)")
        return self

    def __str__(self) -> str:
        return f"{self.shard}/{self.of}"


class SchedulerConfig(_Model):
    """How many collection runs may be in flight at once (exporter/admission.py)."""

    # The defaults are exporter/admission.py's DEFAULT_CAPACITY and DEFAULT_LEASE_SECONDS (config
    # imports no runtime module; tests/unit/test_core_config.py holds them equal).
    max_runs_in_flight: int = Field(default=64, ge=1, le=10_000)
    run_slot_lease: Duration = 10.0
    # collectors/ontap/walker.py's WALK_PROCESSES (tests/unit/test_core_config.py holds them equal).
    walk_processes: int = Field(default=1, ge=0, le=16)

    @field_validator("run_slot_lease")
    @classmethod
    def _sane_lease(cls, value: float) -> float:
        if not 0.5 <= value <= 3600:
            raise ValueError("must be between 0.5s and 1h")
        return value


class Config(_Model):
    web: WebConfig = WebConfig()
    logging: LoggingConfig = LoggingConfig()
    links: LinksConfig = LinksConfig()
    allow_inline_secrets: bool = False
    defaults: DefaultsConfig = DefaultsConfig()
    sharding: ShardingConfig = ShardingConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    targets: list[AnyTarget] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _inherit_defaults(cls, data: Any) -> Any:
        """Copy ``defaults`` into each target that does not set the key (tls merged key by key)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("targets"), list):
            return data
        raw_defaults = data.get("defaults") or {}
        try:
            defaults = DefaultsConfig.model_validate(raw_defaults)
        except ValidationError:
            return data  # reported against `defaults`; don't repeat the error for every target
        targets: list[Any] = []
        for raw in data["targets"]:
            if isinstance(raw, Mapping):
                target = dict(raw)
                own = section_of(target.get("kind")).model_fields  # max_records: only kinds that page
                for key in ("timeout_seconds", "stale_after_cycles", "max_records"):
                    if key in own:
                        target.setdefault(key, getattr(defaults, key))
                tls = target.get("tls")
                if tls is None:
                    target["tls"] = defaults.tls.model_dump()
                elif isinstance(tls, Mapping):
                    target["tls"] = {**defaults.tls.model_dump(), **tls}
                raw = target
            targets.append(raw)
        return {**data, "targets": targets}

    @field_validator("targets")
    @classmethod
    def _unique_names(cls, value: list[AnyTarget]) -> list[AnyTarget]:
        seen: dict[str, int] = {}
        for i, target in enumerate(value):
            if target.name in seen:
                raise ValueError(
                    f"duplicate target name {target.name!r} (targets[{seen[target.name]}] and targets[{i}])"
                )
            seen[target.name] = i
        return value

    def target(self, name: str) -> TargetConfig:
        for target in self.targets:
            if target.name == name:
                return target
        raise KeyError(name)

    def with_overrides(
        self,
        *,
        web_config_file: str | None = None,
        listen_address: str | None = None,
        sharding: ShardingConfig | None = None,
    ) -> Config:
        """The command line wins over the file (``--web.config.file``, ``--web.listen-address``, ``--shard``)."""
        problems: list[str] = []
        web = self.web
        if web_config_file is not None:
            if not Path(web_config_file).is_file():
                problems.append(f"--web.config.file: file not found: {web_config_file}")
            web = web.model_copy(update={"config_file": web_config_file})
        if listen_address is not None:
            try:
                split_listen_address(listen_address)
            except ValueError as exc:
                problems.append(f"--web.listen-address: {exc}")
            web = web.model_copy(update={"listen_address": listen_address})
        if problems:
            raise ConfigError("command line", problems)
        return self.model_copy(update={"web": web, "sharding": sharding or self.sharding})


# --------------------------------------------------------------------------------------------
# Loading


class ConfigError(Exception):
    """An unusable configuration; ``problems`` holds one ``<yaml path>: <why>`` line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"invalid configuration {source}:\n" + "\n".join(f"  - {p}" for p in problems))


def _without_tag(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """pydantic puts the union member's tag after ``targets[i]``; the YAML path has no such key."""
    if len(loc) > 2 and loc[0] == "targets" and isinstance(loc[1], int) and loc[2] in _TAGS:
        return loc[:2] + loc[3:]
    return loc


def _loc_text(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model at ``loc``'s parent accepts (walks Config's annotations along the path)."""
    node: Any = Config
    for i, part in enumerate(loc[:-1]):
        if i == 2 and loc[0] == "targets" and isinstance(part, str) and part in _TAGS:
            node = _TAGS[part]  # the kind's own section
            continue
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(str(part))
            if field is None:
                return []
            node = field.annotation
        else:  # list[X] (index) or dict[str, X] (key): step into X
            args = [a for a in get_args(node) if a is not type(None)]
            node = args[-1] if args else None
        while get_origin(node) is not None and get_origin(node) not in (list, dict, Mapping):
            node = next((a for a in get_args(node) if a is not type(None)), None)  # X | None
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        loc = tuple(error.get("loc", ()))
        if len(loc) == 4 and loc[0] == "targets" and loc[2] in TARGET_SECTIONS:
            owners = [k for k, section in TARGET_SECTIONS.items() if str(loc[3]) in section.model_fields]
            if owners:  # winrm on an ONTAP target: say whose key it is
                return f"unknown key for kind {loc[2]}; it is a key of kind {', '.join(owners)}"
        allowed = _allowed_keys(loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1) if loc else []
        if close:
            return f"unknown key; did you mean {close[0]!r}?"
        return "unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    if kind == "missing":
        return "required key is missing"
    msg = str(error.get("msg", "invalid"))
    # pydantic prefixes our ValueErrors; the prefix says nothing to an operator.
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg


def problems_of(exc: ValidationError) -> list[str]:
    """One line per error, from ``loc`` and ``msg`` only: ``input`` may be a secret, so never used."""
    out = []
    for error in exc.errors(include_input=False):
        loc = tuple(error["loc"])
        out.append(f"{_loc_text(_without_tag(loc))}: {_message(error)}")
    return out


def parse_config(data: Any, source: str = "<config>") -> Config:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            source, ["(top level): expected a mapping of keys (web, logging, defaults, targets)"]
        )
    context = {"allow_inline_secrets": data.get("allow_inline_secrets") is True}
    try:
        return Config.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(source, problems_of(exc)) from None


MAX_CONFIG_BYTES = 4 * 1024 * 1024  # 10,000 targets fit in ~3 MB; /dev/zero must not fill memory
MAX_YAML_DEPTH = 64  # the schema nests 5 deep; 600 levels would recurse the parser out of stack


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML 1.2 says they are an error; PyYAML keeps the
    last one silently) and nesting deeper than ``MAX_YAML_DEPTH``."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.MarkedYAMLError(
                    problem=f"nested deeper than {MAX_YAML_DEPTH} levels", problem_mark=mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class reports it
                break
            if duplicate:
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {str(key)[:80]!r}", problem_mark=key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, source: str) -> Any:
    """Parse config-like YAML strictly; ``ConfigError`` with the line, never the content."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown position"
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(source, [f"YAML syntax error at {where}: {problem}"]) from None
    except RecursionError:
        raise ConfigError(source, [f"YAML nested too deeply (at most {MAX_YAML_DEPTH} levels)"]) from None


def load_config_text(text: str, source: str = "<config>") -> Config:
    data = load_yaml(text, source)
    try:
        return parse_config(data, source)
    except RecursionError:
        raise ConfigError(source, ["configuration nested too deeply"]) from None


def read_config_file(path: str | os.PathLike[str], what: str) -> str:
    """The file's text, or ``ConfigError`` saying why it cannot be read (never its content).

    At most ``MAX_CONFIG_BYTES`` are read: ``--config /dev/zero`` is an error, not a MemoryError.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(str(path), [f"the {what} is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB"])
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(str(path), [f"cannot read the {what}: {why}"]) from None


def load_config(path: str | os.PathLike[str]) -> Config:
    source = str(path)
    config = load_config_text(read_config_file(path, "config file"), source)
    warn_insecure(config)
    return config


def warn_insecure(config: Config) -> None:
    for target in config.targets:
        if not target.tls.verify:
            log.warning(
                "target %s: TLS certificate verification is disabled (tls.verify: false)", target.name
            )
        if target.address.startswith("http://"):
            log.warning("target %s: plain http:// sends the password unencrypted", target.name)
        if target.credentials.password is not None:
            log.warning("target %s: inline password in the config file (allow_inline_secrets)", target.name)
