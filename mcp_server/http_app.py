"""The HTTP transports (Streamable HTTP at /mcp, SSE at /sse + /messages/) with exact Host/Origin checks on.

Around the SDK's application: the caller token (``http_auth``), the request body limit and ``GET /health``.
``create_app`` is the entry point of each worker process of ``serve --workers N``: it reads everything it
needs from the environment the parent process prepared (``worker_environment``).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from typing import Literal, cast

from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from mcp_server import __version__, http_protocol
from mcp_server.errors import ConfigError
from mcp_server.http_auth import OPEN_PATHS, BearerTokenMiddleware, check_exposure, is_loopback
from mcp_server.http_hosts import HostOriginMiddleware
from mcp_server.logs import LOG_LEVEL_VAR, configure_logging
from mcp_server.server import SessionReplayServer, build_server, freeze_startup_heap
from mcp_server.settings import ENV_VARS, Settings

logger = logging.getLogger(__name__)

HttpTransport = Literal["streamable-http", "sse"]
# The import string uvicorn gives each worker process, and how the parent passes the HTTP options to it.
WORKER_FACTORY = "mcp_server.http_app:create_app"
OPTIONS_VAR = "_SESSION_REPLAY_MCP_HTTP_OPTIONS"


@dataclass(frozen=True)
class HttpOptions:
    """How ``serve`` runs an HTTP transport (command-line only, unlike Settings)."""

    transport: HttpTransport = "streamable-http"
    host: str = "127.0.0.1"
    # Streamable HTTP without sessions: each request stands alone, so any worker (or machine) can answer it.
    stateless: bool = False


_LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
_LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


def allowed_hosts(settings: Settings, host: str) -> list[str]:
    """Host header values accepted: loopback names, the bound address and configured names (``:*`` any port)."""
    hosts = list(_LOOPBACK_HOSTS)
    if not _is_wildcard(host) and not is_loopback(host):
        hosts.append(f"[{host}]:*" if ":" in host else f"{host}:*")
    for extra in settings.allowed_hosts:
        hosts.append(_host_entry(extra))
    if _is_wildcard(host) and not settings.allowed_hosts:
        logger.warning(
            "Listening on %s but only loopback Host headers are accepted: set SESSION_REPLAY_MCP_ALLOWED_HOSTS "
            "to the names clients use to reach this server.",
            host,
        )
    return hosts


# The SDK's own Host/Origin check matches by prefix; HostOriginMiddleware does it exactly, around the whole app.
_SDK_CHECK_OFF = TransportSecuritySettings(enable_dns_rebinding_protection=False)


def build_http_app(server: SessionReplayServer, settings: Settings, options: HttpOptions) -> ASGIApp:
    """The application for one process. Checks nothing about exposure: ``check_exposure`` comes first."""
    security = _SDK_CHECK_OFF
    # Every process that serves builds its app here first (``serve`` itself, or each worker's create_app).
    http_protocol.configure(settings)
    limit = settings.max_request_bytes

    async def health(_: Request) -> Response:
        # The pid tells workers apart (behind a load balancer, in logs); it reveals nothing a caller can use.
        return JSONResponse({"status": "ok", "server": server.name, "version": __version__, "pid": os.getpid()})

    if options.transport == "sse":
        app = server.sse_app(transport_security=security, host=options.host, max_request_body_size=limit)
    else:
        app = server.streamable_http_app(
            transport_security=security,
            host=options.host,
            max_request_body_size=limit,
            stateless_http=options.stateless,
        )
    app.router.routes.append(Route("/health", health, methods=["GET"]))
    # The token first, then Host and Origin: strangers learn nothing about the allow-lists.
    guarded: ASGIApp = HostOriginMiddleware(
        app,
        allowed_hosts(settings, options.host),
        [*_LOOPBACK_ORIGINS, *settings.allowed_origins],
        open_paths=OPEN_PATHS,
    )
    if settings.auth_token is None:
        return guarded
    return BearerTokenMiddleware(guarded, settings.auth_token)


def check_options(options: HttpOptions, workers: int) -> None:
    """Refuse combinations that would lose sessions: MCP sessions (SSE, stateful HTTP) live in one process."""
    if workers < 1:
        raise ConfigError(f"--workers must be 1 or more, got {workers}")
    if options.stateless and options.transport != "streamable-http":
        raise ConfigError("--stateless applies to --transport streamable-http only")
    if workers > 1 and not options.stateless:
        raise ConfigError(
            f"--workers {workers} needs --transport streamable-http --stateless: an MCP session lives in the memory "
            "of the worker that opened it, so another worker could not answer its next request"
        )


def worker_environment(settings: Settings, options: HttpOptions, log_level: str) -> dict[str, str]:
    """The environment for worker processes: the parent's, with its settings (flags and sandbox included)."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS.values()}
    env.update(settings.to_env())
    env[OPTIONS_VAR] = json.dumps(asdict(options))
    env[LOG_LEVEL_VAR] = log_level
    return env


def create_app() -> ASGIApp:
    """uvicorn's factory in each worker process of ``serve --workers N``: settings come from the environment."""
    raw = os.environ.get(OPTIONS_VAR)
    if not raw:
        raise ConfigError(f"{WORKER_FACTORY} runs inside `session-replay-mcp serve --workers N`; start that instead")
    loaded = json.loads(raw)
    options = HttpOptions(
        transport=cast(HttpTransport, loaded["transport"]),
        host=str(loaded["host"]),
        stateless=bool(loaded["stateless"]),
    )
    configure_logging(os.environ.get(LOG_LEVEL_VAR) or "INFO", with_pid=True)
    settings = Settings.from_env()
    check_exposure(settings, options.host, options.transport)  # the parent checked; a worker never runs looser
    app = build_http_app(build_server(settings), settings, options)
    freeze_startup_heap()
    return app


def _host_entry(extra: str) -> str:
    """A configured Host: a name or address without a port allows any port; ``name:port`` only that one."""
    text = extra.strip()
    if text.count(":") > 1 and not text.startswith("["):
        return f"[{text}]:*"  # a bare IPv6 address
    has_port = "]:" in text if text.startswith("[") else ":" in text
    return text if has_port else f"{text}:*"


def _is_wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")  # noqa: S104 - recognising it, not binding to it
