"""find_sessions' answer: a page of indexed sessions, newest first, with the call for the next page and what
the index covers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from mcp_server.library.store import SessionQuery, SessionRow
from mcp_server.render.budget import Budget
from mcp_server.render.markdown import Markup, code, table_head, table_row
from mcp_server.results.base import MarkdownOnly, ToolResult
from mcp_server.results.session_index import (
    CoverageOut,
    call,
    coverage_markdown,
    filters_text,
    replay_url,
    who,
)
from mcp_server.timeparse import duration, iso

MAX_CHARS = 24_000
_COLUMNS = ["started (UTC)", "who", "duration", "pages", "errors", "failed requests", "session", "replay"]


class FoundSession(BaseModel):
    session_id: str = Field(
        description="LogRocket's recordingID/sessionID; read_session_export(session_id=...) reads it."
    )
    app: str
    started_at: str
    ended_at: str
    duration_ms: int
    user_id: str | None
    user_email: str | None
    user_name: str | None
    pages: int = Field(description="Page views in the session.")
    first_pages: list[str] = Field(description="The first distinct pages visited (up to 5).")
    errors: int
    failed_requests: int
    custom_events: int
    replay_url: str | None
    complete: bool = Field(description="False when only part of the export could be read (size cap).")


class FindSessionsOutput(ToolResult):
    sessions: list[FoundSession] = Field(description="Newest first.")
    count: int
    next_cursor: str | None = Field(description="Pass as cursor, with the same filters, for the next page.")
    filters: str
    coverage: CoverageOut
    # Sessions of this page left out to stay under MAX_CHARS; whether the index holds more beyond the page;
    # the exact call for the next page; room kept for the closing notes; when the answer was made.
    left_out: MarkdownOnly[int] = 0
    more: MarkdownOnly[bool] = False
    next_call: MarkdownOnly[str | None] = None
    reserve: MarkdownOnly[int] = 0
    now_ms: MarkdownOnly[int] = 0

    def render(self) -> str:
        text, _ = self._markdown()
        return text

    def _markdown(self) -> tuple[str, int]:
        """The Markdown, and how many of the sessions fit in it."""
        cover = coverage_markdown(self.coverage, self.now_ms)
        head = f" matching {self.filters}" if self.filters else ""
        if not self.sessions:
            return f"No sessions in the index{head}.\n\n{cover}", 0
        budget = Budget(MAX_CHARS, reserve=self.reserve)
        page = len(self.sessions) + self.left_out
        budget.add(f"**{page}{'+' if self.more else ''} session{'s' if page != 1 else ''}**{head}, newest first.")
        budget.add("")
        budget.add(table_head(_COLUMNS))
        shown = 0
        for s in self.sessions:
            if not budget.add(table_row(_cells(s))):
                break
            shown += 1
        notes = []
        left = page - shown
        if shown and (left or self.more) and self.next_call:
            cut = f"{left} more of this page were left out to stay under {MAX_CHARS:,} characters. " if left else ""
            notes.append(f"{cut}**More sessions:** call {code(self.next_call, None)}.")
        notes.append(
            "Read one with `read_session_export(session_id=...)`: its digest, then focus on errors or network."
        )
        return budget.close("\n" + "\n".join(notes) + "\n\n" + cover), shown


def _cells(s: FoundSession) -> list[str]:
    return [
        s.started_at,
        who(s.user_id, s.user_email, s.user_name),
        duration(s.duration_ms / 1000),
        str(s.pages),
        str(s.errors),
        str(s.failed_requests),
        Markup(code(s.session_id, 80) + ("" if s.complete else " (partly read)")),
        code(s.replay_url, None) if s.replay_url else "?",
    ]


def found_session(r: SessionRow) -> FoundSession:
    return FoundSession(
        session_id=r.session_id,
        app=r.app,
        started_at=iso(r.started_ms),
        ended_at=iso(r.ended_ms),
        duration_ms=r.ended_ms - r.started_ms,
        user_id=r.user_id,
        user_email=r.user_email,
        user_name=r.user_name,
        pages=r.pages_total,
        first_pages=r.pages[:5],
        errors=r.errors,
        failed_requests=r.failed_requests,
        custom_events=r.custom_events,
        replay_url=replay_url(r.app, r.session_id),
        complete=r.complete,
    )


def find_sessions_result(
    rows: list[SessionRow],
    *,
    more: bool,
    query: SessionQuery,
    arguments: dict[str, Any],
    limit: int,
    cursor: str | None,
    encode: Callable[[SessionRow], str],
    coverage: CoverageOut,
    now: int,
) -> FindSessionsOutput:
    """The answer for one page of ``rows`` (``more``: the index has sessions after them): the sessions that fit
    the size budget, and the cursor and call that continue after the last one shown."""
    given = {k: v for k, v in arguments.items() if v is not None}

    def next_call(row: SessionRow) -> str:
        return call("find_sessions", **given, limit=limit, cursor=encode(row))

    cover = coverage_markdown(coverage, now)
    whole = FindSessionsOutput(
        sessions=[found_session(r) for r in rows],
        count=len(rows),
        next_cursor=None,
        filters=filters_text(query),
        coverage=coverage,
        more=more,
        reserve=len(cover) + (len(next_call(rows[-1])) if rows else 0) + 700,
        now_ms=now,
    )
    _, shown = whole._markdown()
    has_next = more or shown < len(rows)
    next_cursor = encode(rows[shown - 1]) if has_next and shown else (cursor if has_next else None)
    return whole.model_copy(
        update={
            "sessions": whole.sessions[:shown],
            "count": shown,
            "next_cursor": next_cursor,
            "left_out": len(rows) - shown,
            "next_call": next_call(rows[shown - 1]) if has_next and shown else None,
        }
    )
