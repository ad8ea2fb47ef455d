"""The connection-time half of the export URL guard: an httpx2 transport whose sockets only ever open
to addresses the policy accepts (see guard.py). Imported only when the first export is downloaded:
httpcore's backends are a noticeable part of start-up time.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Iterable

import anyio
import httpcore2
import httpx2
from httpcore2._backends.anyio import AnyIOBackend

from mcp_server.exports.guard import ExportUrlPolicy, UrlRefused
from mcp_server.exports.http11 import ExportConnection


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
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
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
        return await self._inner.connect_tcp(addresses[0], port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise UrlRefused("Unix sockets are never used for export downloads.")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The one TLS context of the process's export downloads, made when the first https export is fetched."""
    context = httpx2.create_ssl_context(trust_env=False)
    context.set_alpn_protocols(["http/1.1"])
    return context


class _ExportPool(httpcore2.AsyncConnectionPool):
    """A connection pool of ``ExportConnection``s: TLS material is loaded by the first https connection only."""

    def create_connection(self, origin: httpcore2.Origin) -> httpcore2.AsyncConnectionInterface:
        return ExportConnection(origin, self._network_backend, _tls_context, self._keepalive_expiry)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport with the guarded network backend underneath.

    httpx2 does not take a network backend, so the transport's connection pool is ours (same
    settings). Environment proxies are never used for exports: a proxy would make the address check
    meaningless. The parent's ``__init__`` is not called: all it does is build a pool, and a TLS context
    with it (tens of milliseconds, even when every export is plain http).
    """

    def __init__(self, policy: ExportUrlPolicy) -> None:
        self._pool = _ExportPool(
            ssl_context=None,
            # A sync reads up to 32 exports at once (SESSION_REPLAY_MCP_SYNC_CONCURRENCY); the rest are for the
            # reads of read_session_export calls made meanwhile, which would otherwise wait for a free connection.
            max_connections=48,
            max_keepalive_connections=48,
            network_backend=_GuardedBackend(policy),
        )
