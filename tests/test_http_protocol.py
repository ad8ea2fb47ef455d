"""Connections to worker processes must not wait for delayed ACKs: TCP_NODELAY is set on each one."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.server import ServerState

from mcp_server.http_protocol import NoDelayHTTPProtocol


async def _app(scope: Any, receive: Any, send: Any) -> None:  # never called: no request is sent
    raise AssertionError


async def nodelay_seen_by(protocol: type[asyncio.Protocol]) -> int:
    """TCP_NODELAY on the server side of one connection accepted the way uvicorn's workers accept them."""
    config = Config(_app, lifespan="off")
    config.load()
    # As uvicorn binds for --workers: no protocol named, so asyncio leaves Nagle's algorithm on.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    seen: list[int] = []

    def make() -> asyncio.Protocol:
        instance = protocol(config, ServerState(), {})  # type: ignore[call-arg]
        made = instance.connection_made

        def record(transport: asyncio.BaseTransport) -> None:
            made(transport)
            seen.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        instance.connection_made = record  # type: ignore[method-assign]
        return instance

    server = await asyncio.get_running_loop().create_server(make, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname())
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
    finally:
        server.close()
    return seen[0]


@pytest.mark.anyio
async def test_worker_connections_have_nagle_off() -> None:
    assert await nodelay_seen_by(NoDelayHTTPProtocol) != 0


@pytest.mark.anyio
async def test_without_it_they_would_not() -> None:
    # The stall this fixes: uvicorn's own protocol on such a socket keeps Nagle's algorithm on.
    assert await nodelay_seen_by(AutoHTTPProtocol) == 0
