"""The structured result of summarize_user_sessions (its output schema)."""

from __future__ import annotations

from pydantic import BaseModel, Field


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


class SummarizeOutput(BaseModel):
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
