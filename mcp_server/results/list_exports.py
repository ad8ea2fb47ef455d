"""list_exports' answer: a page of exported sessions, what each URL reveals, and the call for the next page."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from mcp_server.render.budget import Budget
from mcp_server.render.markdown import Markup, code, table_head, table_row
from mcp_server.results.base import MarkdownOnly, ToolResult, UtcTime
from mcp_server.timeparse import iso

MAX_CHARS = 40_000


class ExportedSession(BaseModel):
    url: str = Field(description="Download URL of the session's JSON Lines export file.")
    session_id: str | None = Field(description="LogRocket recordingID/sessionID, when the URL shows it.")
    replay_url: str | None = Field(description="The session in LogRocket's web app, when it can be built.")
    recorded_on: str | None = Field(description="Date (YYYY-MM-DD) in the file's path, when present.")
    expires_at: UtcTime | None = Field(description="When the signed URL stops working (UTC), when the URL says.")
    # Whether the URL names a gzip file (None: it does not say), for the listing's file column.
    compressed: MarkdownOnly[bool | None] = None


class ListExportsOutput(ToolResult):
    app_id: str
    count: int = Field(description="Sessions on this page.")
    sessions: list[ExportedSession]
    next_cursor: str | None = Field(
        description="Pass as cursor to get sessions exported after this page (also later, to poll for new ones)."
    )
    more_available: bool = Field(description="False when this page reached the newest export available now.")
    since_ms: int | None = Field(description="The start time sent to LogRocket (epoch ms), if any.")
    # Entries of LogRocket's page without a download URL, and the cursor this call was given.
    skipped: MarkdownOnly[int] = 0
    cursor_sent: MarkdownOnly[str | None] = None

    def render(self) -> str:
        call_next = f"list_exports(cursor={json.dumps(self.next_cursor)})" if self.next_cursor else None
        start = f" from {iso(self.since_ms)}" if self.since_ms is not None else ""
        if not self.sessions:
            after = " after this cursor" if self.cursor_sent else start
            lines = [f"No exported sessions for app {code(self.app_id)}{after}."]
            lines.append(
                "LogRocket exports a session about an hour after it ends, so recent activity may not be here yet."
            )
            if call_next:
                lines.append(f"To check again later for newer exports, call {code(call_next, None)}.")
            return "\n".join(lines)

        if self.more_available:
            closing = f"**More sessions:** call {code(call_next or '', None)} for the next page."
        else:
            closing = (
                "**No more sessions for now:** this page reached the newest export available. Sessions finishing "
                "later appear about an hour after they end"
                + (f"; to fetch them, call {code(call_next, None)}." if call_next else ".")
            )
        if self.skipped:
            closing = f"{self.skipped} entries on this page had no download URL and are not listed.\n" + closing
        # Room for the closing note plus, if rows must be cut, the note saying how to get them.
        budget = Budget(MAX_CHARS, reserve=len(closing) + 500 + len(self.cursor_sent or ""))
        budget.add(
            f"**{self.count} exported session{'s' if self.count != 1 else ''}** for app {code(self.app_id)}{start}, "
            "oldest first."
        )
        budget.add("")
        budget.add(table_head(["#", "recorded", "session", "file", "link expires"]))
        now = datetime.now(UTC)
        rows = 0
        for i, s in enumerate(self.sessions, 1):
            row = table_row(
                [
                    str(i),
                    s.recorded_on or "?",
                    code(s.session_id, 80) if s.session_id else "?",
                    _format(s.compressed),
                    _expiry(s.expires_at, now),
                ]
            )
            if not budget.add(row):
                break
            rows += 1
        budget.add("")
        budget.add("Download URLs (each is one session's JSON Lines export file):")
        listed = 0
        for i, s in enumerate(self.sessions[:rows], 1):
            if not budget.add(f"{i}. {code(s.url, None)}"):
                break
            listed += 1
        if listed < self.count:
            left = self.count - listed
            closing = (
                f"{left} session{'s' if left != 1 else ''} of this page {'are' if left != 1 else 'is'} not shown, "
                f"to keep this answer under {MAX_CHARS:,} characters; they are in the structured result. To read "
                f"them here, page in smaller steps: call "
                f"{code(_call(self.cursor_sent, self.since_ms, listed), None)} and continue from its cursor.\n"
                + closing
            )
        return budget.close("\n" + closing)


def _call(cursor: str | None, since_ms: int | None, limit: int) -> str:
    args = [f"limit={limit}"]
    if cursor is not None:
        args.insert(0, f"cursor={json.dumps(cursor)}")
    elif since_ms is not None:
        args.insert(0, f"since={since_ms}")
    return f"list_exports({', '.join(args)})"


def _format(compressed: bool | None) -> str:
    if compressed is None:
        return "?"
    return "JSON Lines, gzip" if compressed else "JSON Lines"


def _expiry(expires_at: datetime | None, now: datetime) -> str:
    if expires_at is None:
        return "?"
    seconds = (expires_at - now).total_seconds()
    if seconds <= 0:
        return Markup("**expired** (list again for a fresh link)")
    if seconds < 3600:
        return f"in {int(seconds // 60)} min"
    if seconds < 172800:
        return f"in {seconds / 3600:.0f} h"
    return f"in {seconds / 86400:.0f} d"
