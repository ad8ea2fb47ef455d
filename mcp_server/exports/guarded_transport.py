"""The connection-time half of the export URL guard: an httpx2 transport whose sockets only ever open
to addresses the policy accepts (see guard.py). Imported only when the first export is downloaded:
httpcore's backends are a noticeable part of start-up time.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore2
import httpx2
from httpcore2._backends.anyio import AnyIOBackend

from mcp_server.exports.guard import ExportUrlPolicy, UrlRefused


class _GuardedBackend(httpcore2.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to the checked address itself."""

    def __init__(self, policy: ExportUrlPolicy) -> None:
        self._policy = policy
        self._inner = AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        if self._policy.is_allowed_host(host, port):
            return _WideReads(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore2.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            self._policy.check_address(host, address)
        if not addresses:
            raise httpcore2.ConnectError(f"{host} has no address")
        # TLS still verifies the certificate for `host`: httpcore passes the URL's host as server_hostname.
        return _WideReads(await self._inner.connect_tcp(addresses[0], port, timeout, local_address, socket_options))

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise UrlRefused("Unix sockets are never used for export downloads.")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class _WideReads(httpcore2.AsyncNetworkStream):
    """A connection whose reads take whatever has arrived (up to ``READ_BYTES``), not 64 KB at a time.

    httpcore asks for 64 KB per read while the event loop receives up to 256 KB per socket read, so a
    100 MB body took some 1,500 trips through httpcore's, anyio's and httpx's per-read machinery (about
    0.1 ms each); one trip per piece received is a quarter of that. Bigger reads change nothing else:
    h11 takes data of any size.
    """

    READ_BYTES = 1 << 20

    def __init__(self, inner: httpcore2.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max(max_bytes, self.READ_BYTES), timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.AsyncNetworkStream:
        return _WideReads(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The one TLS context of the process's export downloads, made when the first https export is fetched."""
    return httpx2.create_ssl_context(trust_env=False)


class _LazyTlsPool(httpcore2.AsyncConnectionPool):
    """A connection pool that loads TLS material only for its first https connection (never for http)."""

    def create_connection(self, origin: httpcore2.Origin) -> httpcore2.AsyncConnectionInterface:
        if origin.scheme == b"https" and self._ssl_context is None:
            self._ssl_context = _tls_context()
        return super().create_connection(origin)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport with the guarded network backend underneath.

    httpx2 does not take a network backend, so the transport's connection pool is ours (same
    settings). Environment proxies are never used for exports: a proxy would make the address check
    meaningless. The parent's ``__init__`` is not called: all it does is build a pool, and a TLS context
    with it (tens of milliseconds, even when every export is plain http).
    """

    def __init__(self, policy: ExportUrlPolicy) -> None:
        self._pool = _LazyTlsPool(
            ssl_context=None,
            max_connections=20,
            max_keepalive_connections=10,
            network_backend=_GuardedBackend(policy),
        )
