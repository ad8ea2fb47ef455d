"""sync_sessions: fill the session index from LogRocket's exports, within a time budget, resumable."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_server.errors import InputError
from mcp_server.library.store import SessionQuery
from mcp_server.library.sync import Syncer, SyncOutcome, SyncProgress
from mcp_server.render.library import ago, call, coverage_markdown
from mcp_server.render.markdown import code
from mcp_server.render.text import clean_text
from mcp_server.timeparse import iso, now_ms, parse_instant
from mcp_server.tools.library_common import UNTIL, CoverageOut, TimeText, load_coverage
from mcp_server.tools.output import answer
from mcp_server.tools.runtime import ToolContext, runtime

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


class FailedExportOut(BaseModel):
    session_id: str | None
    reason: str


class SyncSessionsOutput(BaseModel):
    app: str
    done: bool = Field(description="True when the listing was read to its end (or to until).")
    status: Literal["done", "partial", "running"] = Field(
        description="partial: stopped by the time budget or max_sessions; running: another sync holds the app."
    )
    next_call: str | None = Field(description="The exact call that continues, when not done.")
    indexed: int = Field(description="Sessions added to the index by this call.")
    already_indexed: int = Field(description="Listed sessions that were in the index already (not downloaded).")
    failed: int = Field(description="Exports that could not be read; recorded with the reason, retried next sync.")
    retried: int = Field(description="Earlier failures tried again by this call.")
    pages: int
    bytes_read: int
    failures: list[FailedExportOut]
    pruned: int = Field(description="Sessions older than the retention period removed.")
    coverage: CoverageOut


async def sync_sessions(
    ctx: ToolContext,
    since: Annotated[
        TimeText | None,
        Field(
            description="Index exports from this time on: epoch ms, an ISO-8601 date or time, 'yesterday', or an "
            "age such as 7d. Default: continue where the last sync stopped (the last 7 days the first time)."
        ),
    ] = None,
    until: Annotated[TimeText | None, UNTIL] = None,
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
        rt.library.store,
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
    p = outcome.progress
    out = SyncSessionsOutput(
        app=outcome.app,
        done=outcome.status == "done",
        status=outcome.status,
        next_call=next_call,
        indexed=p.indexed,
        already_indexed=p.already,
        failed=p.failed,
        retried=p.retried,
        pages=p.pages,
        bytes_read=p.bytes,
        failures=[
            FailedExportOut(session_id=f.session_id, reason=clean_text(f.reason, 300)) for f in outcome.failures[:20]
        ],
        pruned=outcome.pruned,
        coverage=coverage,
    )
    return answer(_markdown(outcome, out, rt.settings.sync_time_budget), out)


def _markdown(outcome: SyncOutcome, out: SyncSessionsOutput, budget: float) -> str:
    now = now_ms()
    lines = []
    app = code(outcome.app, 80)
    if outcome.status == "running":
        started = f", started {ago(outcome.holder_started_ms, now)}" if outcome.holder_started_ms else ""
        held = outcome.holder_progress or {}
        lines.append(
            f"**A sync of {app} is already running**{started} (one sync per app at a time, across every worker). "
            f"So far it has indexed {held.get('indexed', 0)} sessions from {held.get('pages', 0)} listing pages. "
            "find_sessions and session_stats already see what it has stored."
        )
        lines.append(f"To continue after it, call {code(out.next_call or call(NAME), None)} later.")
    else:
        verb = "Synced" if out.done else "Partly synced"
        lines.append(
            f"**{verb} {app}:** {out.indexed} new session{'s' if out.indexed != 1 else ''} indexed, "
            f"{out.already_indexed} already in the index (not downloaded again), {out.failed} failed, from "
            f"{out.pages} listing page{'s' if out.pages != 1 else ''}"
            + (f"; {out.retried} earlier failures retried" if out.retried else "")
            + (f"; {out.pruned} sessions past the retention period removed" if out.pruned else "")
            + "."
        )
        if not out.done:
            why = (
                f"it reached its time budget ({budget:g} s)"
                if outcome.stopped_by == "time"
                else "it read max_sessions new exports"
            )
            lines.append(
                f"**Not done:** {why}. The listing position is saved: call {code(out.next_call or '', None)} to "
                "continue from there."
            )
    if out.failures:
        lines.append("")
        lines.append("Exports that could not be read (recorded; the next sync retries them):")
        for f in out.failures[:10]:
            lines.append(f"- {code(f.session_id or '(no session id)', 80)}: {code(f.reason, 200)}")
        if out.failed > 10:
            lines.append(f"- and {out.failed - 10} more (see the structured result for up to 20).")
    lines.append("")
    lines += coverage_markdown(out.coverage.model_dump(), now)
    return "\n".join(lines)
