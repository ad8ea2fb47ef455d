"""uvicorn's HTTP protocol, with Nagle's algorithm off and two limits on slow or numerous clients.

With ``--workers``, uvicorn binds the listening socket itself without naming its protocol, and asyncio only
sets TCP_NODELAY on sockets whose protocol says TCP. Every answer written in several small pieces (a
Streamable HTTP answer is an SSE stream: headers, then events) then waits for the client's delayed ACK,
about 40 ms per call: bench/load.py measured a p50 of 48 ms with two workers against 3 ms with one. Setting
the option on each accepted connection removes the stall whichever socket uvicorn made.

uvicorn bounds neither how long a client may take to send a request's headers nor how many connections a
worker holds, so clients trickling their headers one byte at a time could hold connections (and file
descriptors) for as long as they liked. Here, per connection:

- each request, its headers and then its body if it has one, must arrive within ``header_timeout`` seconds of
  the connection opening, or of the request's first byte on a kept-alive connection; otherwise ``408`` and
  the connection closes (a body trickled after quick headers is the same attack);
- a connection beyond ``max_connections`` open in this worker is answered ``503`` (with ``Retry-After``) and
  closed at once.

Tool calls themselves are not timed here (they run as long as their own budgets allow): only the wait for
the request, until it has all arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Any, ClassVar

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from mcp_server.settings import Settings

logger = logging.getLogger(__name__)

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"
_WARN_EVERY = 10.0  # seconds between warnings about refused connections, so a flood does not flood the log


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    # Set by ``configure`` in each process before it serves (``serve`` and every worker build their app first).
    header_timeout: ClassVar[float | None] = None
    max_connections: ClassVar[int | None] = None
    _last_warning: ClassVar[float] = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._header_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        limit = self.max_connections
        if limit is not None and len(self.connections) > limit:
            self._warn(
                f"refused a connection: {limit} are already open in this worker (SESSION_REPLAY_MCP_MAX_CONNECTIONS)"
            )
            transport.write(_BUSY)  # type: ignore[attr-defined]
            transport.close()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self._receiving():
            self._arm()  # the first bytes of another request on a kept-alive connection
        super().data_received(data)
        if self._header_timer is not None and not self._receiving():
            self._disarm()  # the request has all arrived: it is the application's now

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _receiving(self) -> bool:
        """A request is still arriving: the next one's headers, or the body of the current one."""
        cycle: Any = self.cycle
        return cycle is None or bool(cycle.response_complete) or bool(cycle.more_body)

    def _arm(self) -> None:
        if self.header_timeout is not None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._receiving() and not self.transport.is_closing():
            self._warn(
                f"closed a connection whose request took over {self.header_timeout:g} s to arrive "
                "(SESSION_REPLAY_MCP_HEADER_TIMEOUT)"
            )
            self.transport.write(_TIMED_OUT)
            self.transport.close()

    @classmethod
    def _warn(cls, message: str) -> None:
        now = time.monotonic()
        if now - cls._last_warning >= _WARN_EVERY:
            cls._last_warning = now
            logger.warning("HTTP: %s", message)


def configure(settings: Settings) -> None:
    """Apply the header timeout and the connection limit to every connection this process accepts from now on."""
    NoDelayHTTPProtocol.header_timeout = settings.header_timeout
    NoDelayHTTPProtocol.max_connections = settings.max_connections
