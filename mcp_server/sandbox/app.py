"""The sandbox as one ASGI app: the LogRocket API, export files, Highlight's public graph, fault injection
and a control API."""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from mcp_server.sandbox import export_files, logrocket_api
from mcp_server.sandbox.faults import FaultError, FaultPlan, RequestLog
from mcp_server.sandbox.highlight_api import CONTROL_PATH as HIGHLIGHT_CONTROL_PATH
from mcp_server.sandbox.highlight_api import PROJECTS as HIGHLIGHT_PROJECTS
from mcp_server.sandbox.highlight_api import PUBLIC_GRAPH_PATH, HighlightGraph
from mcp_server.sandbox.injector import Connections, FaultInjector, fault_list
from mcp_server.sandbox.world import SandboxWorld

CONTROL_PREFIX = "/_sandbox"


class Sandbox:
    """The emulator's state and its ASGI app."""

    def __init__(self, world: SandboxWorld | None = None) -> None:
        self.world = world or SandboxWorld()
        self.faults = FaultPlan()
        self.requests = RequestLog()
        # Filled by the sandbox's server: what the reset and truncate faults act on.
        self.connections = Connections()
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
        self.app: ASGIApp = FaultInjector(app, self.faults, self.requests, self.connections, exempt=(CONTROL_PREFIX,))

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
                        "faults": f"{base}{CONTROL_PREFIX}/faults (POST a list of faults, DELETE to clear; kinds: "
                        "status, stall, truncate, malformed, html, reset, trickle; or per request, a header "
                        "X-Sandbox-Fault: kind=reset;times=2)",
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
                try:
                    self.faults.add(*fault_list(json.loads(await request.body() or b"[]")))
                except (ValueError, FaultError) as exc:
                    return JSONResponse({"detail": f"not a fault list: {exc}"}, status_code=400)
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
