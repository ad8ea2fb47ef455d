"""The sandbox as one ASGI app: the LogRocket API, export files, Highlight's public graph, fault injection
and a control API."""

from __future__ import annotations

import json
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_server.sandbox import export_files, logrocket_api
from mcp_server.sandbox.faults import Fault, FaultPlan, Received, RequestLog
from mcp_server.sandbox.highlight_api import CONTROL_PATH as HIGHLIGHT_CONTROL_PATH
from mcp_server.sandbox.highlight_api import PROJECTS as HIGHLIGHT_PROJECTS
from mcp_server.sandbox.highlight_api import PUBLIC_GRAPH_PATH, HighlightGraph
from mcp_server.sandbox.world import SandboxWorld

CONTROL_PREFIX = "/_sandbox"


class Sandbox:
    """The emulator's state and its ASGI app."""

    def __init__(self, world: SandboxWorld | None = None) -> None:
        self.world = world or SandboxWorld()
        self.faults = FaultPlan()
        self.requests = RequestLog()
        self.highlight = HighlightGraph()
        app = Starlette(
            routes=[
                *logrocket_api.routes(self.world),
                *export_files.routes(self.world),
                *self.highlight.routes(),
                *self._control_routes(),
            ]
        )
        app.router.redirect_slashes = False  # LogRocket's trailing slashes are exact; a wrong one is a 404 here
        self.app: ASGIApp = _Faults(app, self.faults, self.requests)

    def _control_routes(self) -> list[Route]:
        async def index(request: Request) -> Response:
            base = str(request.base_url).rstrip("/")
            return JSONResponse(
                {
                    "what": "session-replay-mcp sandbox: an emulator of the LogRocket v1 API with synthetic data",
                    "api_url": f"{base}/v1",
                    "apps": [
                        {
                            "app_id": a.app_id,
                            "api_key": a.spec.api_key,
                            "export_line_shape": a.spec.shape,
                            "sessions": len(a.sessions),
                            "users": [u["email"] or u["userID"] for u in a.users.values()],
                        }
                        for a in self.world.apps.values()
                    ],
                    "highlight": {
                        "public_graph_url": f"{base}{PUBLIC_GRAPH_PATH}",
                        "projects": {p.verbose_id: p.name for p in HIGHLIGHT_PROJECTS},
                        "sessions": f"{base}{HIGHLIGHT_CONTROL_PATH}/sessions (GET what arrived, DELETE to clear)",
                    },
                    "control": {
                        "faults": f"{base}{CONTROL_PREFIX}/faults (POST a list of faults, DELETE to clear)",
                        "requests": f"{base}{CONTROL_PREFIX}/requests (GET the log, DELETE to clear)",
                        "highlights": f"{base}{CONTROL_PREFIX}/highlights (GET the settings; POST "
                        '{"delay": seconds, "status": "READY" or "COMPLETE", "fail_next": count})',
                    },
                }
            )

        async def faults(request: Request) -> Response:
            if request.method == "DELETE":
                self.faults.clear()
            elif request.method == "POST":
                data = json.loads(await request.body() or b"[]")
                items = data if isinstance(data, list) else [data]
                self.faults.add(*(Fault.from_json(item) for item in items))
            return JSONResponse(self.faults.pending())

        async def requests(request: Request) -> Response:
            if request.method == "DELETE":
                self.requests.clear()
            return JSONResponse([r.__dict__ for r in self.requests.items()])

        async def highlights(request: Request) -> Response:
            world = self.world
            if request.method == "POST":
                try:
                    data = json.loads(await request.body() or b"{}")
                    problem = _highlights_settings_problem(data)
                except ValueError:
                    problem = "the body must be a JSON object"
                if problem:
                    return JSONResponse({"detail": problem}, status_code=400)
                if "delay" in data:
                    world.highlights_delay = float(data["delay"])
                if "status" in data:
                    world.highlights_status = data["status"]
                if "fail_next" in data:
                    world.fail_next_highlights(data["fail_next"])
            return JSONResponse(
                {
                    "delay": world.highlights_delay,
                    "status": world.highlights_status,
                    "fail_next": world.highlights_failures,
                }
            )

        return [
            Route("/", index, methods=["GET"]),
            Route(f"{CONTROL_PREFIX}/highlights", highlights, methods=["GET", "POST"]),
            Route(f"{CONTROL_PREFIX}/faults", faults, methods=["GET", "POST", "DELETE"]),
            Route(f"{CONTROL_PREFIX}/requests", requests, methods=["GET", "DELETE"]),
        ]


class _Faults:
    """Logs each emulated request, then plays the first armed fault that matches it, if any."""

    def __init__(self, app: ASGIApp, plan: FaultPlan, log: RequestLog) -> None:
        self.app = app
        self.plan = plan
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path == "/" or path.startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.log.add(Received(method, path, scope.get("query_string", b"").decode("latin-1"), headers))
        fault = self.plan.take(method, path)
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "status":
            body = json.dumps({"detail": fault.detail or _REASONS.get(fault.status, "error")}).encode()
            extra = [(b"retry-after", fault.retry_after.encode())] if fault.retry_after is not None else []
            await _respond(send, fault.status, body, extra)
        elif fault.kind == "stall":
            await anyio.sleep(fault.seconds)
            await self.app(scope, receive, send)
        elif fault.kind == "truncate":
            # Promise more bytes than are sent: the client sees the connection end mid-body.
            await send(_start(200, [(b"content-length", b"100000"), (b"content-type", b"application/json")]))
            await send({"type": "http.response.body", "body": b'{"cursor": 1, "sess', "more_body": False})
        elif fault.kind == "html":
            # What a shut-down service, a parked domain or a captive portal answers: a web page.
            page = b"<!DOCTYPE html><html><head><title>Gone</title></head><body><h1>This service is gone</h1></body>"
            await _respond(send, fault.status, page, [], content_type=b"text/html; charset=utf-8")
        else:  # malformed
            await _respond(send, 200, b'{"cursor": 17, "sessions": [{"url": ', [])


def _highlights_settings_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "the body must be a JSON object"
    delay = data.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 3600:
        return "delay must be a number of seconds from 0 to 3600"
    if data.get("status", "READY") not in ("READY", "COMPLETE"):
        return 'status must be "READY" or "COMPLETE"'
    fail_next = data.get("fail_next", 0)
    if isinstance(fail_next, bool) or not isinstance(fail_next, int) or fail_next < 0:
        return "fail_next must be a whole number, 0 or more"
    return None


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
