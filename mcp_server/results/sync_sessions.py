"""sync_sessions' answer: how far a sync got, the call that continues it, what failed, and what the index covers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from mcp_server.library.sync import SyncOutcome
from mcp_server.redact import process_redactor
from mcp_server.render.markdown import code
from mcp_server.results.base import MarkdownOnly, ToolResult
from mcp_server.results.session_index import CoverageOut, ago, call, coverage_markdown
from mcp_server.text import clean_text

MAX_FAILURES = 20  # in the structured content; the Markdown names the first 10


class FailedExportOut(BaseModel):
    session_id: str | None
    reason: str


class SyncSessionsOutput(ToolResult):
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
    # Why a partial sync stopped, the time budget it had, the sync that holds the app (when running: when it
    # started and how far it got), and when the answer was made.
    stopped_by: MarkdownOnly[Literal["time", "max_sessions"] | None] = None
    time_budget: MarkdownOnly[float] = 0.0
    holder_started_ms: MarkdownOnly[int | None] = None
    holder_progress: MarkdownOnly[dict[str, Any]] = Field(default_factory=dict)
    now_ms: MarkdownOnly[int] = 0

    def render(self) -> str:
        lines = []
        app = code(self.app, 80)
        if self.status == "running":
            started = f", started {ago(self.holder_started_ms, self.now_ms)}" if self.holder_started_ms else ""
            held = self.holder_progress
            lines.append(
                f"**A sync of {app} is already running**{started} (one sync per app at a time, across every "
                f"worker). So far it has indexed {held.get('indexed', 0)} sessions from {held.get('pages', 0)} "
                "listing pages. find_sessions and session_stats already see what it has stored."
            )
            lines.append(f"To continue after it, call {code(self.next_call or call('sync_sessions'), None)} later.")
        else:
            verb = "Synced" if self.done else "Partly synced"
            lines.append(
                f"**{verb} {app}:** {self.indexed} new session{'s' if self.indexed != 1 else ''} indexed, "
                f"{self.already_indexed} already in the index (not downloaded again), {self.failed} failed, from "
                f"{self.pages} listing page{'s' if self.pages != 1 else ''}"
                + (f"; {self.retried} earlier failures retried" if self.retried else "")
                + (f"; {self.pruned} sessions past the retention period removed" if self.pruned else "")
                + "."
            )
            if not self.done:
                why = (
                    f"it reached its time budget ({self.time_budget:g} s)"
                    if self.stopped_by == "time"
                    else "it read max_sessions new exports"
                )
                lines.append(
                    f"**Not done:** {why}. The listing position is saved: call {code(self.next_call or '', None)} "
                    "to continue from there."
                )
        if self.failures:
            lines.append("")
            lines.append("Exports that could not be read (recorded; the next sync retries them):")
            for f in self.failures[:10]:
                lines.append(f"- {code(f.session_id or '(no session id)', 80)}: {code(f.reason, 200)}")
            if self.failed > 10:
                lines.append(f"- and {self.failed - 10} more (see the structured result for up to {MAX_FAILURES}).")
        lines.append("")
        lines.append(coverage_markdown(self.coverage, self.now_ms))
        return "\n".join(lines)


def sync_sessions_result(
    outcome: SyncOutcome, *, next_call: str | None, coverage: CoverageOut, time_budget: float, now: int
) -> SyncSessionsOutput:
    p = outcome.progress
    return SyncSessionsOutput(
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
            FailedExportOut(session_id=f.session_id, reason=clean_text(f.reason, 300, process_redactor))
            for f in outcome.failures[:MAX_FAILURES]
        ],
        pruned=outcome.pruned,
        coverage=coverage,
        stopped_by=outcome.stopped_by,
        time_budget=time_budget,
        holder_started_ms=outcome.holder_started_ms,
        holder_progress=outcome.holder_progress or {},
        now_ms=now,
    )
