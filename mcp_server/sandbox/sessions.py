"""Synthetic recorded sessions and their export files, generated lazily and deterministically.

A session is a seeded script of what a user did (pages, clicks, typing, console output, network calls,
errors, custom events). It is rendered line by line into one of the two export line shapes we know:

- shape "A": the Streaming Data Export row schema (``event_type`` plus flat ``*_``-prefixed columns);
- shape "B": the SDK's own event vocabulary (``{"type": "lr.…", "time": ms, "data": {…}}``).

Nothing is held in memory beyond the current event, so an export of millions of events streams.
"""

from __future__ import annotations

import functools
import json
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Shape = Literal["A", "B"]


@dataclass(frozen=True)
class SessionUser:
    user_id: str
    name: str | None
    email: str | None
    traits: dict[str, str] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return self.email is None


@dataclass(frozen=True)
class Event:
    kind: str  # session, identify, navigation, click, input, console, request, response, exception, custom, redux
    t: int  # epoch ms
    data: dict[str, Any]


@dataclass(frozen=True)
class SyntheticSession:
    """One recorded session; its events are a pure function of (seed, fields)."""

    org: str
    app: str
    seq: int  # position in the app's export order
    recording_id: str
    session_index: int
    user: SessionUser
    started_ms: int
    duration_ms: int
    exported_ms: int
    seed: int
    shape: Shape
    gzip: bool
    site: str  # origin of the recorded web app
    api: str  # origin of its backend
    # Scripted moments of a story line (see history.py), their times offsets from the start: added to the script.
    story: tuple[Event, ...] = ()

    @property
    def session_id(self) -> str:
        return f"{self.recording_id}/{self.session_index}"

    @property
    def ended_ms(self) -> int:
        return self.started_ms + self.duration_ms

    def events(self, target: int | None = None) -> Iterator[Event]:
        """The session's events in time order; ``target`` stretches it to about that many events."""
        return _script(self, target)

    def lines(self, target: int | None = None) -> Iterator[bytes]:
        """The export file's lines (each ending in a newline) in this session's shape."""
        render = _render_a if self.shape == "A" else _render_b
        context = {"session_id": self.session_id, "app_id": f"{self.org}/{self.app}", "user": self.user}
        for seq_id, event in enumerate(self.events(target)):
            row = render(event, seq_id, context)
            if row is not None:
                yield json.dumps(row, separators=(",", ":")).encode() + b"\n"


_PAGES = (
    "/dashboard",
    "/projects",
    "/projects/{n}",
    "/projects/{n}/settings",
    "/settings/profile",
    "/settings/billing",
    "/checkout",
    "/reports/weekly",
    "/team/invite",
)
_API = (
    ("GET", "/api/v2/me", 200),
    ("GET", "/api/v2/projects", 200),
    ("GET", "/api/v2/projects/{n}", 200),
    ("POST", "/api/v2/projects/{n}/members", 201),
    ("GET", "/api/v2/billing/invoices", 200),
    ("PUT", "/api/v2/settings/profile", 200),
    ("POST", "/api/v2/checkout/session", 200),
    ("GET", "/api/v2/reports/weekly?range=7d", 200),
)
# (status or 0 for "no response", weight) for requests that fail
_FAILURES = ((500, 3), (502, 2), (404, 3), (403, 1), (422, 2), (0, 2))
_EXCEPTIONS = (
    ("TypeError", "Cannot read properties of undefined (reading 'id')"),
    ("TypeError", "items.map is not a function"),
    ("ReferenceError", "analytics is not defined"),
    ("Error", "Request failed with status code 500"),
    ("RangeError", "Maximum call stack size exceeded"),
    ("SyntaxError", "Unexpected token '<', \"<!doctype \"... is not valid JSON"),
)
_CONSOLE = (
    ("LOG", "Loaded {page} in {n} ms"),
    ("INFO", "Feature flag new-billing=on"),
    ("WARN", "Deprecated prop `size` passed to <Button>"),
    ("WARN", "Slow network detected: {n} ms"),
    ("ERROR", "Failed to load billing summary"),
    ("DEBUG", "cache hit: projects"),
)
_CUSTOM: tuple[tuple[str, dict[str, list[Any]]], ...] = (
    ("ProjectCreated", {"template": ["blank", "kanban", "roadmap"], "members": [1, 3, 8]}),
    ("InviteSent", {"role": ["viewer", "editor", "admin"]}),
    ("CheckoutStarted", {"plan": ["pro", "team"], "seats": [5, 10, 25], "couponApplied": [True, False]}),
    ("PurchaseComplete", {"plan": ["pro", "team"], "revenue": [49.0, 199.0, 990.0]}),
    ("ReportExported", {"format": ["csv", "pdf"]}),
)
_CLICKS = ("button.save", "a.nav-projects", "button#checkout", "div.card > button", "input[name=search]")
_INPUTS = (("form#profile input[name=company]", "Acme Ltd"), ("input[name=search]", "roadmap q3"))


def _script(s: SyntheticSession, target: int | None) -> Iterator[Event]:
    rng = random.Random(s.seed)
    # Per-session character: some users hit a broken page, a flaky API or nothing at all.
    trouble = rng.random()
    broken_exception = _EXCEPTIONS[rng.randrange(len(_EXCEPTIONS))]
    steps = max(6, (target or 0) // 12) if target else rng.randint(8, 22)
    step_ms = max(1, s.duration_ms // (steps + 1))
    t = s.started_ms
    req = 0
    yield Event(
        "session",
        t,
        {
            "browser": rng.choice(("Chrome 131", "Firefox 133", "Safari 18.1", "Edge 131")),
            "device": rng.choice(("desktop", "desktop", "mobile", "tablet")),
            "country": rng.choice(("US", "GB", "DE", "IN", "BR", "FR")),
        },
    )
    if not s.user.anonymous:
        yield Event("identify", t + 5, {})
    for step in range(steps):
        t = s.started_ms + step * step_ms + rng.randint(0, max(1, step_ms // 4))
        page = rng.choice(_PAGES).replace("{n}", str(rng.randint(10, 99)))
        href = s.site + page
        yield Event("navigation", t, {"href": href})
        yield Event(
            "console", t + 40, {"level": "LOG", "message": f"Loaded {page} in {rng.randint(80, 1900)} ms", "href": href}
        )
        for _ in range(rng.randint(1, 3)):
            req += 1
            method, path, ok = rng.choice(_API)
            path = path.replace("{n}", str(rng.randint(10, 99)))
            start = t + rng.randint(50, 400)
            failing = trouble > 0.35 and rng.random() < 0.25
            status = _weighted(rng, _FAILURES) if failing else ok
            duration = rng.randint(30, 700) if status else rng.randint(5000, 30000)
            rid = f"{s.seq}-{req}"
            yield Event("request", start, {"reqId": rid, "method": method, "url": s.api + path, "href": href})
            if status:
                yield Event(
                    "response",
                    start + duration,
                    {
                        "reqId": rid,
                        "method": method,
                        "url": s.api + path,
                        "status": status,
                        "duration": duration,
                        "href": href,
                    },
                )
            if status >= 500 and trouble > 0.55:
                yield Event(
                    "console",
                    start + duration + 3,
                    {"level": "ERROR", "href": href, "message": f"{method} {path} failed with {status}"},
                )
        for _ in range(rng.randint(1, 4)):
            yield Event(
                "click", t + rng.randint(500, max(600, step_ms)), {"selector": rng.choice(_CLICKS), "href": href}
            )
        if rng.random() < 0.3:
            selector, text = rng.choice(_INPUTS)
            yield Event(
                "input", t + rng.randint(700, max(800, step_ms)), {"selector": selector, "text": text, "href": href}
            )
        if rng.random() < 0.35:
            level, message = rng.choice(_CONSOLE[1:])
            message = message.replace("{n}", str(rng.randint(900, 4000))).replace("{page}", page)
            yield Event("console", t + rng.randint(100, 900), {"level": level, "message": message, "href": href})
        if trouble > 0.6 and rng.random() < 0.4:
            # The same broken code path fails again and again: exports repeat the same exception.
            error_type, message = broken_exception
            yield Event(
                "exception",
                t + rng.randint(100, 900),
                {"errorType": error_type, "message": message, "href": href, "exceptionType": "WINDOW"},
            )
        if rng.random() < 0.3:
            name, options = rng.choice(_CUSTOM)
            props = {k: rng.choice(v) for k, v in options.items()}
            yield Event("custom", t + rng.randint(200, 1200), {"name": name, "properties": props, "href": href})
        if rng.random() < 0.2:
            yield Event(
                "redux",
                t + rng.randint(10, 300),
                {"type": rng.choice(("projects/loaded", "billing/failed", "ui/toggleSidebar"))},
            )

    for beat in s.story:
        yield Event(beat.kind, s.started_ms + beat.t, beat.data)


def _weighted(rng: random.Random, options: tuple[tuple[int, int], ...]) -> int:
    total = sum(w for _, w in options)
    pick = rng.uniform(0, total)
    for value, weight in options:
        pick -= weight
        if pick <= 0:
            return value
    return options[-1][0]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _render_a(event: Event, seq_id: int, ctx: dict[str, Any]) -> dict[str, Any] | None:
    """Streaming Data Export row (``logrocket_events``-style column names)."""
    user: SessionUser = ctx["user"]
    d = event.data
    row: dict[str, Any] = {
        "session_id": ctx["session_id"],
        "app_id": ctx["app_id"],
        "tab_id": "t1",
        "seq_id": seq_id,
        "session_time": _iso(event.t),
        "user_id": user.user_id,
    }
    kind = event.kind
    if kind == "session":
        row.update(
            event_type="session",
            user_identity_status="Anonymous" if user.anonymous else "Identified",
            session_browser=d["browser"],
            session_device_type=d["device"],
            session_country=d["country"],
        )
    elif kind == "identify":
        row.update(
            event_type="user",
            user_identity_status="Identified",
            user_name=user.name,
            user_email=user.email,
            user_traits=json.dumps(user.traits),
        )
    elif kind == "navigation":
        row.update(event_type="navigation", navigation_href=d["href"])
    elif kind == "click":
        row.update(event_type="click", click_href=d["href"], click_selector=d["selector"])
    elif kind == "input":
        row.update(
            event_type="inputChange", input_change_event_selector=d["selector"], input_change_event_text=d["text"]
        )
    elif kind == "console":
        # Streaming export does not document console rows; emit them as a type a parser must pass through.
        row.update(event_type="consoleLog", console_level=d["level"], console_message=d["message"])
    elif kind == "request":
        return None  # the streaming export has responses only (URL, method, status, duration)
    elif kind == "response":
        row.update(
            event_type="networkResponse",
            network_response_url=d["url"],
            network_response_method=d["method"],
            network_response_status=d["status"],
            network_response_duration_ms=d["duration"],
        )
    elif kind == "exception":
        row.update(
            event_type="exception",
            exception_type=d["exceptionType"],
            exception_message=f"{d['errorType']}: {d['message']}",
            exception_href=d["href"],
        )
    elif kind == "custom":
        strings = {k: [v] for k, v in d["properties"].items() if isinstance(v, str)}
        bools = {k: [v] for k, v in d["properties"].items() if isinstance(v, bool)}
        doubles = {k: [v] for k, v in d["properties"].items() if isinstance(v, int | float) and not isinstance(v, bool)}
        row.update(
            event_type="customEvent",
            custom_event_name=d["name"],
            custom_event_string_properties=json.dumps(strings),
            custom_event_bool_properties=json.dumps(bools),
            custom_event_double_properties=json.dumps(doubles),
        )
    elif kind == "redux":
        row.update(event_type="reduxAction", redux_action_type=d["type"])
    return row


# What the SDK records with a request: headers (credentials already scrubbed) and bodies, as text.
_REQUEST_HEADERS = {
    "accept": "application/json, text/plain, */*",
    "content-type": "application/json",
    "authorization": "[scrubbed]",
    "x-client-version": "4.18.2",
    "x-csrf-token": "[scrubbed]",
    "accept-language": "en-US,en;q=0.9",
}
_RESPONSE_HEADERS = {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "private, no-cache",
    "server": "envoy",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "vary": "Accept-Encoding, Origin",
}


@functools.cache
def _listing(n: int) -> str:
    items = [
        {
            "id": 1000 + i,
            "name": f"Project {i}",
            "owner": {"id": f"u-{1000 + i % 7}", "role": "admin"},
            "updatedAt": f"2026-11-{1 + i % 28:02d}T10:{i % 60:02d}:00Z",
            "tags": ["q3", "roadmap"][: 1 + i % 2],
            "stats": {"tasks": 3 * i, "open": i % 5, "members": 1 + i % 9},
        }
        for i in range(n)
    ]
    return json.dumps({"data": items, "page": 1, "total": n}, separators=(",", ":"))


def _response_body(req_id: str, status: int) -> str:
    if status >= 400:
        return json.dumps({"error": {"code": status, "message": "Request failed", "requestId": f"req_{req_id}"}})
    # Deterministic per request: listings of 0 to 24 items (about 4 KB at most).
    return _listing(zlib.crc32(req_id.encode()) % 25)


def _request_body(req_id: str) -> str:
    return json.dumps({"name": "Untitled", "template": "blank", "members": ["u-1001", "u-1004"], "ref": req_id})


def _render_b(event: Event, seq_id: int, ctx: dict[str, Any]) -> dict[str, Any]:
    """SDK event envelope: ``{"type": "lr.…", "time": ms, "data": {…}}``."""
    user: SessionUser = ctx["user"]
    d = event.data
    kind = event.kind
    if kind == "session":
        return {
            "type": "lr.Metadata",
            "time": event.t,
            "data": {"browser": d["browser"], "deviceType": d["device"], "country": d["country"]},
        }
    if kind == "identify":
        data: dict[str, Any] = {"id": user.user_id, "name": user.name, "email": user.email, "traits": user.traits}
        return {"type": "lr.Identify", "time": event.t, "data": data}
    if kind == "navigation":
        return {"type": "lr.Navigation", "time": event.t, "data": {"href": d["href"]}}
    if kind == "click":
        return {"type": "lr.Click", "time": event.t, "data": {"selector": d["selector"], "href": d["href"]}}
    if kind == "input":
        return {"type": "lr.InputChange", "time": event.t, "data": {"selector": d["selector"], "value": d["text"]}}
    if kind == "console":
        return {"type": "lr.core.LogEvent", "time": event.t, "data": {"logLevel": d["level"], "args": [d["message"]]}}
    if kind == "request":
        body = _request_body(d["reqId"]) if d["method"] in ("POST", "PUT") else None
        return {
            "type": "lr.network.RequestEvent",
            "time": event.t,
            "data": {
                "reqId": d["reqId"],
                "url": d["url"],
                "method": d["method"],
                "headers": _REQUEST_HEADERS,
                "body": body,
                "referrer": d["href"],
                "mode": "cors",
                "credentials": "include",
            },
        }
    if kind == "response":
        body = _response_body(d["reqId"], d["status"])
        headers = {**_RESPONSE_HEADERS, "content-length": str(len(body)), "x-request-id": f"req_{d['reqId']}"}
        return {
            "type": "lr.network.ResponseEvent",
            "time": event.t,
            "data": {
                "reqId": d["reqId"],
                "status": d["status"],
                "method": d["method"],
                "headers": headers,
                "body": body,
            },
        }
    if kind == "exception":
        return {
            "type": "lr.core.Exception",
            "time": event.t,
            "data": {
                "exceptionType": d["exceptionType"],
                "errorType": d["errorType"],
                "message": d["message"],
                "browserHref": d["href"],
            },
        }
    if kind == "custom":
        return {"type": "lr.CustomEvent", "time": event.t, "data": {"name": d["name"], "properties": d["properties"]}}
    return {"type": "lr.redux.ReduxAction", "time": event.t, "data": {"action": {"type": d["type"]}}}
