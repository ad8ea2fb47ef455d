"""DNS-rebinding protection: the ``Host`` and ``Origin`` of every request, parsed and compared exactly.

The SDK's own check compares by prefix (``127.0.0.1:*`` accepts any Host starting ``127.0.0.1:``, so
``127.0.0.1:8000@evil.example`` passed, and ``http://localhost:*`` accepted ``http://localhost:1.evil.example``).
Here each header is parsed strictly (a host name or IP literal and an optional decimal port, an origin's
scheme too, nothing else) and its host and port are compared with the allowed ones exactly. A header that does
not parse is refused. The SDK's check is turned off in favour of this one, so there is one rule, not two.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

ANY_PORT = -1
R = TypeVar("R")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_AUTHORITY = re.compile(
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d{1,5}))?"
)
_ORIGIN = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)")


@dataclass(frozen=True)
class Authority:
    host: str  # lower-case; IP literals in their canonical form (IPv6 in brackets)
    port: int | None  # None: not given


def parse_authority(text: str) -> Authority | None:
    """``host[:port]`` as a Host header carries it; None for anything else (userinfo, spaces, bad ports)."""
    match = _AUTHORITY.fullmatch(text)
    if match is None:
        return None
    host = match.group("host").lower()
    if host.startswith("["):
        try:
            host = f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            return None
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        return None
    return Authority(host, int(port) if port is not None else None)


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int  # the scheme's default when not given


def parse_origin(text: str) -> Origin | None:
    """``scheme://host[:port]`` exactly (no path, userinfo or anything after); None otherwise (``null`` too)."""
    match = _ORIGIN.fullmatch(text)
    if match is None:
        return None
    scheme = match.group("scheme").lower()
    authority = parse_authority(match.group("authority"))
    if authority is None or scheme not in _DEFAULT_PORTS:
        return None
    return Origin(scheme, authority.host, authority.port if authority.port is not None else _DEFAULT_PORTS[scheme])


@dataclass(frozen=True)
class HostRule:
    """An allowed Host: a name or address, on one port or (``port`` = ANY_PORT) on any, or none given."""

    host: str
    port: int

    def admits(self, found: Authority) -> bool:
        return found.host == self.host and (self.port == ANY_PORT or found.port == self.port)


@dataclass(frozen=True)
class OriginRule:
    scheme: str
    host: str
    port: int

    def admits(self, found: Origin) -> bool:
        return (found.scheme, found.host) == (self.scheme, self.host) and self.port in (ANY_PORT, found.port)


def host_rule(entry: str) -> HostRule | None:
    """``name``, ``name:port`` or ``name:*`` (a bare name allows any port)."""
    text = entry.strip()
    any_port = text.endswith(":*")
    found = parse_authority(text[:-2] if any_port else text)
    if found is None:
        return None
    return HostRule(found.host, ANY_PORT if any_port or found.port is None else found.port)


def origin_rule(entry: str) -> OriginRule | None:
    """``scheme://name``, ``scheme://name:port`` or ``scheme://name:*``."""
    text = entry.strip().rstrip("/")
    any_port = text.endswith(":*")
    found = parse_origin(text[:-2] if any_port else text)
    if found is None:
        return None
    return OriginRule(found.scheme, found.host, ANY_PORT if any_port else found.port)


def _rules(entries: Iterable[str], parse: Callable[[str], R | None], what: str) -> list[R]:
    rules = []
    for entry in entries:
        rule = parse(entry)
        if rule is None:
            logger.warning(
                "Ignoring allowed %s %r: it is not a plain host name or address (with optional port)", what, entry
            )
        else:
            rules.append(rule)
    return rules


class HostOriginMiddleware:
    """421 for a Host not allowed, 403 for an Origin not allowed; ``open_paths`` (``/health``) are not checked."""

    def __init__(
        self,
        app: ASGIApp,
        hosts: Iterable[str],
        origins: Iterable[str],
        open_paths: frozenset[str] = frozenset(),
    ) -> None:
        self._app = app
        self._hosts = _rules(hosts, host_rule, "Host")
        self._origins = _rules(origins, origin_rule, "Origin")
        self._open = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self._open:
            await self._app(scope, receive, send)
            return
        hosts = [v for k, v in scope["headers"] if k == b"host"]
        origins = [v for k, v in scope["headers"] if k == b"origin"]
        if not self._host_ok(hosts):
            await self._refuse(scope, receive, send, 421, "Invalid Host header", hosts)
        elif not self._origin_ok(origins):
            await self._refuse(scope, receive, send, 403, "Invalid Origin header", origins)
        else:
            await self._app(scope, receive, send)

    def _host_ok(self, values: list[bytes]) -> bool:
        if len(values) != 1:
            return False
        found = parse_authority(values[0].decode("latin-1"))
        return found is not None and any(rule.admits(found) for rule in self._hosts)

    def _origin_ok(self, values: list[bytes]) -> bool:
        if not values:
            return True  # not a browser's cross-site request (same-origin requests may omit it)
        if len(values) > 1:
            return False
        found = parse_origin(values[0].decode("latin-1"))
        return found is not None and any(rule.admits(found) for rule in self._origins)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, text: str, got: list[bytes]
    ) -> None:
        shown = [v.decode("latin-1")[:100] for v in got]
        logger.warning("Refused %s %r: %s %r", scope.get("method", "WEBSOCKET"), scope["path"][:200], text, shown)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await Response(text, status_code=status)(scope, receive, send)
