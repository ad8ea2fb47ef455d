"""What find_sessions and session_stats share: the filters, and the coverage every answer states."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from mcp_server.errors import InputError
from mcp_server.library.store import Coverage, SessionQuery
from mcp_server.library.sync import in_thread
from mcp_server.render.library import call
from mcp_server.render.markdown import code
from mcp_server.timeparse import iso, now_ms, parse_instant
from mcp_server.tools.runtime import ToolContext, runtime

Search = Annotated[str, StringConstraints(min_length=1, max_length=200)]
TimeText = Annotated[str, StringConstraints(min_length=1, max_length=64)] | Annotated[int, Field(ge=0)]
_STALE_MS = 15 * 60_000  # coverage names the recent window as missing once the last full sync is this old

USER = Field(
    description="A user id or email (exact) or part of a name; case-insensitive with full Unicode case folding."
)
ERROR = Field(description="Part of an error's type or message, e.g. PaymentDeclined or 'reading id'.")
URL = Field(
    description="Part of a visited page's URL or of a failed request's URL (as recorded or generalised, e.g. "
    "/orders/{id}); successful requests never match."
)
EVENT = Field(description="A custom event name (exact, case-insensitive), e.g. CheckoutStarted.")
TEXT = Field(description="Matches any of user, error, url and event.")
SINCE = Field(
    description="Sessions that started at or after this time: epoch ms, an ISO-8601 date or time (UTC unless it "
    "has an offset; days are UTC), 'today', 'yesterday', or an age such as 24h or 7d."
)
UNTIL = Field(description="Sessions that started before this time (exclusive); same forms as since.")


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


def clean_search(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text or any(ord(ch) < 32 for ch in text):
        raise InputError(f"{name} must be some text on one line (no line breaks or control characters).")
    return text


def build_query(
    *,
    user: str | None,
    error: str | None,
    url: str | None,
    event: str | None,
    text: str | None,
    since: str | int | None,
    until: str | int | None,
) -> SessionQuery:
    since_ms = parse_instant(since, field="since") if since is not None else None
    until_ms = parse_instant(until, field="until") if until is not None else None
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise InputError(f"since ({iso(since_ms)}) must be before until ({iso(until_ms)}); swap them or drop one.")
    return SessionQuery(
        user=clean_search("user", user),
        error=clean_search("error", error),
        url=clean_search("url", url),
        event=clean_search("event", event),
        text=clean_search("text", text),
        since_ms=since_ms,
        until_ms=until_ms,
    )


async def load_coverage(ctx: ToolContext, query: SessionQuery) -> CoverageOut:
    store = runtime(ctx).library.store
    coverage: Coverage = await in_thread(store.coverage)
    return coverage_out(coverage, query, now_ms())


def coverage_out(coverage: Coverage, query: SessionQuery, now: int) -> CoverageOut:
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


def filters_text(query: SessionQuery) -> str:
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
