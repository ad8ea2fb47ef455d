"""The Markdown answers of summarize_user_sessions: the highlights, or "still pending" with the resume call."""

from __future__ import annotations

import json

from mcp_server.galileo.output import SummarizeOutput
from mcp_server.render.budget import Budget
from mcp_server.render.markdown import code, plain
from mcp_server.render.upstream_markdown import clip_markdown
from mcp_server.timeparse import duration, iso

TOOL = "summarize_user_sessions"
MAX_CHARS = 20_000


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


def ready_markdown(out: SummarizeOutput) -> str:
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


def pending_markdown(out: SummarizeOutput, *, capped_at: float | None, last_failure: str | None) -> str:
    assert out.resume is not None
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
