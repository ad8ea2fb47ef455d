"""Configuration: environment variables, each mirrored by a CLI flag (flags win), all listed in VARIABLES.

Claude Desktop passes every declared variable, filling the ones the user left blank with ``""`` or
with the unexpanded template ``${user_config.x}``: both count as unset here. The server starts
without credentials; a tool that needs one reports the missing variable by name when called.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from mcp_server.errors import ConfigError
from mcp_server.library.url_password import passwords_in

logger = logging.getLogger(__name__)

DEFAULT_LOGROCKET_API_URL = "https://api.logrocket.com/v1"
# Hosted Highlight shut down on 2026-02-28; this stays the default because it is what the SDKs and
# the API description use, and the endpoint is configurable (self-hosted or a successor).
DEFAULT_HIGHLIGHT_PUBLIC_GRAPH_URL = "https://pub.highlight.io"
# Alternatives, named in error messages and the README.
SELF_HOSTED_HIGHLIGHT_PUBLIC_GRAPH_URL = "http://localhost:8082/public"
LAUNCHDARKLY_PUBLIC_GRAPH_URL = "https://pub.observability.app.launchdarkly.com"

# How a variable's text becomes a value: "text" as is; "number" a float; "whole" an int; "duration" seconds, written
# as a number of seconds or with a unit (15m, 1h, 1d); "names" a
# comma-separated list (a tuple), "name set" one whose order does not matter (a frozenset); "yes/no" a bool whose
# unreadable value means the field's default; "yes/no, safe: yes" one whose unreadable value means True (a typo
# must not switch writes on).
Kind = Literal["text", "number", "whole", "duration", "names", "name set", "yes/no", "yes/no, safe: yes"]
# Which commands take a setting's flag: every command that runs tools, or only `serve`: "serve" for what only a
# running server does (background sync), "http" for the HTTP service.
Scope = Literal["tools", "serve", "http"]


@dataclass(frozen=True)
class Variable:
    """One setting: its environment variable and the command-line flag of the same meaning (the flag wins).

    ``attr`` is the ``Settings`` field it sets, or for the two process options (``sandbox``, ``log_level``)
    the name the command line gives it. A yes/no setting's flag is a switch that sets it to yes.
    """

    name: str
    attr: str
    kind: Kind
    help: str
    scope: Scope = "tools"
    # None only for a secret that must not show in process lists (``ps``): the caller token.
    flag: str | None = ""
    # What the flag's value is called in --help, when its kind does not say it well (a URL, hours).
    metavar: str = ""

    @property
    def option(self) -> str | None:
        """The flag: ``--`` and the field's name with dashes unless the row names another (or none)."""
        if self.flag is None:
            return None
        return self.flag or "--" + self.attr.replace("_", "-")

    @property
    def switch(self) -> bool:
        return self.kind.startswith("yes/no")


# Every variable the server reads, in the order the README's Configuration table lists them. A new setting is
# a field on Settings and one row here (tests/test_distribution.py checks the README table against this).
VARIABLES: tuple[Variable, ...] = (
    Variable(
        "LOGROCKET_API_KEY",
        "logrocket_api_key",
        "text",
        "LogRocket API key (prefer the environment variable: flags show in process lists)",
    ),
    Variable("LOGROCKET_APP_ID", "logrocket_app_id", "text", "LogRocket App ID, org/app"),
    Variable("LOGROCKET_API_URL", "logrocket_api_url", "text", "LogRocket API base URL", metavar="URL"),
    Variable("HIGHLIGHT_PROJECT_ID", "highlight_project_id", "text", "Highlight project id"),
    Variable(
        "HIGHLIGHT_PUBLIC_GRAPH_URL",
        "highlight_public_graph_url",
        "text",
        "Highlight public GraphQL endpoint",
        metavar="URL",
    ),
    Variable(
        "HIGHLIGHT_APP_URL",
        "highlight_app_url",
        "text",
        "Highlight web app address, for links to sessions",
        metavar="URL",
    ),
    Variable("SESSION_REPLAY_MCP_READ_ONLY", "read_only", "yes/no, safe: yes", "never register tools that write"),
    Variable(
        "SESSION_REPLAY_MCP_TOOLS",
        "enabled_tools",
        "name set",
        "comma-separated tools to enable (default: all)",
        flag="--tools",
    ),
    Variable("SESSION_REPLAY_MCP_READ_TIMEOUT", "read_timeout", "number", "seconds to wait for an upstream answer"),
    Variable("SESSION_REPLAY_MCP_CONNECT_TIMEOUT", "connect_timeout", "number", "seconds to wait for a connection"),
    Variable(
        "SESSION_REPLAY_MCP_MAX_RETRIES", "max_retries", "whole", "retries after 429, 5xx and connection failures"
    ),
    Variable(
        "SESSION_REPLAY_MCP_RETRY_BASE_DELAY",
        "retry_base_delay",
        "number",
        "seconds before the first retry (doubled for each next one, with jitter)",
    ),
    Variable(
        "SESSION_REPLAY_MCP_UPSTREAM_DEADLINE",
        "upstream_deadline",
        "number",
        "most seconds one upstream call may take, retries included",
    ),
    Variable(
        "SESSION_REPLAY_MCP_MAX_WAIT_SECONDS",
        "max_wait_seconds",
        "number",
        "longest a tool call may wait for Galileo highlights",
    ),
    Variable(
        "SESSION_REPLAY_MCP_ALLOWED_HOSTS",
        "allowed_hosts",
        "names",
        "comma-separated extra Host names the HTTP transports accept",
        scope="http",
    ),
    Variable(
        "SESSION_REPLAY_MCP_ALLOWED_ORIGINS",
        "allowed_origins",
        "names",
        "comma-separated extra Origins the HTTP transports accept",
        scope="http",
    ),
    Variable(
        "LOGROCKET_EXPORT_ALLOWED_HOSTS",
        "export_allowed_hosts",
        "names",
        "comma-separated export hosts exempt from the public-address rule (self-hosted storage)",
    ),
    Variable(
        "SESSION_REPLAY_MCP_WEBHOOK_ALLOWED_HOSTS",
        "webhook_allowed_hosts",
        "names",
        "comma-separated hosts (name or name:port) LogRocket may be asked to POST a user's highlights to",
    ),
    Variable(
        "SESSION_REPLAY_MCP_EXPORT_MAX_BYTES",
        "export_max_bytes",
        "whole",
        "most export data (after decompression) read per call",
        metavar="BYTES",
    ),
    Variable(
        "SESSION_REPLAY_MCP_EXPORT_TIME_BUDGET",
        "export_time_budget",
        "number",
        "seconds an export read may take before it answers with what it has",
    ),
    Variable(
        "SESSION_REPLAY_MCP_EXPORT_PARSE_WORKERS",
        "export_parse_workers",
        "whole",
        "processes beside the server that parse parts of a large export on another core (0 or 1)",
    ),
    Variable("SESSION_REPLAY_MCP_CACHE_DIR", "cache_dir", "text", "where export indexes are cached", metavar="DIR"),
    Variable(
        "SESSION_REPLAY_MCP_CACHE_MAX_BYTES",
        "cache_max_bytes",
        "whole",
        "size cap of the export index cache",
        metavar="BYTES",
    ),
    Variable(
        "SESSION_REPLAY_MCP_CACHE_MAX_AGE_HOURS",
        "cache_max_age_hours",
        "number",
        "age in hours after which a cached export index is dropped",
        metavar="HOURS",
    ),
    Variable(
        "SESSION_REPLAY_MCP_INDEX_URL",
        "index_url",
        "text",
        "the session index: sqlite:////path.db, a file path, or postgresql://... (default: SQLite in the user's "
        "data directory; a URL with a password belongs in the environment variable: flags show in process lists)",
        metavar="URL",
    ),
    Variable(
        "SESSION_REPLAY_MCP_INDEX_RETENTION_DAYS",
        "index_retention_days",
        "number",
        "days after which an indexed session is pruned",
        metavar="DAYS",
    ),
    Variable(
        "SESSION_REPLAY_MCP_SYNC_TIME_BUDGET",
        "sync_time_budget",
        "number",
        "seconds one sync_sessions call may take before it answers with the call that continues",
    ),
    Variable(
        "SESSION_REPLAY_MCP_SYNC_CONCURRENCY", "sync_concurrency", "whole", "exports a sync reads at once (1 to 32)"
    ),
    Variable(
        "SESSION_REPLAY_MCP_SYNC_FIRST_DAYS",
        "sync_first_days",
        "number",
        "how far back a sync reaches when the index holds nothing for the app yet and no since is given",
        metavar="DAYS",
    ),
    Variable(
        "SESSION_REPLAY_MCP_SYNC_EVERY",
        "sync_every",
        "duration",
        "sync the session index in the background this often, e.g. 15m or 1h (default: off)",
        scope="serve",
    ),
    Variable(
        "SESSION_REPLAY_MCP_SYNC_ON_START",
        "sync_on_start",
        "yes/no",
        "sync the session index once in the background as the server starts (on with --sandbox)",
        scope="serve",
    ),
    Variable(
        "SESSION_REPLAY_MCP_AUTH_TOKEN",
        "auth_token",
        "text",
        "the token HTTP callers must send as Authorization: Bearer <token>",
        scope="http",
        flag=None,
    ),
    Variable(
        "SESSION_REPLAY_MCP_ALLOW_UNAUTHENTICATED",
        "allow_unauthenticated",
        "yes/no",
        "serve a non-loopback address without SESSION_REPLAY_MCP_AUTH_TOKEN, on purpose",
        scope="http",
    ),
    Variable(
        "SESSION_REPLAY_MCP_MAX_REQUEST_BYTES",
        "max_request_bytes",
        "whole",
        "largest HTTP request body accepted, in bytes; larger ones get 413",
        scope="http",
        metavar="BYTES",
    ),
    Variable(
        "SESSION_REPLAY_MCP_HEADER_TIMEOUT",
        "header_timeout",
        "number",
        "seconds a client may take to send a request, headers and body; slower ones get 408",
        scope="http",
    ),
    Variable(
        "SESSION_REPLAY_MCP_MAX_CONNECTIONS",
        "max_connections",
        "whole",
        "connections open at once per worker; more get 503",
        scope="http",
    ),
    Variable(
        "SESSION_REPLAY_MCP_SANDBOX",
        "sandbox",
        "yes/no",
        "start the built-in emulator (LogRocket, Highlight) and use it",
    ),
    Variable("SESSION_REPLAY_MCP_LOG_LEVEL", "log_level", "text", "stderr log level (default INFO, WARNING for call)"),
)
# The process options: read by the command line, not part of Settings.
PROCESS_OPTIONS = frozenset({"sandbox", "log_level"})
BY_ATTR: Mapping[str, Variable] = {v.attr: v for v in VARIABLES}
# Settings field -> the environment variable that sets it.
ENV_VARS: Mapping[str, str] = {v.attr: v.name for v in VARIABLES if v.attr not in PROCESS_OPTIONS}

# The most SESSION_REPLAY_MCP_MAX_WAIT_SECONDS may allow: one tool call holding for an hour is enough.
MAX_WAIT_LIMIT = 3600
# Bounds of the header timeout: a real client sends its headers at once; a minute is more than generous.
MAX_HEADER_TIMEOUT = 300.0
# The smallest HTTP request body limit allowed: below it even an ordinary tool call would be refused.
MIN_REQUEST_BYTES = 4096

_UNEXPANDED = re.compile(r"^\$\{[^}]*\}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class AppRef:
    """A LogRocket app, addressed as ``/orgs/{org}/apps/{app}`` by the API."""

    org: str
    app: str

    def __str__(self) -> str:
        return f"{self.org}/{self.app}"


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know; immutable, so one instance can serve every request."""

    logrocket_api_key: str | None = field(default=None, repr=False)
    logrocket_app_id: str | None = None
    logrocket_api_url: str = DEFAULT_LOGROCKET_API_URL
    highlight_project_id: str | None = None
    highlight_public_graph_url: str = DEFAULT_HIGHLIGHT_PUBLIC_GRAPH_URL
    # Highlight's web app, for links to sessions; None derives it from the endpoint when it can.
    highlight_app_url: str | None = None
    read_only: bool = False
    # None means every tool; otherwise only these (still subject to read_only).
    enabled_tools: frozenset[str] | None = None
    # Upstream HTTP policy.
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_retries: int = 3
    retry_base_delay: float = 0.5
    # Most seconds one upstream call may take, retries and a slowly arriving answer included.
    upstream_deadline: float = 45.0
    # Longest a tool may wait for a slow upstream job in one call (Galileo highlights); past it, the
    # tool answers "still pending" with the call that resumes. Callers choose less (50 s by default).
    max_wait_seconds: float = 300.0
    # Extra Host header values accepted by the HTTP transports (loopback is always accepted).
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    # Export downloads: hosts exempt from the public-address rule (may be plain http), and per-call limits.
    export_allowed_hosts: tuple[str, ...] = ()
    export_max_bytes: int = 1 << 30
    # Hosts LogRocket may be asked to POST highlights to (summarize_user_sessions' webhook_url); none by default.
    webhook_allowed_hosts: tuple[str, ...] = ()
    export_time_budget: float = 50.0
    # A process that parses parts of a large export beside the server, so that one read uses two cores
    # (started on a machine with more than one only: when exports are listed, or once a read passes 768 KB).
    export_parse_workers: int = 1
    # The on-disk cache of export indexes (None: the platform's user cache directory).
    cache_dir: str | None = None
    cache_max_bytes: int = 2 << 30
    cache_max_age_hours: float = 24.0
    # HTTP transports: the token callers must send (Authorization: Bearer), the explicit choice to serve a
    # non-loopback address without one, and the largest request body accepted. Tool arguments are small
    # (the biggest is a URL or a few traits), so 1 MiB is generous and still bounds what a stranger can send.
    auth_token: str | None = field(default=None, repr=False)
    allow_unauthenticated: bool = False
    max_request_bytes: int = 1 << 20
    # HTTP transports, per worker process: seconds a client may take to send a request, headers and body (slow
    # clients otherwise hold connections forever), and how many connections may be open at once (more get 503).
    header_timeout: float = 10.0
    max_connections: int = 200
    # The session index: None is SQLite in the user's data directory; else sqlite:////path.db, a path, or
    # postgresql://... (shared by every worker on every machine). Sessions older than the retention are pruned.
    index_url: str | None = field(default=None, repr=False)
    index_retention_days: float = 30.0
    # sync_sessions: seconds one call may take before it answers "not done" with the call that continues,
    # and exports read at once. sync_every: seconds between background syncs (0: off); sync_on_start: one
    # background sync as the server starts.
    sync_time_budget: float = 50.0
    # Storage hosts answer each file after 50 to 150 ms: 32 reads at once overlap those waits (at 100 ms, 173 to
    # 195 files per second against 134 to 137 with 16; bench/library.py --latency 100), for about 1.5 MB of
    # memory per read under way (4 MB exports: 44 MB of peak growth against 28 MB with 16).
    sync_concurrency: int = 32
    sync_every: float = 0.0
    sync_on_start: bool = False
    # How far back a sync reaches when the index holds nothing for the app yet and no since is given.
    sync_first_days: float = 7.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read settings from ``environ`` (default: the process environment); ``overrides`` win when not None."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            variable = BY_ATTR[f.name]
            raw = env.get(variable.name)
            if not is_unset(raw):
                assert raw is not None
                values[f.name] = _convert(variable, raw.strip(), f.default)
        for name, value in overrides.items():
            if value is not None:
                values[name] = value
        settings = cls(**values)
        settings._check()
        return settings

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def _check(self) -> None:
        for name in ("logrocket_api_url", "highlight_public_graph_url", "highlight_app_url"):
            url = getattr(self, name)
            if url is None:
                continue
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"{ENV_VARS[name]} must be an http(s) URL, got {url!r}")
        if not 0 < self.upstream_deadline <= MAX_WAIT_LIMIT:
            raise ConfigError(
                f"{ENV_VARS['upstream_deadline']} must be more than 0 and at most {MAX_WAIT_LIMIT} seconds, "
                f"got {self.upstream_deadline:g}"
            )
        if not 0 < self.max_wait_seconds <= MAX_WAIT_LIMIT:
            raise ConfigError(
                f"{ENV_VARS['max_wait_seconds']} must be more than 0 and at most {MAX_WAIT_LIMIT} seconds, "
                f"got {self.max_wait_seconds:g}"
            )
        if not 0 < self.header_timeout <= MAX_HEADER_TIMEOUT:
            raise ConfigError(
                f"{ENV_VARS['header_timeout']} must be more than 0 and at most {MAX_HEADER_TIMEOUT:g} seconds, "
                f"got {self.header_timeout:g}"
            )
        if self.max_connections < 1:
            raise ConfigError(f"{ENV_VARS['max_connections']} must be 1 or more, got {self.max_connections}")
        if self.index_retention_days <= 0:
            raise ConfigError(
                f"{ENV_VARS['index_retention_days']} must be a number of days above 0, "
                f"got {self.index_retention_days:g}"
            )
        if self.sync_first_days <= 0:
            raise ConfigError(f"{ENV_VARS['sync_first_days']} must be a number of days above 0")
        if self.export_parse_workers not in (0, 1):
            raise ConfigError(f"{ENV_VARS['export_parse_workers']} must be 0 or 1, got {self.export_parse_workers}")
        if not 1 <= self.sync_concurrency <= 32:
            raise ConfigError(f"{ENV_VARS['sync_concurrency']} must be from 1 to 32, got {self.sync_concurrency}")
        if not 0 < self.sync_time_budget <= MAX_WAIT_LIMIT:
            raise ConfigError(
                f"{ENV_VARS['sync_time_budget']} must be more than 0 and at most {MAX_WAIT_LIMIT} seconds, "
                f"got {self.sync_time_budget:g}"
            )
        if self.sync_every < 0 or 0 < self.sync_every < 60:
            raise ConfigError(
                f"{ENV_VARS['sync_every']} must be 0 (off) or at least 60 seconds, got {self.sync_every:g}"
            )
        if self.max_request_bytes < MIN_REQUEST_BYTES:
            raise ConfigError(
                f"{ENV_VARS['max_request_bytes']} must be at least {MIN_REQUEST_BYTES} bytes, "
                f"got {self.max_request_bytes}"
            )

    def to_env(self) -> dict[str, str]:
        """These settings as environment variables that ``from_env`` reads back into equal settings.

        How ``serve --workers N`` hands the parent's settings (flags and sandbox included) to worker processes.
        """
        env: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, frozenset):
                # An empty selection (no tool enabled) must not read back as unset (every tool).
                text = ",".join(sorted(value)) or ","
            elif isinstance(value, tuple):
                text = ",".join(value)
            else:
                text = str(value)
            env[ENV_VARS[f.name]] = text
        return env

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in any output or log."""
        index_passwords = passwords_in(self.index_url) if self.index_url else []
        return tuple(s for s in (self.logrocket_api_key, self.auth_token, *index_passwords) if s)

    def logrocket_credentials(self) -> tuple[str, AppRef]:
        """The API key and app a LogRocket call needs, or a ConfigError naming what to set."""
        key = self.logrocket_api_key
        if not key:
            raise ConfigError(
                "LOGROCKET_API_KEY is not set. Set it to the API key from LogRocket (Settings > API Keys) "
                "in the server's environment or in the extension settings, then retry. "
                "To try the tools without an account, start the server with --sandbox."
            )
        if self.logrocket_app_id:
            return key, parse_app_id(self.logrocket_app_id)
        derived = app_from_key(key)
        if derived is None:
            raise ConfigError(
                "LOGROCKET_APP_ID is not set. Set it to the App ID LogRocket shows for your project, "
                "in the form org/app (for example acme/web), then retry."
            )
        return key, derived


def is_unset(value: str | None) -> bool:
    """True for a missing value, a blank one, or an unexpanded ``${...}`` template."""
    if value is None:
        return True
    stripped = value.strip()
    return not stripped or bool(_UNEXPANDED.match(stripped))


def parse_bool(var: str, raw: str, *, fail_safe: bool) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    logger.warning("%s=%r is not a yes/no value; using %s", var, raw, fail_safe)
    return fail_safe


def parse_app_id(value: str) -> AppRef:
    """Accept ``org/app`` as LogRocket shows it, or a dashboard URL such as ``https://app.logrocket.com/org/app/...``."""
    text = value.strip()
    if "://" in text:
        text = urlsplit(text).path
    parts = [p for p in text.strip("/").split("/") if p]
    if len(parts) >= 2 and all(_is_id_segment(p) for p in parts[:2]):
        return AppRef(parts[0], parts[1])
    raise ConfigError(
        "LOGROCKET_APP_ID must be the App ID LogRocket shows, in the form org/app (for example acme/web); "
        f"got {value!r}."
    )


def app_from_key(key: str) -> AppRef | None:
    """LogRocket keys usually read ``org:app:secret`` (or ``pat:org:app:secret``); None when this one does not."""
    parts = key.split(":")
    if parts and parts[0] == "pat":
        parts = parts[1:]
    if len(parts) == 3 and all(parts) and _is_id_segment(parts[0]) and _is_id_segment(parts[1]):
        return AppRef(parts[0], parts[1])
    return None


def _is_id_segment(text: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,127}", text))


def _convert(variable: Variable, raw: str, default: Any) -> Any:
    var = variable.name
    if variable.kind == "yes/no, safe: yes":
        return parse_bool(var, raw, fail_safe=True)
    if variable.kind == "yes/no":
        return parse_bool(var, raw, fail_safe=bool(default))
    if variable.kind in ("names", "name set"):
        names = tuple(n for n in (t.strip() for t in raw.split(",")) if n)
        return frozenset(names) if variable.kind == "name set" else names
    if variable.kind == "whole":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{var} must be a whole number, got {raw!r}") from None
    if variable.kind == "number":
        try:
            return float(raw)
        except ValueError:
            unit = (variable.metavar or "seconds").lower()
            raise ConfigError(f"{var} must be a number of {unit}, got {raw!r}") from None
    if variable.kind == "duration":
        return parse_duration(var, raw)
    return raw


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)?")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(var: str, raw: str) -> float:
    """Seconds from ``15m``, ``1h``, ``90s``, ``1d`` or a plain number of seconds."""
    match = _DURATION.fullmatch(raw.strip().lower())
    if not match:
        raise ConfigError(f"{var}={raw!r} is not a duration; use e.g. 15m, 1h or 900 (seconds)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
