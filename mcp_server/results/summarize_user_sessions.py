"""summarize_user_sessions' answer: Galileo's highlights, or "still pending" with the exact call that resumes."""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from mcp_server.adapters.logrocket import HighlightsResult
from mcp_server.adapters.paths import replay_url
from mcp_server.render.budget import Budget
from mcp_server.render.markdown import code, plain
from mcp_server.render.upstream_markdown import clip_markdown, markdown_links, sanitize_markdown
from mcp_server.results.base import MarkdownOnly, ToolResult
from mcp_server.settings import AppRef
from mcp_server.timeparse import duration, iso

TOOL = "summarize_user_sessions"
MAX_CHARS = 20_000
FIELD_CHARS = 100_000  # upstream Markdown kept per field of the structured result


class TimeRange(BaseModel):
    start_ms: int = Field(description="Start, epoch milliseconds (sent to LogRocket as timeRange.startMs).")
    end_ms: int = Field(description="End, epoch milliseconds (timeRange.endMs).")


class SessionSummary(BaseModel):
    session_id: str | None = Field(description="LogRocket's recordingID/sessionID of the session.")
    replay_url: str | None = Field(description="The session's replay in LogRocket, when the id allows building it.")
    highlights: str = Field(
        description="Galileo's Markdown for this session, sanitized: no HTML, only http(s) links, which are kept "
        "exactly as LogRocket gave them."
    )
    links: list[str] = Field(
        description="The links in highlights, in order; replay URLs with ?t=<epoch ms> open the replay at that moment."
    )


class SummarizeOutput(ToolResult):
    status: str = Field(
        description="READY or COMPLETE when the highlights are here; PENDING when Galileo is still working "
        "(make the call in resume to keep waiting)."
    )
    done: bool = Field(description="True when highlights and sessions hold the result.")
    app_id: str = Field(description="The LogRocket app, org/app.")
    request_id: str = Field(description="LogRocket's id for this highlights request; resumes waiting on it.")
    retried_request_id: str | None = Field(
        description="A request that FAILED during this call and was sent again once, as request_id."
    )
    user_email: str | None
    user_id: str | None
    question: str | None
    time_range: TimeRange | None = Field(description="The sessions' time range sent, if any (else: the last 30 days).")
    highlights: str | None = Field(description="Galileo's Markdown across all sessions, sanitized like sessions[].")
    sessions: list[SessionSummary] = Field(description="Up to 10 sessions, in the order Galileo sent them.")
    checks: int = Field(description="How many times this call looked at the request.")
    waited_seconds: float = Field(description="How long this call waited.")
    resume: dict[str, str | int] | None = Field(
        description="When pending: the arguments of the summarize_user_sessions call that continues waiting "
        "without starting a new request."
    )
    # Pending only: the wait this server allows per call when the caller asked for more (SESSION_REPLAY_MCP_MAX_WAIT_
    # SECONDS), and why the last look failed, if it did.
    capped_at: MarkdownOnly[float | None] = None
    last_failure: MarkdownOnly[str | None] = None

    def render(self) -> str:
        return _pending(self) if self.resume is not None else _ready(self)


def call_text(arguments: dict[str, str | int]) -> str:
    """``summarize_user_sessions(request_id="...", user_email="...")``: values as JSON, so they paste exactly."""
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
    return f"{TOOL}({args})"


def subject(out: SummarizeOutput) -> str:
    who = out.user_email or out.user_id
    return f"for {code(who, 300)}" if who else f"of request {code(out.request_id, None)}"


def scope(out: SummarizeOutput) -> str:
    """Which sessions LogRocket looks at: the user's 10 most recent, in the time range or the last 30 days."""
    if out.time_range is None:
        return "up to the 10 most recent, last 30 days"
    return f"up to the 10 most recent, from {iso(out.time_range.start_ms)} to {iso(out.time_range.end_ms)}"


def _ready(out: SummarizeOutput) -> str:
    count = len(out.sessions)
    closing = [
        f"Request {code(out.request_id, None)}: {out.status} after {out.checks} check{'s' if out.checks != 1 else ''} "
        f"over {duration(out.waited_seconds)}."
    ]
    if out.retried_request_id:
        closing.insert(
            0, f"The first request ({code(out.retried_request_id, None)}) FAILED; this is the result of asking again."
        )
    budget = Budget(MAX_CHARS, reserve=sum(len(c) + 1 for c in closing) + 700)
    sessions = f"{count} session{'s' if count != 1 else ''}"
    budget.add(f"**Galileo's highlights {subject(out)}** in app {code(out.app_id)}: {sessions} ({scope(out)}).")
    if out.question:
        budget.add(f"**Question:** {plain(out.question, 500)}")
    budget.add("")
    notes: list[str] = []
    overall = out.highlights or "(Galileo sent no overall summary.)"
    room = budget.remaining // 2 if out.sessions else budget.remaining - 1
    shown, cut = clip_markdown(overall, max(0, room))
    if shown:
        budget.add(shown)
    if cut:
        notes.append(
            f"The overall highlights were cut here after {len(shown):,} characters; the other {cut:,} are in the "
            "structured result (highlights)."
        )
    listed = 0
    if out.sessions:
        budget.add("")
        budget.add("### Sessions")
        for i, s in enumerate(out.sessions, 1):
            name = code(s.session_id, None) if s.session_id else "(no id)"
            head = f"**{i}. Session {name}**" + (f" · [open the replay]({s.replay_url})" if s.replay_url else "")
            if not budget.add(f"\n{head}\n{s.highlights or '(no highlights for this session)'}"):
                break
            listed += 1
    if listed < count:
        left = count - listed
        notes.append(
            f"{left} of {count} sessions are not shown here, to keep this answer under {MAX_CHARS:,} characters; "
            "they are in the structured result (sessions[].highlights)."
        )
    if notes:
        notes.append("For a shorter summary, ask a narrower question or give a shorter time range (start, end).")
    return budget.close("\n" + "\n".join([*notes, *closing]))


def _pending(out: SummarizeOutput) -> str:
    assert out.resume is not None
    capped_at, last_failure = out.capped_at, out.last_failure
    looked = (
        f"not ready after {duration(out.waited_seconds)} ({out.checks} check{'s' if out.checks != 1 else ''})"
        if out.checks
        else "request sent, not checked yet"
    )
    lines = [
        f"**Galileo is still working** on the highlights {subject(out)} in app {code(out.app_id)}: {looked}. "
        "Generation usually takes 1 to 3 minutes.",
        "",
        "To keep waiting on the same request (this does not start a new one), call:",
        code(call_text(out.resume), None),
    ]
    if out.retried_request_id:
        lines.append(
            f"\nThe first request ({code(out.retried_request_id, None)}) FAILED and was sent again once; "
            "the call above waits on the new one."
        )
    if last_failure:
        lines.append(f"\nThe last check failed ({last_failure}); that does not affect the request itself.")
    if capped_at is not None:
        lines.append(
            f"\nThis server waits at most {duration(capped_at)} per call (SESSION_REPLAY_MCP_MAX_WAIT_SECONDS)."
        )
    return "\n".join(lines)


def highlights_of(result: HighlightsResult, app: AppRef) -> tuple[str, list[SessionSummary]]:
    """Galileo's overall Markdown and its sessions, sanitized and bounded, each with its replay link."""
    overall = clip_markdown(sanitize_markdown(result.highlights), FIELD_CHARS)[0]
    sessions = []
    for s in result.sessions:
        text = clip_markdown(sanitize_markdown(s.highlights), FIELD_CHARS)[0]
        replay = None
        if s.recording_id and s.session_id:
            replay = replay_url(app.org, app.app, s.recording_id, s.session_id.removeprefix(f"{s.recording_id}/"))
        sessions.append(
            SessionSummary.model_construct(
                session_id=s.session_id, replay_url=replay, highlights=text, links=markdown_links(text)
            )
        )
    return overall, sessions
