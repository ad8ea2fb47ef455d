"""Who may use the HTTP transports: the caller token, and the rule that refuses to serve strangers without one.

The server holds a LogRocket key and runs whatever a caller asks of its tools, so an HTTP endpoint that
anyone on the network can reach must demand a shared secret. The check is a plain ASGI middleware around
the whole application (not the SDK's OAuth machinery, which needs an authorization server): one token,
compared in constant time, on every request but ``GET /health``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.errors import ConfigError
from mcp_server.settings import ENV_VARS, Settings

logger = logging.getLogger(__name__)

TOKEN_VAR = ENV_VARS["auth_token"]
OPEN_VAR = ENV_VARS["allow_unauthenticated"]
OPEN_FLAG = "--allow-unauthenticated"
# /health says only that the server runs, its name, version and the answering worker's process id: nothing
# a caller could use, and load balancers probe it without credentials.
OPEN_PATHS = frozenset({"/health"})
MIN_TOKEN_LENGTH = 16
# An HTTP header value clients can send verbatim: visible ASCII, no spaces.
_TOKEN_SHAPE = re.compile(r"[\x21-\x7e]+")
_REALM = 'Bearer realm="session-replay-mcp"'


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: 127.0.0.0/8, ::1 and ``localhost``."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None  # ::ffff:127.0.0.1
    return (mapped or address).is_loopback


def check_exposure(settings: Settings, host: str, transport: str) -> None:
    """Refuse (ConfigError) to serve a non-loopback address without a token, unless told to run open.

    Also refuses a token that is too short or not sendable as a header, naming the variable, never the value.
    """
    token = settings.auth_token
    if token is not None and (len(token) < MIN_TOKEN_LENGTH or not _TOKEN_SHAPE.fullmatch(token)):
        raise ConfigError(
            f"{TOKEN_VAR} must be at least {MIN_TOKEN_LENGTH} characters of visible ASCII without spaces; "
            "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if token is not None or is_loopback(host):
        return
    if not settings.allow_unauthenticated:
        raise ConfigError(
            f"refusing to serve {transport} on {host} without a caller token: anyone who can reach it could use "
            f"the tools and the LogRocket key behind them. Set {TOKEN_VAR} (clients send Authorization: Bearer "
            f"<token>), or pass {OPEN_FLAG} ({OPEN_VAR}=true) to run it open on purpose."
        )
    logger.warning(
        "Serving %s on %s WITHOUT a caller token (%s): anyone who can reach this address can use the tools.",
        transport,
        host,
        OPEN_FLAG,
    )


class BearerTokenMiddleware:
    """Answers 401 to any request (but those to ``OPEN_PATHS``) without ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        # Comparing digests keeps the comparison constant-time in the token's length too.
        self._digest = hashlib.sha256(token.encode()).digest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            await self._app(scope, receive, send)
            return
        problem = self._problem(scope)
        if problem is None:
            await self._app(scope, receive, send)
            return
        client = scope.get("client")
        logger.warning(
            "Refused %s %r from %s: %s",
            scope.get("method", "WEBSOCKET"),
            scope["path"][:200],
            client and client[0],
            problem,
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if problem == "no bearer token":
            body = {"error": "unauthorized", "message": "This server requires Authorization: Bearer <token>."}
            challenge = _REALM
        else:
            body = {"error": "invalid_token", "message": "The bearer token is not valid for this server."}
            challenge = f'{_REALM}, error="invalid_token"'
        response = JSONResponse(body, status_code=401, headers={"WWW-Authenticate": challenge})
        await response(scope, receive, send)

    def _problem(self, scope: Scope) -> str | None:
        """Why the request is refused (for the log; never the presented value), or None to let it in."""
        values = [value for name, value in scope["headers"] if name == b"authorization"]
        if not values:
            return "no bearer token"
        if len(values) > 1:
            return "more than one Authorization header"
        scheme, _, credentials = values[0].strip().partition(b" ")
        if scheme.lower() != b"bearer":
            return "no bearer token"
        presented = hashlib.sha256(credentials.strip()).digest()
        if not hmac.compare_digest(presented, self._digest):
            return "wrong bearer token"
        return None
