"""Plays the sandbox's faults in front of every emulated API, down to the TCP connection.

A reset and a truncation must look to the client exactly as they do on a real network, and ASGI has no
way to say "drop this connection": an app that raises before answering makes uvicorn send a 500, and
one that raises after starting makes it close the connection gracefully and log an error. So the
sandbox's server uses an ``H11Protocol`` that records each connection's transport by the client's
address (``Connections``); the injector finds the transport of the request it is faulting through
``scope["client"]`` and acts on it:

- reset: ``SO_LINGER`` 0 and ``transport.abort()``: the kernel discards the connection and sends a RST,
  so the client's read fails with "connection reset by peer" and no response at all;
- truncate: forward the response's head and first bytes, then ``transport.close()``: a FIN before the
  promised ``Content-Length`` (or the last chunk), which clients report as an incomplete body;
- trickle: forward the response in small pieces with pauses, each piece in time for any read timeout,
  so only a limit on the whole answer can end it; it stops as soon as the client hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from dataclasses import replace
from typing import Any

import anyio
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from mcp_server.sandbox.faults import HEADER, Fault, FaultError, FaultPlan, Received, RequestLog

Peer = tuple[str, int]


class Connections:
    """The transport of every open connection of the sandbox's server, by the client's (host, port).

    Only the server's event loop thread touches it (connections open and close there, the app runs there).
    """

    def __init__(self) -> None:
        self._by_peer: dict[Peer, asyncio.Transport] = {}

    def opened(self, peer: Peer, transport: asyncio.Transport) -> None:
        self._by_peer[peer] = transport

    def closed(self, peer: Peer, transport: asyncio.Transport) -> None:
        if self._by_peer.get(peer) is transport:
            del self._by_peer[peer]

    def __len__(self) -> int:
        return len(self._by_peer)

    def of(self, scope: Scope) -> asyncio.Transport | None:
        client = scope.get("client")
        return self._by_peer.get((client[0], client[1])) if client else None


def tracking_protocol(connections: Connections) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol, registering each connection's transport in ``connections``."""

    class TrackingH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if self.client:
                connections.opened(self.client, transport)

        def connection_lost(self, exc: Exception | None) -> None:
            if self.client:
                connections.closed(self.client, self.transport)
            super().connection_lost(exc)

    return TrackingH11Protocol


class FaultInjector:
    """Logs each emulated request, then plays the fault its header asks for or the first armed one matching it."""

    def __init__(
        self, app: ASGIApp, plan: FaultPlan, log: RequestLog, connections: Connections, exempt: tuple[str, ...]
    ) -> None:
        self.app = app
        self.plan = plan
        self.log = log
        self.connections = connections
        self.exempt = exempt  # path prefixes never faulted or logged (the control API)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path == "/" or path.startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.log.add(Received(method, path, scope.get("query_string", b"").decode("latin-1"), headers))
        try:
            fault = self._fault(method, path, headers.get(HEADER))
        except FaultError as exc:
            await _respond(send, 400, json.dumps({"detail": str(exc)}).encode(), [])
            return
        if fault is None:
            await self.app(scope, receive, send)
        else:
            await self._play(fault, scope, receive, send)

    def _fault(self, method: str, path: str, header: str | None) -> Fault | None:
        if header is None:
            return self.plan.take(method, path)
        fault = Fault.from_header(header)
        if fault.times > 1:
            # This request uses one shot; the rest wait for the next requests to the same place.
            self.plan.add(replace(fault, times=fault.times - 1, path=path, method=method))
        return fault

    async def _play(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        if fault.kind == "status":
            detail = _echo(scope) if fault.echo else (fault.detail or _REASONS.get(fault.status, "error"))
            extra = [(b"retry-after", fault.retry_after.encode())] if fault.retry_after is not None else []
            await _respond(send, fault.status, json.dumps({"detail": detail}).encode(), extra)
        elif fault.kind == "stall":
            await anyio.sleep(fault.seconds)
            with contextlib.suppress(ClientDisconnect):  # the client gave up during the stall, before the app read
                await self.app(scope, receive, send)
        elif fault.kind == "html":
            # What a shut-down service, a parked domain or a captive portal answers: a web page.
            said = _echo(scope).encode() if fault.echo else b"This service is gone"
            page = b"<!DOCTYPE html><html><head><title>Gone</title></head><body><h1>" + said + b"</h1></body>"
            await _respond(send, fault.status, page, [], content_type=b"text/html; charset=utf-8")
        elif fault.kind == "malformed":
            body = _echo(scope).encode() if fault.echo else b'{"cursor": 17, "sessions": [{"url": '
            await _respond(send, 200, body, [])
        elif fault.kind == "reset":
            await self._reset(scope, receive)
        elif fault.kind == "truncate":
            await self._truncate(fault.bytes, scope, receive, send)
        else:
            await self._trickle(fault, scope, receive, send)

    def _transport(self, scope: Scope, kind: str) -> asyncio.Transport:
        transport = self.connections.of(scope)
        if transport is None:
            raise RuntimeError(f"a {kind} fault needs the sandbox server (SandboxServer): it tracks connections")
        return transport

    async def _reset(self, scope: Scope, receive: Receive) -> None:
        transport = self._transport(scope, "reset")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger on, timeout 0: closing discards the connection and sends a RST instead of a FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        await _until_disconnected(receive)

    async def _truncate(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        transport = self._transport(scope, "truncate")
        sent = 0

        async def cut(message: Message) -> None:
            nonlocal sent
            if transport.is_closing():
                return  # the rest of the answer goes nowhere
            if message["type"] != "http.response.body":
                await send(message)
                return
            body: bytes = message.get("body", b"")
            more: bool = message.get("more_body", False)
            # Always keep back at least the last byte, so a short answer is cut too.
            room = min(limit - sent, len(body) - (0 if more else 1))
            if room < len(body):
                await send({"type": "http.response.body", "body": body[: max(0, room)], "more_body": True})
                transport.close()  # a FIN after the data already written: the answer simply stops
                return
            sent += len(body)
            await send(message)

        await self.app(scope, receive, cut)
        await _until_disconnected(receive)

    async def _trickle(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        transport = self.connections.of(scope)

        def gone() -> bool:
            return transport is not None and transport.is_closing()

        async def slowly(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)
                return
            body: bytes = message.get("body", b"")
            for start in range(0, len(body), fault.bytes):
                if gone():
                    return  # the client gave up: stop generating the rest
                await send({"type": "http.response.body", "body": body[start : start + fault.bytes], "more_body": True})
                await anyio.sleep(fault.seconds)
            if not message.get("more_body", False) and not gone():
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app(scope, receive, slowly)


async def _until_disconnected(receive: Receive) -> None:
    """Wait for the server to notice the connection is gone, so it does not report an unfinished answer."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _echo(scope: Scope) -> str:
    """The request as an echo service repeats it: request line and every header, values included."""
    query = scope.get("query_string", b"").decode("latin-1")
    line = f"{scope['method']} {scope['path']}{'?' + query if query else ''}"
    headers = "; ".join(f"{k.decode('latin-1')}: {v.decode('latin-1')}" for k, v in scope["headers"])
    return f"echo of your request: {line}; {headers}"


_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def _start(status: int, headers: list[tuple[bytes, bytes]]) -> Message:
    return {"type": "http.response.start", "status": status, "headers": headers}


async def _respond(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]], content_type: bytes = b"application/json"
) -> None:
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send(_start(status, headers))
    await send({"type": "http.response.body", "body": body})


def fault_list(data: Any) -> list[Fault]:
    """Faults from the control API's JSON: one object or a list of them."""
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) for item in items):
        raise FaultError("faults are JSON objects (or a list of them)")
    return [Fault.from_json(item) for item in items]
