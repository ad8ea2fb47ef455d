"""Brute force: what the session index must answer, computed from the sandbox generator's own events.

Independent of the export reader and of SQL: facts come from the generated events (as each export shape
renders them), and every query is evaluated here with plain Python over all sessions.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from mcp_server.library.model import generalise_url
from mcp_server.sandbox.sessions import SyntheticSession
from mcp_server.sandbox.world import SandboxWorld

DAY_MS = 86_400_000


def fold(text: str | None) -> str:
    return unicodedata.normalize("NFC", text).casefold() if text else ""


@dataclass
class Truth:
    app: str
    session_id: str
    started: int
    ended: int
    user_id: str | None
    name: str | None
    email: str | None
    pages: list[str] = field(default_factory=list)
    pages_total: int = 0
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    failed: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)

    @property
    def user_key(self) -> str | None:
        return self.user_id or self.email or self.name

    @property
    def key(self) -> tuple[str, str]:
        return (self.app, self.session_id)


def truth_of(s: SyntheticSession) -> Truth:
    shape_a = s.shape == "A"
    times: list[int] = []
    user_id = name = email = None
    if s.user.anonymous:
        user_id = s.user.user_id if shape_a else None  # shape A's session row names even anonymous users
    else:
        user_id, name, email = s.user.user_id, s.user.name, s.user.email
    t = Truth(f"{s.org}/{s.app}", s.session_id, 0, 0, user_id, name, email)
    page = None
    asked: dict[str, tuple[str, str]] = {}
    for e in s.events():
        if not (shape_a and e.kind == "request"):
            times.append(e.t)
        if e.kind == "navigation":
            if e.data["href"] != page:
                page = e.data["href"]
                t.pages_total += 1
                if page not in t.pages:
                    t.pages.append(page)
        elif e.kind == "exception":
            t.errors[(e.data["errorType"], e.data["message"])] += 1
        elif e.kind == "custom":
            t.events[e.data["name"]] += 1
        elif e.kind == "request":
            asked[e.data["reqId"]] = (e.data["method"], e.data["url"])
        elif e.kind == "response":
            method, url = asked.pop(e.data["reqId"], (e.data["method"], e.data["url"]))
            if e.data["status"] >= 400:
                t.failed[(method, url, e.data["status"])] += 1
    if not shape_a:
        for method, url in asked.values():  # never answered
            t.failed[(method, url, 0)] += 1
    t.started, t.ended = min(times), max(times)
    return t


def world_truth(world: SandboxWorld) -> list[Truth]:
    return [truth_of(s) for app in world.apps.values() for s in app.sessions]


@dataclass(frozen=True)
class Q:
    user: str | None = None
    error: str | None = None
    url: str | None = None
    event: str | None = None
    text: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None


def _user(t: Truth, v: str) -> bool:
    return v == fold(t.user_id) or v == fold(t.email) or (bool(t.name) and v in fold(t.name))


def _error(t: Truth, v: str) -> bool:
    return any(v in fold(kind) or v in fold(message) for kind, message in t.errors)


def _url_hit(url: str, v: str) -> bool:
    return v in fold(url) or v in fold(generalise_url(url))


def _url(t: Truth, v: str) -> bool:
    return any(_url_hit(p, v) for p in t.pages) or any(_url_hit(u, v) for _, u, _ in t.failed)


def _event(t: Truth, v: str) -> bool:
    return any(fold(n) == v for n in t.events)


def matches(t: Truth, q: Q) -> bool:
    if q.since_ms is not None and t.started < q.since_ms:
        return False
    if q.until_ms is not None and t.started >= q.until_ms:
        return False
    checks = {"user": _user, "error": _error, "url": _url, "event": _event}
    for name, check in checks.items():
        value = getattr(q, name)
        if value is not None and not check(t, fold(value)):
            return False
    return q.text is None or any(check(t, fold(q.text)) for check in checks.values())


def find(truths: list[Truth], q: Q) -> list[tuple[str, str]]:
    hits = [t for t in truths if matches(t, q)]
    hits.sort(key=lambda t: (t.started, t.app, t.session_id), reverse=True)
    return [t.key for t in hits]


def stats(truths: list[Truth], group_by: str, q: Q, limit: int) -> list[dict[str, Any]]:
    """Groups as {key, sessions, users, occurrences, errors, failed, first, last, example}, ranked."""
    hits = [t for t in truths if matches(t, q)]
    groups: dict[Any, dict[str, Any]] = defaultdict(
        lambda: {"sessions": set(), "users": set(), "occurrences": 0, "errors": 0, "failed": 0, "starts": []}
    )

    def add(key: Any, t: Truth, occurrences: int, errors: int = 0, failed: int = 0) -> None:
        g = groups[key]
        g["sessions"].add(t.key)
        if t.user_key is not None:
            g["users"].add(t.user_key)
        g["occurrences"] += occurrences
        g["errors"] += errors
        g["failed"] += failed
        g["starts"].append((t.started, t.app, t.session_id))

    for t in hits:
        if group_by == "errors":
            for (kind, message), n in t.errors.items():
                if q.error is None or fold(q.error) in fold(kind) or fold(q.error) in fold(message):
                    add((kind, message), t, n)
        elif group_by == "requests":
            for (method, url, status), n in t.failed.items():
                if q.url is None or _url_hit(url, fold(q.url)):
                    add((method, generalise_url(url), status), t, n)
        elif group_by == "pages":
            for href in t.pages:
                if q.url is None or _url_hit(href, fold(q.url)):
                    add((generalise_url(href),), t, 1)
        elif group_by == "events":
            for name, n in t.events.items():
                if q.event is None or fold(name) == fold(q.event):
                    add((fold(name),), t, n)
        elif group_by == "users":
            if t.user_key is not None:
                add((t.user_key,), t, 1, sum(t.errors.values()), sum(t.failed.values()))
        else:
            add((t.started // DAY_MS,), t, 1, sum(t.errors.values()), sum(t.failed.values()))
    rows = []
    for key, g in groups.items():
        starts = sorted(g["starts"])
        rows.append(
            {
                "key": key,
                "sessions": len(g["sessions"]),
                "users": len(g["users"]),
                "occurrences": g["occurrences"],
                "errors": g["errors"],
                "failed": g["failed"],
                "first": starts[0][0],
                "last": starts[-1][0],
                "example": (starts[-1][1], starts[-1][2]),
            }
        )
    if group_by == "days":
        rows.sort(key=lambda r: r["key"], reverse=True)
    elif group_by == "users":
        rows.sort(key=lambda r: (-r["sessions"], -r["errors"], -r["failed"], r["key"]))
    else:
        rows.sort(key=lambda r: (-r["sessions"], -r["users"], -r["occurrences"], r["key"]))
    return rows[:limit]
