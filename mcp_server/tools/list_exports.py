"""list_exports: page through LogRocket's exported session files (one JSON Lines file per session)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field, StringConstraints

from mcp_server.errors import InputError
from mcp_server.exports.urlinfo import ExportUrlInfo, inspect_export_url
from mcp_server.render.budget import Budget
from mcp_server.render.markdown import Markup, code, table_head, table_row
from mcp_server.settings import AppRef
from mcp_server.timeparse import iso, now_ms, parse_instant
from mcp_server.tools.arguments import NonNegative, TimeText
from mcp_server.tools.output import answer
from mcp_server.tools.runtime import ToolContext, runtime
from mcp_server.tools.spec import ToolSpec

NAME = "list_exports"
TITLE = "List exported LogRocket sessions"
ANNOTATIONS = ToolAnnotations(
    title=TITLE,
    read_only_hint=True,
    destructive_hint=False,
    idempotent_hint=True,
    open_world_hint=True,
)
# Its line in the server's instructions.
INSTRUCTIONS = (
    f"- {NAME}: "
    "find exported sessions by time. LogRocket exports each finished session as one JSON Lines file "
    "(about an hour after it ends); page with the returned cursor, or start at a time with since. The "
    "list does not say whose session each file is: read_session_export's digest does."
)
MAX_CHARS = 40_000

Cursor = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class ExportedSession(BaseModel):
    url: str = Field(description="Download URL of the session's JSON Lines export file.")
    session_id: str | None = Field(description="LogRocket recordingID/sessionID, when the URL shows it.")
    replay_url: str | None = Field(description="The session in LogRocket's web app, when it can be built.")
    recorded_on: str | None = Field(description="Date (YYYY-MM-DD) in the file's path, when present.")
    expires_at: str | None = Field(description="When the signed URL stops working (UTC), when the URL says.")


class ListExportsOutput(BaseModel):
    app_id: str
    count: int = Field(description="Sessions on this page.")
    sessions: list[ExportedSession]
    next_cursor: str | None = Field(
        description="Pass as cursor to get sessions exported after this page (also later, to poll for new ones)."
    )
    more_available: bool = Field(description="False when this page reached the newest export available now.")
    since_ms: int | None = Field(description="The start time sent to LogRocket (epoch ms), if any.")


async def list_exports(
    ctx: ToolContext,
    cursor: Annotated[
        Cursor | NonNegative | None,
        Field(
            description="Continue after a previous page: the next_cursor a previous list_exports call returned, "
            "passed back exactly as given (it is opaque text, even when it looks like a number)."
        ),
    ] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Sessions per page, 1 to 100.")] = 10,
    since: Annotated[
        TimeText | NonNegative | None,
        Field(
            description="Start from this time instead of the oldest export: epoch milliseconds, an ISO-8601 date "
            "or date-time (UTC unless it has an offset), 'today', 'yesterday', or an age such as 24h or 7d. "
            "Not together with cursor."
        ),
    ] = None,
) -> Annotated[CallToolResult, ListExportsOutput]:
    """List LogRocket's exported session files for the configured app, oldest first, one page at a time.
    Each exported session is one JSON Lines file with the session's events; a session is exported about an
    hour after it ends, so the last hour of activity is not here yet. Use it to find sessions from a time
    range (since) or to walk through new sessions page by page (cursor). The answer lists each session with
    what its URL reveals (date, session id, expiry of the download link) and the cursor for the next page."""
    if cursor is not None and since is not None:
        raise InputError(
            "Give either cursor (to continue from a previous page) or since (to start at a time), not both."
        )
    cursor_text = str(cursor) if cursor is not None else None
    since_ms = parse_instant(since, field="since") if since is not None else None
    if since_ms is not None and since_ms > now_ms():
        raise InputError(f"since={iso(since_ms)} is in the future; no session has been exported after it yet.")
    lr = runtime(ctx).logrocket
    page = await lr.list_exports(cursor=cursor_text, limit=limit, date_ms=since_ms)
    app = lr.app
    more = bool(page.files) and page.cursor is not None and page.cursor != cursor_text and len(page.files) >= limit
    infos = [inspect_export_url(f.url) for f in page.files]
    sessions = [_session(f.url, info, app) for f, info in zip(page.files, infos, strict=True)]
    out = ListExportsOutput.model_construct(
        app_id=str(app),
        count=len(sessions),
        sessions=sessions,
        next_cursor=page.cursor if page.cursor is not None else cursor_text,
        more_available=more,
        since_ms=since_ms,
    )
    return answer(_markdown(out, infos, page.skipped, cursor_text), out)


def _session(url: str, info: ExportUrlInfo, app: AppRef) -> ExportedSession:
    # Values built here are already of the declared types; the SDK validates the whole output once.
    return ExportedSession.model_construct(
        url=url,
        session_id=info.session_id,
        replay_url=info.replay_url(app.org, app.app),
        recorded_on=info.recorded_on,
        expires_at=iso(round(info.expires_at.timestamp() * 1000)) if info.expires_at else None,
    )


def _markdown(out: ListExportsOutput, infos: list[ExportUrlInfo], skipped: int, cursor_sent: str | None) -> str:
    call_next = f"list_exports(cursor={json.dumps(out.next_cursor)})" if out.next_cursor else None
    start = f" from {iso(out.since_ms)}" if out.since_ms is not None else ""
    if not out.sessions:
        lines = [f"No exported sessions for app {code(out.app_id)}{' after this cursor' if cursor_sent else start}."]
        lines.append("LogRocket exports a session about an hour after it ends, so recent activity may not be here yet.")
        if call_next:
            lines.append(f"To check again later for newer exports, call {code(call_next, None)}.")
        return "\n".join(lines)

    if out.more_available:
        closing = f"**More sessions:** call {code(call_next or '', None)} for the next page."
    else:
        closing = (
            "**No more sessions for now:** this page reached the newest export available. Sessions finishing "
            "later appear about an hour after they end"
            + (f"; to fetch them, call {code(call_next, None)}." if call_next else ".")
        )
    if skipped:
        closing = f"{skipped} entries on this page had no download URL and are not listed.\n" + closing
    # Room for the closing note plus, if rows must be cut, the note saying how to get them.
    budget = Budget(MAX_CHARS, reserve=len(closing) + 500 + len(cursor_sent or ""))
    budget.add(
        f"**{out.count} exported session{'s' if out.count != 1 else ''}** for app {code(out.app_id)}{start}, "
        "oldest first."
    )
    budget.add("")
    budget.add(table_head(["#", "recorded", "session", "file", "link expires"]))
    now = datetime.now(UTC)
    rows = 0
    for i, (s, info) in enumerate(zip(out.sessions, infos, strict=True), 1):
        row = table_row(
            [
                str(i),
                s.recorded_on or "?",
                code(s.session_id, 80) if s.session_id else "?",
                _format(info.compressed),
                _expiry(s.expires_at, now),
            ]
        )
        if not budget.add(row):
            break
        rows += 1
    budget.add("")
    budget.add("Download URLs (each is one session's JSON Lines export file):")
    listed = 0
    for i, s in enumerate(out.sessions[:rows], 1):
        if not budget.add(f"{i}. {code(s.url, None)}"):
            break
        listed += 1
    if listed < out.count:
        left = out.count - listed
        closing = (
            f"{left} session{'s' if left != 1 else ''} of this page {'are' if left != 1 else 'is'} not shown, to "
            f"keep this answer under {MAX_CHARS:,} characters; they are in the structured result. To read them "
            f"here, page in smaller steps: call "
            f"{code(_call(cursor_sent, out.since_ms, listed), None)} and continue from its cursor.\n" + closing
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


def _expiry(expires_at: str | None, now: datetime) -> str:
    if not expires_at:
        return "?"
    when = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    seconds = (when - now).total_seconds()
    if seconds <= 0:
        return Markup("**expired** (list again for a fresh link)")
    if seconds < 3600:
        return f"in {int(seconds // 60)} min"
    if seconds < 172800:
        return f"in {seconds / 3600:.0f} h"
    return f"in {seconds / 86400:.0f} d"


TOOL = ToolSpec(NAME, TITLE, list_exports, ANNOTATIONS, INSTRUCTIONS)
