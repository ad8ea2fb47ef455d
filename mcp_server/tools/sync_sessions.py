"""sync_sessions: fill the session index from LogRocket's exports, within a time budget, resumable."""

from __future__ import annotations

from typing import Annotated

from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server.errors import InputError
from mcp_server.library.store import SessionQuery
from mcp_server.library.sync import Syncer, SyncProgress
from mcp_server.results.base import answer
from mcp_server.results.session_index import call
from mcp_server.results.sync_sessions import SyncSessionsOutput, sync_sessions_result
from mcp_server.timeparse import iso, now_ms, parse_instant
from mcp_server.tools.arguments import NonNegative, TimeText
from mcp_server.tools.library_common import UNTIL, load_coverage
from mcp_server.tools.runtime import ToolContext, runtime
from mcp_server.tools.spec import ToolSpec

NAME = "sync_sessions"
TITLE = "Sync LogRocket's exported sessions into the session index"
# It changes nothing in LogRocket: it reads the export listing and files, and fills the server's own index
# (a cache of facts), so it stays available in read-only mode. Repeating it downloads nothing twice.
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
    "fill the session index from LogRocket's exports (resumable: if it answers done: false, make the exact next "
    "call it gives). Every find_sessions and session_stats answer says what the index covers and which "
    "sync_sessions call fills a gap."
)


async def sync_sessions(
    ctx: ToolContext,
    since: Annotated[
        TimeText | NonNegative | None,
        Field(
            description="Index exports from this time on: epoch ms, an ISO-8601 date or time, 'yesterday', or an "
            "age such as 7d. Default: continue where the last sync stopped (the last 7 days the first time)."
        ),
    ] = None,
    until: Annotated[TimeText | NonNegative | None, UNTIL] = None,
    max_sessions: Annotated[
        int | None, Field(ge=1, le=100_000, description="Read at most this many new exports in this call.")
    ] = None,
) -> Annotated[CallToolResult, SyncSessionsOutput]:
    """Fill the session index from LogRocket's exports, so find_sessions and session_stats can answer
    questions across sessions. It pages through the export listing from since (or from where the last sync
    stopped), reads every export not yet indexed (several at once) and stores its facts: who, when, pages,
    errors, failed requests, custom events. It stops within its time budget and then says how far it got
    and gives the exact call that continues (done: false); calling it again never downloads a session
    twice. Exports that fail are recorded and retried by the next sync. Only one sync per app runs at a
    time; if another is running the answer says how far it is."""
    rt = runtime(ctx)
    since_ms = parse_instant(since, field="since") if since is not None else None
    until_ms = parse_instant(until, field="until") if until is not None else None
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise InputError(f"since ({iso(since_ms)}) must be before until ({iso(until_ms)}).")

    async def report(p: SyncProgress) -> None:
        await ctx.report_progress(
            p.indexed + p.already + p.failed,
            None,
            f"Indexed {p.indexed} new sessions ({p.already} already there, {p.failed} failed) from {p.pages} "
            "listing pages",
        )

    syncer = Syncer(
        await rt.library.open(),
        rt.logrocket,
        rt.exports,
        concurrency=rt.settings.sync_concurrency,
        retention_days=rt.settings.index_retention_days,
        first_window_days=rt.settings.sync_first_days,
    )
    outcome = await syncer.run(
        since_ms=since_ms,
        until_ms=until_ms,
        max_sessions=max_sessions,
        time_budget=rt.settings.sync_time_budget,
        report=report,
    )
    coverage = await load_coverage(ctx, SessionQuery(since_ms=since_ms, until_ms=until_ms))
    next_call = None
    if outcome.status != "done":
        next_call = call(NAME, until=iso(until_ms) if until_ms is not None else None, max_sessions=max_sessions)
    out = sync_sessions_result(
        outcome, next_call=next_call, coverage=coverage, time_budget=rt.settings.sync_time_budget, now=now_ms()
    )
    return answer(out)


TOOL = ToolSpec(NAME, TITLE, sync_sessions, ANNOTATIONS, INSTRUCTIONS)
