"""list_exports: page through LogRocket's exported session files (one JSON Lines file per session)."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field, StringConstraints

from mcp_server.errors import InputError
from mcp_server.exports.urlinfo import inspect_export_url
from mcp_server.results.base import answer
from mcp_server.results.list_exports import ExportedSession, ListExportsOutput
from mcp_server.settings import AppRef
from mcp_server.timeparse import iso, now_ms, parse_instant
from mcp_server.tools.arguments import NonNegative, TimeText
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
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=512)]


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
    rt = runtime(ctx)
    lr = rt.logrocket
    page = await lr.list_exports(cursor=cursor_text, limit=limit, date_ms=since_ms)
    if page.files:
        await rt.exports.expect_reads()  # reading one of them usually comes next
    app = lr.app
    more = bool(page.files) and page.cursor is not None and page.cursor != cursor_text and len(page.files) >= limit
    sessions = [_session(f.url, app) for f in page.files]
    out = ListExportsOutput.model_construct(
        app_id=str(app),
        count=len(sessions),
        sessions=sessions,
        next_cursor=page.cursor if page.cursor is not None else cursor_text,
        more_available=more,
        since_ms=since_ms,
        skipped=page.skipped,
        cursor_sent=cursor_text,
    )
    return answer(out)


def _session(url: str, app: AppRef) -> ExportedSession:
    # Values built here are already of the declared types; the SDK validates the whole output once.
    info = inspect_export_url(url)
    expires = info.expires_at
    return ExportedSession.model_construct(
        url=url,
        session_id=info.session_id,
        replay_url=info.replay_url(app.org, app.app),
        recorded_on=info.recorded_on,
        # A signature's expiry is UTC (Azure's ``se`` may leave the zone out).
        expires_at=expires.replace(tzinfo=UTC) if expires is not None and expires.tzinfo is None else expires,
        compressed=info.compressed,
    )


TOOL = ToolSpec(NAME, TITLE, list_exports, ANNOTATIONS, INSTRUCTIONS)
