"""What the answers of the session index tools share: the coverage each one states, and how they name people,
filters, replays and calls.

Every recorded value (names, emails, messages, URLs) goes through ``code``: it is data. Cells built of several
code spans are ``Markup``, so a table places them as they are.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from mcp_server.library.store import Coverage, SessionQuery
from mcp_server.render.markdown import Markup, code
from mcp_server.timeparse import iso

_STALE_MS = 15 * 60_000  # coverage names the recent window as missing once the last full sync is this old


class AppCoverage(BaseModel):
    app: str
    sessions: int
    first_session_at: str | None = Field(description="Start of the earliest indexed session.")
    last_session_at: str | None = Field(description="Start of the latest indexed session.")
    synced_from: str | None = Field(description="Where the synced window begins (the since of the first sync).")
    synced_through: str | None = Field(description="When a sync last read the listing to its end.")
    last_synced_at: str | None
    last_synced_ms: int | None
    failed_exports: int = Field(description="Exports that could not be read; the next sync retries them.")
    sync_running: bool


class Gap(BaseModel):
    what: str = Field(description="Which sessions the index does not hold.")
    call: str = Field(description="The sync_sessions call that adds them.")


class CoverageOut(BaseModel):
    apps: list[AppCoverage]
    sessions: int
    first_session_at: str | None
    last_session_at: str | None
    last_synced_at: str | None
    gaps: list[Gap] = Field(description="Parts of the asked window the index does not cover, with the call to fill.")


def coverage_out(coverage: Coverage, query: SessionQuery, now: int) -> CoverageOut:
    """What the index covers, and the parts of the window ``query`` asks about that it does not."""

    def at(ms: int | None) -> str | None:
        return iso(ms) if ms is not None else None

    apps = [
        AppCoverage(
            app=a.app,
            sessions=a.sessions,
            first_session_at=at(a.first_started_ms),
            last_session_at=at(a.last_started_ms),
            synced_from=at(a.window_from_ms),
            synced_through=at(a.synced_through_ms),
            last_synced_at=at(a.last_sync_ms),
            last_synced_ms=a.last_sync_ms,
            failed_exports=a.failures,
            sync_running=a.running_since_ms is not None,
        )
        for a in coverage.apps
    ]
    gaps: list[Gap] = []
    window = coverage.window_from_ms
    since_text = iso(query.since_ms) if query.since_ms is not None else None
    if not coverage.apps:
        gaps.append(
            Gap(what="every session (the index is empty)", call=call("sync_sessions", since=since_text or "7d"))
        )
    else:
        if query.since_ms is not None and (window is None or query.since_ms < window):
            upto = f" before {iso(window)}" if window is not None else ""
            gaps.append(Gap(what=f"sessions from {since_text}{upto}", call=call("sync_sessions", since=since_text)))
        through = coverage.synced_through_ms
        end = query.until_ms if query.until_ms is not None else now
        if through is None:
            gaps.append(
                Gap(
                    what="part of the synced window: no sync has read the export listing to its end yet",
                    call=call("sync_sessions"),
                )
            )
        elif end - through > _STALE_MS and through < end:
            gaps.append(Gap(what=f"sessions exported after {iso(through)}", call=call("sync_sessions")))
    return CoverageOut(
        apps=apps,
        sessions=coverage.sessions,
        first_session_at=at(coverage.first_started_ms),
        last_session_at=at(coverage.last_started_ms),
        last_synced_at=at(coverage.last_sync_ms),
        gaps=gaps,
    )


def coverage_markdown(coverage: CoverageOut, now: int) -> str:
    """The coverage block: apps, window, sessions, last sync, gaps with the calls that fill them."""
    if not coverage.apps:
        return (
            "**Index coverage:** the session index is empty: no exports have been synced into it yet. "
            + (f"To fill it, call {code(coverage.gaps[0].call, None)}" if coverage.gaps else "")
            + " (or run `session-replay-mcp sync --since 7d` in a terminal)."
        )
    parts = []
    for a in coverage.apps:
        text = f"{code(a.app, 80)}: {a.sessions} session{'s' if a.sessions != 1 else ''}"
        if a.first_session_at:
            text += f" started {a.first_session_at} to {a.last_session_at}"
        text += f"; synced from {a.synced_from or '?'}"
        text += f" through {a.synced_through}" if a.synced_through else " (the listing was not read to its end yet)"
        if a.last_synced_at and a.last_synced_ms is not None:
            text += f"; last synced {a.last_synced_at} ({ago(a.last_synced_ms, now)})"
        if a.sync_running:
            text += "; a sync is running now"
        if a.failed_exports:
            n = a.failed_exports
            text += f"; {n} export{'s' if n != 1 else ''} could not be read and will be retried by the next sync"
        parts.append(text)
    lines = ["**Index coverage:** " + " | ".join(parts) + "."]
    lines += [f"- Not in the index: {gap.what}. To add it, call {code(gap.call, None)}." for gap in coverage.gaps]
    return "\n".join(lines)


def filters_text(query: SessionQuery) -> str:
    """The filters of a query, as an answer names them (empty when there are none)."""
    parts = []
    for name in ("user", "error", "url", "event", "text"):
        value = getattr(query, name)
        if value is not None:
            parts.append(f"{name} {code(value, 80)}")
    if query.since_ms is not None:
        parts.append(f"started from {iso(query.since_ms)}")
    if query.until_ms is not None:
        parts.append(f"started before {iso(query.until_ms)}")
    return ", ".join(parts)


def replay_url(app: str, session_id: str) -> str | None:
    if session_id.startswith("export-") or "/" not in app:
        return None
    return f"https://app.logrocket.com/{app}/s/{session_id}"


def ago(ms: int, now: int) -> str:
    seconds = max(0, (now - ms) // 1000)
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    if seconds < 172_800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def call(tool: str, **arguments: Any) -> str:
    """A tool call as an agent would write it, arguments as JSON values (None left out)."""
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items() if v is not None)
    return f"{tool}({args})"


def who(user_id: str | None, email: str | None, name: str | None) -> Markup:
    parts = []
    if name:
        parts.append(code(name, 60))
    if email:
        parts.append(code(email, 80))
    elif user_id:
        parts.append(code(user_id, 80))
    return Markup(" ".join(parts) if parts else "anonymous")
