"""LogRocket REST API v1: user identification, data-export listing and Galileo highlights.

Facts this adapter relies on (LogRocket's docs, cross-checked with third-party integrations):
- Base ``https://api.logrocket.com/v1`` (configurable: Private Cloud uses another host); every path is
  scoped ``/orgs/{org}/apps/{app}/``; the App ID LogRocket shows is ``org/app``.
- Auth is ``Authorization: token <key>`` (``Bearer`` is refused with 403); a key works for one app only.
- Paths keep LogRocket's exact trailing slashes: ``users/{id}`` (none), ``data-export/``, ``highlights/``.
- ``PUT users/{id}`` upserts name, email and traits; a blank trait value deletes that trait; trait
  values come back as strings.
- The data-export cursor looks numeric but is opaque and may exceed 2**53: it is kept as text.
- Error bodies are either ``{"detail": "..."}`` or a bare message.
- Highlights: ``POST highlights/`` answers ``{"id": "<64 hex>"}``; ``GET highlights?id=`` answers
  ``{"result": null | {...}, "status": ..., "appID": ..., "requestID": ...}``. Statuses seen: PENDING,
  READY (LogRocket's docs) or COMPLETE (a published API description), FAILED (re-POST to retry).
  Sessions in a result carry ``recordingID`` and ``sessionID`` (docs) or one ``sessionId`` (the API
  description); highlights are Markdown with links into replays.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
import httpx2

from mcp_server.adapters.errors import (
    UpstreamBadResponse,
)
from mcp_server.adapters.failures import Failure, Wording, said, tries, wait_hint
from mcp_server.adapters.http import Explain, HttpPolicy, Reply, Sleep
from mcp_server.adapters.paths import UnsafeSegment, path
from mcp_server.errors import InputError
from mcp_server.redact import process_redactor
from mcp_server.render.markdown import snippet
from mcp_server.settings import AppRef, Settings, app_from_key

# LogRocket's highlights request ids are 64 hex digits; accept any short token of that alphabet
# family, so a change of format upstream does not make results unreachable.
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(frozen=True)
class LogRocketUser:
    """A user record as LogRocket returned it (trait values are strings there)."""

    user_id: str
    name: str | None
    email: str | None
    traits: dict[str, str]


@dataclass(frozen=True)
class SessionHighlights:
    """One session's part of a highlights result."""

    recording_id: str | None
    session_id: str | None  # LogRocket's recordingID/sessionID form, the id in a replay URL
    highlights: str  # Markdown, as LogRocket sent it (not yet sanitized)


@dataclass(frozen=True)
class HighlightsResult:
    highlights: str  # Markdown across all sessions, as LogRocket sent it
    sessions: list[SessionHighlights]


@dataclass(frozen=True)
class HighlightsStatus:
    """One look at a highlights request: its status (upper-cased) and, once done, the result."""

    request_id: str
    status: str
    result: HighlightsResult | None


@dataclass(frozen=True)
class ExportFile:
    url: str


@dataclass(frozen=True)
class ExportPage:
    """One page of data-export results; ``cursor`` is the opaque text to send back for newer sessions."""

    cursor: str | None
    files: list[ExportFile]
    skipped: int = 0  # items without a usable URL


class LogRocketClient:
    """Typed calls to the LogRocket API over one long-lived HTTP client."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self._settings = settings
        self._base = settings.logrocket_api_url.rstrip("/")
        process_redactor.add(settings.secrets)
        self._http = HttpPolicy.for_api(settings, transport=transport, sleep=sleep)

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def app(self) -> AppRef:
        """The configured app (raises ConfigError naming the missing setting)."""
        return self._settings.logrocket_credentials()[1]

    # -- users -----------------------------------------------------------------------------------

    async def identify_user(self, user_id: str, body: Mapping[str, Any]) -> LogRocketUser:
        key, app = self._settings.logrocket_credentials()
        try:
            url = self._url(app, "users", user_id)
        except UnsafeSegment as exc:
            # Refused before anything is sent: the request would reach another resource with the key and body.
            raise InputError(
                f"user_id {exc}, so it cannot be sent as one part of LogRocket's address for a user "
                f"(/users/<user_id>): the request would reach another resource. Pass the user's id exactly as "
                "the app gave it to LogRocket.identify()."
            ) from None
        reply = await self._http.request(
            "PUT",
            url,
            json_body=dict(body),
            headers=_auth(key),
            idempotent=True,  # PUT: the same body leaves the same record
            explain=self._explain(app, f"updating user {user_id!r}"),
        )
        data = self._json(reply, app, "updating a user")
        if not isinstance(data, dict):
            raise self._bad_shape(app, "updating a user", "a user object")
        return _user(data, fallback_id=user_id)

    # -- data export ----------------------------------------------------------------------------

    async def list_exports(self, *, cursor: str | None, limit: int, date_ms: int | None) -> ExportPage:
        key, app = self._settings.logrocket_credentials()
        params: dict[str, str] = {"limit": str(limit)}
        if cursor is not None:
            params["cursor"] = cursor
        if date_ms is not None:
            params["date"] = str(date_ms)
        reply = await self._http.request(
            "GET",
            self._url(app, "data-export", trailing_slash=True),
            params=params,
            headers=_auth(key),
            idempotent=True,
            explain=self._explain(app, "listing exported sessions"),
        )
        data = self._json(reply, app, "listing exported sessions")
        if not isinstance(data, dict):
            raise self._bad_shape(app, "listing exported sessions", 'an object with "sessions"')
        sessions = data.get("sessions") or []
        if not isinstance(sessions, list):
            raise self._bad_shape(app, "listing exported sessions", 'a "sessions" list')
        files: list[ExportFile] = []
        skipped = 0
        for item in sessions:
            if isinstance(item, str) and item:
                files.append(ExportFile(item))
            elif isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"]:
                files.append(ExportFile(item["url"]))
            else:
                skipped += 1
        return ExportPage(cursor=_opaque(data.get("cursor")), files=files, skipped=skipped)

    # -- Galileo highlights ---------------------------------------------------------------------

    async def request_highlights(self, body: Mapping[str, Any]) -> str:
        """Ask Galileo for highlights; the request id to poll with."""
        key, app = self._settings.logrocket_credentials()
        op = "requesting highlights"
        reply = await self._http.request(
            "POST",
            self._url(app, "highlights", trailing_slash=True),
            json_body=dict(body),
            headers=_auth(key),
            idempotent=False,  # each POST starts another generation
            explain=self._explain(
                app,
                op,
                unsure=" LogRocket may have started generating them anyway; the request was not sent again, "
                "since each one starts another generation.",
            ),
        )
        data = self._json(reply, app, op)
        request_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
            raise self._bad_shape(app, op, 'an object with a request "id"')
        return request_id

    async def get_highlights(self, request_id: str) -> HighlightsStatus:
        """One look at a highlights request (404: LogRocket does not know the id)."""
        key, app = self._settings.logrocket_credentials()
        op = "checking on highlights"
        reply = await self._http.request(
            "GET",
            self._url(app, "highlights"),
            params={"id": request_id},
            headers=_auth(key),
            idempotent=True,
            explain=self._explain(
                app,
                op,
                not_found=f"LogRocket has no highlights request {request_id} for app {app} (HTTP 404): the id is "
                "mistyped, belongs to another app, or has expired.",
            ),
        )
        data = self._json(reply, app, op)
        status = data.get("status") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(status, str):
            raise self._bad_shape(app, op, 'an object with a "status"')
        raw = data.get("result")
        result = None
        if raw is not None:
            if not isinstance(raw, dict):
                raise self._bad_shape(app, op, 'a "result" object or null')
            result = _highlights_result(raw)
        # Redacted before it is upper-cased or shortened anywhere (it reaches messages and progress as text).
        status = self._http.redact(status).strip().upper()
        return HighlightsStatus(request_id=request_id, status=status, result=result)

    # -- plumbing -------------------------------------------------------------------------------

    def _url(self, app: AppRef, *segments: str, trailing_slash: bool = False) -> str:
        """``{base}/orgs/{org}/apps/{app}/{segments}``: every value exactly one segment (UnsafeSegment if not)."""
        return f"{self._base}/orgs/{path(app.org, 'apps', app.app, *segments)}{'/' if trailing_slash else ''}"

    def _json(self, reply: Reply, app: AppRef, op: str) -> Any:
        try:
            # Exact numbers: a cursor beyond 2**53 must survive, and floats stay as written.
            return json.loads(reply.body, parse_float=Decimal)
        except ValueError:
            shown = snippet(self._http.redact(reply.text), 80)
            raise UpstreamBadResponse(
                f"LogRocket answered {op} for app {app} with HTTP {reply.status} but the body is not JSON "
                f"({shown}). Check LOGROCKET_API_URL (now {self._base}): it should be LogRocket's API "
                "base, for example https://api.logrocket.com/v1.",
                status=reply.status,
            ) from None

    def _bad_shape(self, app: AppRef, op: str, expected: str) -> UpstreamBadResponse:
        return UpstreamBadResponse(
            f"LogRocket answered {op} for app {app} with JSON that is not {expected}. "
            f"Check LOGROCKET_API_URL (now {self._base}); if it is right, LogRocket's API may have changed."
        )

    def _explain(self, app: AppRef, op: str, not_found: str | None = None, unsure: str = "") -> Explain:
        """Failure sentences for ``op``; ``unsure`` is added where a call not repeated may have been carried out."""
        key_app = app_from_key(self._settings.logrocket_api_key or "")
        return LogRocketWording(
            "LogRocket", self._base, "LOGROCKET_API_URL", op, unsure, app=app, key_app=key_app, missing_text=not_found
        ).explain


@dataclass(frozen=True)
class LogRocketWording(Wording):
    """LogRocket's sentences where its API says more than any upstream: which key, which app."""

    app: AppRef | None = None
    key_app: AppRef | None = None  # the app the key names, when it names one
    missing_text: str | None = None  # what a 404 means for this call, when not "no such org or app"

    def auth(self, f: Failure) -> str:
        hint = ""
        if self.key_app is not None and self.key_app != self.app:
            hint = f" This key looks like it belongs to app {self.key_app}, not {self.app}."
        return (
            f"LogRocket rejected the API key for app {self.app} (HTTP {f.status}{said(f)}): check "
            "LOGROCKET_API_KEY. It must be an API key of this app (LogRocket: Settings > API Keys); "
            f"a key only works for the project it was created for.{hint}"
        )

    def not_found(self, f: Failure) -> str:
        return (
            self.missing_text
            or f"LogRocket says org or app not found: {self.app} (HTTP 404{said(f)}). Check LOGROCKET_APP_ID: "
            "it is the App ID LogRocket shows for the project, in the form org/app."
        )

    def rate_limited(self, f: Failure) -> str:
        return (
            f"LogRocket is rate-limiting this API key (HTTP 429) while {self.doing}; still limited after {tries(f)}. "
            f"Wait {wait_hint(f)} and try again."
        )


def _highlights_result(raw: dict[str, Any]) -> HighlightsResult:
    overall = raw.get("highlights")
    sessions: list[SessionHighlights] = []
    items = raw.get("sessions")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        text = item.get("highlights")
        recording = item.get("recordingID")
        index = item.get("sessionID")
        if isinstance(recording, str) and recording:
            # sessionID is a small integer in the docs; keep whatever form it came in.
            number = str(index) if isinstance(index, int | str) and not isinstance(index, bool) else "0"
            session_id: str | None = f"{recording}/{number}"
        else:
            recording = None
            other = item.get("sessionId", item.get("sessionID"))
            session_id = str(other) if isinstance(other, str | int) and not isinstance(other, bool) else None
        sessions.append(SessionHighlights(recording, session_id, text if isinstance(text, str) else ""))
    return HighlightsResult(highlights=overall if isinstance(overall, str) else "", sessions=sessions)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"token {key}"}


def _opaque(value: Any) -> str | None:
    """The cursor exactly as sent: JSON numbers keep every digit (parsed exactly), strings pass through."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | Decimal):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _user(data: dict[str, Any], *, fallback_id: str) -> LogRocketUser:
    user_id = data.get("userID", data.get("userId", data.get("id", fallback_id)))
    traits_raw = data.get("traits") or {}
    traits = {str(k): _as_text(v) for k, v in traits_raw.items()} if isinstance(traits_raw, dict) else {}
    name = data.get("name")
    email = data.get("email")
    return LogRocketUser(
        user_id=str(user_id),
        name=name if isinstance(name, str) else None,
        email=email if isinstance(email, str) else None,
        traits=traits,
    )


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
