"""The LogRocket v1 API as the sandbox emulates it: users, data-export and highlights.

It follows the documented behaviour: ``token`` auth (``Bearer`` is refused with 403 as observed),
exact trailing slashes, the documented 400 messages of the users endpoint, trait values returned as
strings with blank values deleting a trait, opaque numeric cursors larger than 2**53, and highlights
that stay PENDING while "Galileo" works.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mcp_server.sandbox.highlights import build_result
from mcp_server.sandbox.world import DAY_MS, HighlightJob, SandboxApp, SandboxWorld

MAX_TEXT = 1024
EXPORT_URL_TTL_S = 6 * 3600


def routes(world: SandboxWorld) -> list[Route]:
    base = "/v1/orgs/{org}/apps/{app}"

    async def put_user(request: Request) -> Response:
        app = _authorize(world, request)
        if isinstance(app, Response):
            return app
        user_id = request.path_params["user_id"]
        raw = await request.body()
        if not raw.strip():
            return PlainTextResponse("Missing request body", status_code=400)
        try:
            body = json.loads(raw)
        except ValueError:
            return PlainTextResponse("Malformed request", status_code=400)
        if not isinstance(body, dict) or not isinstance(body.get("traits", {}), dict):
            return PlainTextResponse("Malformed request", status_code=400)
        problem = _user_problem(user_id, body)
        if problem:
            return PlainTextResponse(problem, status_code=400)
        with world.lock:
            record = app.users.setdefault(user_id, {"userID": user_id, "name": "", "email": "", "traits": {}})
            for key in ("name", "email"):
                if isinstance(body.get(key), str):
                    record[key] = body[key]
            for key, value in (body.get("traits") or {}).items():
                if value is None or value == "":
                    record["traits"].pop(key, None)
                else:
                    record["traits"][key] = _as_string(value)
            answer = json.loads(json.dumps(record))
        return JSONResponse(answer)

    async def list_exports(request: Request) -> Response:
        app = _authorize(world, request)
        if isinstance(app, Response):
            return app
        q = request.query_params
        try:
            limit = int(q.get("limit", "10"))
        except ValueError:
            return JSONResponse({"detail": "limit must be an integer"}, status_code=400)
        if not 1 <= limit <= 100:
            return JSONResponse({"detail": "limit must be between 1 and 100"}, status_code=400)
        try:
            after = int(q["cursor"]) if "cursor" in q else None
            date_ms = int(q["date"]) if "date" in q else None
        except ValueError:
            return JSONResponse({"detail": "cursor and date must be numeric"}, status_code=400)
        # The first cursor may be a time (like LogRocket's audit log); later ones are positions.
        floor = after if after is not None else (date_ms * 1_000_000 - 1 if date_ms is not None else -1)
        page = [s for s in app.sessions if app.cursor_of(s) > floor][:limit]
        cursor = app.cursor_of(page[-1]) if page else (after if after is not None else max(floor, 0))
        base_url = str(request.base_url).rstrip("/")
        sessions = [{"url": export_url(world, app, s.seq, base_url)} for s in page]
        # A JSON number, as third parties report: beyond 2**53, so only exact parsers keep it.
        body = f'{{"cursor":{cursor},"sessions":{json.dumps(sessions)}}}'
        return Response(body, media_type="application/json")

    async def post_highlights(request: Request) -> Response:
        app = _authorize(world, request)
        if isinstance(app, Response):
            return app
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return JSONResponse({"detail": "Malformed request"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"detail": "Malformed request"}, status_code=400)
        email, user_id = body.get("userEmail"), body.get("userID")
        if not (isinstance(email, str) and email) and not (isinstance(user_id, str) and user_id):
            return JSONResponse({"detail": "userEmail or userID is required"}, status_code=400)
        start_ms = end_ms = None
        if body.get("timeRange") is not None:
            tr = body["timeRange"]
            if not isinstance(tr, dict) or not all(isinstance(tr.get(k), int) for k in ("startMs", "endMs")):
                return JSONResponse({"detail": "timeRange needs integer startMs and endMs"}, status_code=400)
            if tr["startMs"] >= tr["endMs"]:
                return JSONResponse({"detail": "timeRange.startMs must be less than endMs"}, status_code=400)
            start_ms, end_ms = tr["startMs"], tr["endMs"]
        question = body.get("question") if isinstance(body.get("question"), str) else None
        request_id = hashlib.sha256(f"{time.time_ns()}:{email}:{user_id}:{question}".encode()).hexdigest()
        job = HighlightJob(
            request_id=request_id,
            user_email=email if isinstance(email, str) and email else None,
            user_id=user_id if isinstance(user_id, str) and user_id else None,
            question=question,
            start_ms=start_ms,
            end_ms=end_ms,
            webhook_url=body.get("webhookURL") if isinstance(body.get("webhookURL"), str) else None,
            created=world.clock(),
            ready_after=world.highlights_delay,
            fail=world.take_highlights_failure(),
        )
        with world.lock:
            app.highlights[request_id] = job
        return JSONResponse({"id": request_id})

    async def get_highlights(request: Request) -> Response:
        app = _authorize(world, request)
        if isinstance(app, Response):
            return app
        request_id = request.query_params.get("id", "")
        with world.lock:
            job = app.highlights.get(request_id)
        if job is None:
            return JSONResponse({"detail": "Not found."}, status_code=404)
        body: dict[str, Any] = {"result": None, "appID": app.app_id, "requestID": request_id}
        if world.clock() - job.created < job.ready_after:
            body["status"] = "PENDING"
        elif job.fail:
            body["status"] = "FAILED"
        else:
            body["status"] = world.highlights_status
            body["result"] = build_result(app, job, default_window_ms=30 * DAY_MS, now_ms=world.anchor_ms)
        return JSONResponse(body)

    return [
        Route(base + "/users/{user_id:path}", put_user, methods=["PUT"]),
        Route(base + "/data-export/", list_exports, methods=["GET"]),
        Route(base + "/highlights/", post_highlights, methods=["POST"]),
        Route(base + "/highlights", get_highlights, methods=["GET"]),
    ]


def export_url(world: SandboxWorld, app: SandboxApp, seq: int, base_url: str) -> str:
    """A signed, expiring download URL in the style of a Google Cloud Storage V4 signed URL."""
    s = app.sessions[seq]
    day = datetime.fromtimestamp(s.started_ms / 1000, UTC).strftime("%Y-%m-%d")
    name = f"{s.recording_id}-{s.session_index}.jsonl" + (".gz" if s.gzip else "")
    path = f"/export-files/{app.spec.org}/{app.spec.app}/{day}/{name}"
    signed_at = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    query = {
        "X-Goog-Algorithm": "GOOG4-HMAC-SHA256",
        "X-Goog-Credential": "sandbox-exporter/auto/storage/goog4_request",
        "X-Goog-Date": signed_at,
        "X-Goog-Expires": str(EXPORT_URL_TTL_S),
        "X-Goog-SignedHeaders": "host",
        "X-Goog-Signature": world.sign(path, signed_at, EXPORT_URL_TTL_S),
        **world.export_query,
    }
    return f"{base_url}{path}?{urlencode(query)}"


def _authorize(world: SandboxWorld, request: Request) -> SandboxApp | Response:
    header = request.headers.get("authorization")
    if not header:
        return JSONResponse({"detail": "Missing request authorization"}, status_code=401)
    scheme, _, key = header.partition(" ")
    app = world.app(request.path_params["org"], request.path_params["app"])
    # LogRocket documents lowercase "token"; community code sends "Token" and it works.
    if scheme.lower() != "token" or not key:
        return JSONResponse({"detail": "token signature is invalid"}, status_code=403)
    if app is None:
        return JSONResponse({"detail": "Not found."}, status_code=404)
    if world.app_for_key(key.strip()) is not app:
        return JSONResponse({"detail": "token signature is invalid"}, status_code=403)
    return app


def _user_problem(user_id: str, body: dict[str, Any]) -> str | None:
    """The documented 400 messages, in the documented wording."""
    if len(user_id) > MAX_TEXT:
        return "userID too large (max 1024 characters)"
    for key in ("email", "name"):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            return "Malformed request"
        if isinstance(value, str) and len(value) > MAX_TEXT:
            return f"{key} too large (max 1024 characters)"
    for key, value in (body.get("traits") or {}).items():
        if len(key) > MAX_TEXT:
            return "user trait key too large"
        if isinstance(value, dict | list):
            return "Malformed request"
        if len(_as_string(value)) > MAX_TEXT:
            return "user trait value too large (max 1024 characters)"
    return None


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
