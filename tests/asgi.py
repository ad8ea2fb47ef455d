"""An HTTP application served in process: a real ASGI conversation with no socket and no child process.

httpx2's own ``ASGITransport`` waits for the whole answer before returning it, so it cannot carry an SSE
stream or an MCP session. ``InProcess`` runs the application's lifespan once, then each request in a task
of its own and hands the answer back as soon as it starts, its body streaming as the application sends it;
closing the response tells the application the client hung up, as a dropped connection would.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import httpx2
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream
from starlette.types import ASGIApp

logger = logging.getLogger(__name__)

# Where requests seem to come from: loopback, as for a client on the same machine.
CLIENT = ("127.0.0.1", 50_000)
BASE = "http://127.0.0.1:8000"


class _Body(httpx2.AsyncByteStream):
    def __init__(self, chunks: MemoryObjectReceiveStream[bytes], hang_up: anyio.Event) -> None:
        self._chunks = chunks
        self._hang_up = hang_up

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            yield chunk

    async def aclose(self) -> None:
        self._hang_up.set()
        await self._chunks.aclose()


class StreamingASGITransport(httpx2.AsyncBaseTransport):
    """Each request runs the application in a task of ``tasks``; the answer streams back as it is sent."""

    def __init__(self, app: ASGIApp, tasks: TaskGroup) -> None:
        self._app = app
        self._tasks = tasks

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        assert isinstance(request.stream, httpx2.AsyncByteStream)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": CLIENT,
            "root_path": "",
        }
        request_chunks = request.stream.__aiter__()
        request_done = False
        hang_up = anyio.Event()
        started = anyio.Event()
        head: dict[str, Any] = {}
        send_chunk, chunks = anyio.create_memory_object_stream[bytes](math.inf)

        async def receive() -> dict[str, Any]:
            nonlocal request_done
            if request_done:
                await hang_up.wait()
                return {"type": "http.disconnect"}
            try:
                body = await request_chunks.__anext__()
            except StopAsyncIteration:
                request_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": body, "more_body": True}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                head.update(status=message["status"], headers=message.get("headers", []))
                started.set()
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    # Once the client hung up, the application finds out from receive().
                    with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                        send_chunk.send_nowait(message["body"])
                if not message.get("more_body", False):
                    send_chunk.close()

        async def run() -> None:
            try:
                await self._app(scope, receive, send)
            except Exception:
                # As uvicorn does: the client gets a 500 if nothing was sent yet, the error goes to the log. (The
                # SDK's SSE endpoint raises after answering a refused Host with 421.)
                logger.exception("Exception in ASGI application")
            finally:
                send_chunk.close()
                if not started.is_set():
                    head.setdefault("status", 500)
                    head.setdefault("headers", [])
                    started.set()

        self._tasks.start_soon(run)
        await started.wait()
        return httpx2.Response(head["status"], headers=head["headers"], stream=_Body(chunks, hang_up))


@asynccontextmanager
async def lifespan(app: ASGIApp, tasks: TaskGroup) -> AsyncIterator[None]:
    """Run the application's startup, and its shutdown on the way out, as a server would."""
    to_app, app_receives = anyio.create_memory_object_stream[dict[str, Any]](math.inf)
    app_sends, from_app = anyio.create_memory_object_stream[dict[str, Any]](math.inf)

    async def send(message: MutableMapping[str, Any]) -> None:
        await app_sends.send(dict(message))

    scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}

    async def run() -> None:
        await app(scope, app_receives.receive, send)

    tasks.start_soon(run)
    await to_app.send({"type": "lifespan.startup"})
    started = await from_app.receive()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await to_app.send({"type": "lifespan.shutdown"})
        with anyio.move_on_after(5):
            await from_app.receive()


class InProcess:
    """An application being served: ``client()`` makes HTTP clients that reach it."""

    def __init__(self, transport: StreamingASGITransport) -> None:
        self.transport = transport
        self.base = BASE

    def client(self, headers: dict[str, str] | None = None, **options: Any) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=self.transport, base_url=BASE, headers=headers, **options)

    def client_factory(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        """For MCP client transports that make their own HTTP client (``sse_client``)."""
        return httpx2.AsyncClient(transport=self.transport, headers=headers, timeout=timeout, auth=auth)


@asynccontextmanager
async def served(app: ASGIApp) -> AsyncIterator[InProcess]:
    """Serve ``app`` in process for the body of the ``async with``."""
    async with anyio.create_task_group() as tasks:
        try:
            async with lifespan(app, tasks):
                yield InProcess(StreamingASGITransport(app, tasks))
        finally:
            tasks.cancel_scope.cancel()  # streams still open (SSE) end with the server
