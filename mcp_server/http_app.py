"""The HTTP transports (Streamable HTTP at /mcp, SSE at /sse + /messages/) with Host/Origin checks on."""

from __future__ import annotations

import ipaddress
import logging
from typing import Literal

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_server import __version__
from mcp_server.server import SessionReplayServer
from mcp_server.settings import Settings

logger = logging.getLogger(__name__)

HttpTransport = Literal["streamable-http", "sse"]
_LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]
_LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


def transport_security(settings: Settings, host: str) -> TransportSecuritySettings:
    """DNS-rebinding protection: only loopback names, the bound address and configured names are accepted."""
    hosts = list(_LOOPBACK_HOSTS)
    if not _is_wildcard(host) and not _is_loopback(host):
        bracketed = f"[{host}]" if ":" in host else host
        hosts += [bracketed, f"{bracketed}:*"]
    for extra in settings.allowed_hosts:
        hosts += [extra, f"{extra}:*"] if ":" not in extra.strip("[]") or extra.startswith("[") else [extra]
    if _is_wildcard(host) and not settings.allowed_hosts:
        logger.warning(
            "Listening on %s but only loopback Host headers are accepted: set SESSION_REPLAY_MCP_ALLOWED_HOSTS "
            "to the names clients use to reach this server.",
            host,
        )
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[*_LOOPBACK_ORIGINS, *settings.allowed_origins],
    )


def build_http_app(server: SessionReplayServer, settings: Settings, transport: HttpTransport, host: str) -> Starlette:
    security = transport_security(settings, host)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "server": server.name, "version": __version__})

    if transport == "sse":
        app = server.sse_app(transport_security=security, host=host)
    else:
        app = server.streamable_http_app(transport_security=security, host=host)
    app.router.routes.append(Route("/health", health, methods=["GET"]))
    return app


def _is_wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")  # noqa: S104 - recognising it, not binding to it


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
