"""summarize_user_sessions: ask LogRocket's Galileo for a user's session highlights and wait for them.

Generation usually takes 1 to 3 minutes, longer than some hosts let a tool call run. So the tool waits
at most ``wait_seconds`` (50 s by default), sending a progress notification on every look, and then
answers "still pending" with the exact call that resumes.

The server keeps nothing between calls (several workers may serve one client): the resume handle is
LogRocket's request id, which belongs to the configured app (LOGROCKET_APP_ID), the only one polled.
LogRocket has no retry for a FAILED request, only a new POST of the same body, and that body is not
stored anywhere. So the resume call the tool hands out repeats the user, question and time range (as
epoch ms, so "7d" does not drift); with them, a resumed call that finds its request FAILED sends it
again once. Without them it reports the failure and how to start over.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp_types import CallToolResult, ToolAnnotations
from pydantic import AfterValidator, Field

from mcp_server.adapters.errors import UpstreamError, UpstreamNotFound
from mcp_server.errors import InputError, UserFacingError
from mcp_server.galileo.progress import ProgressReporter, failure_reason
from mcp_server.galileo.schedule import DEFAULT_SCHEDULE
from mcp_server.galileo.wait import Outcome, Waiter
from mcp_server.render.markdown import snippet
from mcp_server.results.base import answer
from mcp_server.results.summarize_user_sessions import SummarizeOutput, TimeRange, call_text, highlights_of
from mcp_server.settings import MAX_WAIT_LIMIT
from mcp_server.timeparse import iso, now_ms, parse_instant
from mcp_server.tools.arguments import MAX_TEXT, NonNegative, TimeText
from mcp_server.tools.runtime import ToolContext, runtime
from mcp_server.tools.spec import ToolSpec
from mcp_server.validation import email_address, web_url
from mcp_server.webhook import check_webhook

NAME = "summarize_user_sessions"
TITLE = "Summarize a user's sessions (LogRocket Galileo)"
ANNOTATIONS = ToolAnnotations(
    title=TITLE,
    # It reads recorded sessions. The POST only asks LogRocket to compute a summary: no session, user or
    # setting changes, and nothing anyone else sees. So it counts as reading and stays available in
    # read-only mode, where support people need it most.
    read_only_hint=True,
    destructive_hint=False,
    # Not idempotent: each call without request_id starts another generation (minutes of upstream work).
    idempotent_hint=False,
    open_world_hint=True,
)
# Its line in the server's instructions.
INSTRUCTIONS = (
    f"- {NAME}: "
    "LogRocket Galileo's summary of what one user did in their recent sessions (by email or user id), "
    "with links to the moments in the replays. Generation takes 1 to 3 minutes: if the answer says it is "
    "still pending, make the exact resume call it gives."
)
DEFAULT_WAIT = 50.0  # under the ~60 s after which Claude Desktop has cut tool calls
DAY_MS = 86_400_000
DEFAULT_WINDOW_MS = 30 * DAY_MS  # LogRocket's own window when no time range is sent

_TIME_FORMS = "epoch milliseconds, an ISO-8601 date or date-time (UTC unless it has an offset), or an age such as 7d"


async def summarize_user_sessions(
    ctx: ToolContext,
    user_email: Annotated[
        str | None,
        Field(
            max_length=MAX_TEXT,
            description="Email of the user whose sessions to summarize, as identified in LogRocket. Give this or "
            "user_id when starting a summary.",
        ),
        AfterValidator(email_address),
    ] = None,
    user_id: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=MAX_TEXT,
            description="The user's id as passed to LogRocket.identify(), instead of user_email.",
        ),
    ] = None,
    question: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=2000,
            description="What to ask about the sessions, e.g. 'Where did they get stuck at checkout?'. "
            "Omit for a general summary.",
        ),
    ] = None,
    start: Annotated[
        TimeText | NonNegative | None,
        Field(description=f"Only sessions from this time: {_TIME_FORMS}. Default: 30 days before end."),
    ] = None,
    end: Annotated[
        TimeText | NonNegative | None,
        Field(description=f"Only sessions up to this time: {_TIME_FORMS}. Default: now."),
    ] = None,
    wait_seconds: Annotated[
        float,
        Field(
            ge=0,
            le=MAX_WAIT_LIMIT,
            description="How long this call waits for the highlights before answering 'still pending' with the "
            "call that resumes. Default 50, under the ~60 s some hosts allow a tool call; at most the server's "
            "SESSION_REPLAY_MCP_MAX_WAIT_SECONDS (300 unless configured). 0: send the request (or check once) "
            "and answer at once.",
        ),
    ] = DEFAULT_WAIT,
    request_id: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=128,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="Resume: the request_id of an earlier pending answer (64 hex digits). Waits on that "
            "request instead of starting a new one; pass the other arguments of the resume call too, so a "
            "FAILED request can be sent again.",
        ),
    ] = None,
    webhook_url: Annotated[
        str | None,
        Field(
            max_length=2048,
            description="Optional http(s) URL LogRocket should also POST the finished highlights to. Only hosts "
            "the server's operator allowed (SESSION_REPLAY_MCP_WEBHOOK_ALLOWED_HOSTS), never in read-only mode.",
        ),
        AfterValidator(web_url),
    ] = None,
) -> Annotated[CallToolResult, SummarizeOutput]:
    """Summarize what one user did in their recorded LogRocket sessions, using LogRocket's Galileo AI: their
    10 most recent sessions (last 30 days, or start to end), with highlights per session and links that open
    each replay at the moment that matters. Use it for questions like "what did jane@acme.com do this week?"
    or "where did this user get stuck?". Give user_email or user_id, and optionally a question. Galileo takes
    1 to 3 minutes: this call waits up to wait_seconds, reporting progress, then either returns the highlights
    or says the request is still pending and gives the exact call (with request_id) that continues waiting
    without starting over."""
    if user_email is not None and user_id is not None:
        raise InputError("Give either user_email or user_id, not both.")
    if request_id is None and user_email is None and user_id is None:
        raise InputError(
            "Say whose sessions to summarize: give user_email or user_id (one of them), or request_id to resume "
            "an earlier summary."
        )
    time_range = _time_range(start, end)
    rt = runtime(ctx)
    if webhook_url is not None:
        check_webhook(webhook_url, rt.settings)  # before anything is sent: data must not leave unasked
    lr = rt.logrocket
    app = lr.app  # a missing setting is reported before anything is sent
    body = _body(user_email, user_id, question, time_range, webhook_url) if (user_email or user_id) else None
    limit = rt.settings.max_wait_seconds
    progress = ProgressReporter(ctx.report_progress, resumed=request_id is not None)
    waiter = Waiter(lr.get_highlights, clock=rt.clock, schedule=DEFAULT_SCHEDULE, on_check=progress.check)
    until = waiter.started + min(wait_seconds, limit)

    def resume_args(rid: str) -> dict[str, str | int]:
        return _resume_args(rid, user_email, user_id, question, time_range, webhook_url)

    retried: str | None = None
    if request_id is None:
        assert body is not None
        current = await lr.request_highlights(body)
        outcome = await _wait(waiter, current, until, resumed=False, resume=resume_args(current))
    else:
        current = request_id
        outcome = await _wait(waiter, current, until, resumed=True, resume=resume_args(current))
    if outcome.kind == "failed":
        # LogRocket's only retry is a new POST of the same body: once per call, then the failure is reported.
        if body is None:
            raise UserFacingError(_failed_without_body(current))
        await progress.send(waiter.elapsed(), "Galileo could not generate the highlights (FAILED); asking again once")
        retried = current
        current = await lr.request_highlights(body)
        outcome = await _wait(waiter, current, until, resumed=False, resume=resume_args(current))
        if outcome.kind == "failed":
            raise UserFacingError(_failed_twice(retried, current, user_email or user_id, resume_args(current)))
    if outcome.kind == "unknown":
        raise UserFacingError(
            f"LogRocket answered highlights request {current} with status {snippet(outcome.status or '', 60)}, "
            "which this server "
            "does not know (it knows PENDING, READY, COMPLETE and FAILED), so it stopped waiting. To look again, "
            f"call {call_text(resume_args(current))}."
        )

    out = SummarizeOutput.model_construct(
        status=outcome.status or "PENDING",
        done=outcome.kind == "done",
        app_id=str(app),
        request_id=current,
        retried_request_id=retried,
        user_email=user_email,
        user_id=user_id,
        question=question,
        time_range=time_range,
        highlights=None,
        sessions=[],
        checks=waiter.checks,
        waited_seconds=round(waiter.elapsed(), 1),
        resume=None,
    )
    if outcome.kind == "pending":
        if waiter.good_checks == 0 and outcome.last_error is not None:
            # Not one look worked: say why, with the handle, as the request itself may still finish.
            raise UserFacingError(
                f"{outcome.last_error} The highlights request {current} was sent and may still finish: to look "
                f"again, call {call_text(resume_args(current))}."
            )
        out.resume = resume_args(current)
        out.capped_at = limit if wait_seconds > limit else None
        out.last_failure = failure_reason(outcome.last_error) if outcome.last_error is not None else None
        return answer(out)
    if outcome.result is None:
        raise UserFacingError(
            f"LogRocket says highlights request {current} is {outcome.status} but sent no result. To look again, "
            f"call {call_text(resume_args(current))}."
        )
    out.highlights, out.sessions = highlights_of(outcome.result, app)
    return answer(out)


async def _wait(waiter: Waiter, request_id: str, until: float, *, resumed: bool, resume: dict[str, Any]) -> Outcome:
    """Wait; a failure that ends the wait keeps the request id in its message, so it is never lost."""
    try:
        return await waiter.wait(request_id, until=until, resumed=resumed)
    except UpstreamNotFound as exc:
        start_over = {k: v for k, v in resume.items() if k != "request_id"}
        how = (
            f"start a new summary: call {call_text(start_over)}."
            if "user_email" in start_over or "user_id" in start_over
            else "start a new summary with user_email or user_id (and the same question, start and end)."
        )
        raise UserFacingError(f"{exc} To get highlights, {how}") from exc
    except UpstreamError as exc:
        raise UserFacingError(
            f"{exc} The highlights request {request_id} was sent and may still finish: once that is fixed, call "
            f"{call_text(resume)}."
        ) from exc


def _time_range(start: str | int | None, end: str | int | None) -> TimeRange | None:
    if start is None and end is None:
        return None
    now = now_ms()
    end_ms = parse_instant(end, field="end", now=now) if end is not None else now
    start_ms = parse_instant(start, field="start", now=now) if start is not None else end_ms - DEFAULT_WINDOW_MS
    if start_ms >= end_ms:
        raise InputError(f"start ({iso(start_ms)}) must be before end ({iso(end_ms)}).")
    if start_ms > now:
        raise InputError(f"start ({iso(start_ms)}) is in the future; no session has been recorded after it yet.")
    return TimeRange(start_ms=start_ms, end_ms=end_ms)


def _body(
    user_email: str | None,
    user_id: str | None,
    question: str | None,
    time_range: TimeRange | None,
    webhook_url: str | None,
) -> dict[str, Any]:
    """The POST body, in LogRocket's field names."""
    body: dict[str, Any] = {"userEmail": user_email} if user_email is not None else {"userID": user_id}
    if question is not None:
        body["question"] = question
    if time_range is not None:
        body["timeRange"] = {"startMs": time_range.start_ms, "endMs": time_range.end_ms}
    if webhook_url is not None:
        body["webhookURL"] = webhook_url
    return body


def _resume_args(
    request_id: str,
    user_email: str | None,
    user_id: str | None,
    question: str | None,
    time_range: TimeRange | None,
    webhook_url: str | None,
) -> dict[str, str | int]:
    args: dict[str, str | int] = {"request_id": request_id}
    if user_email is not None:
        args["user_email"] = user_email
    if user_id is not None:
        args["user_id"] = user_id
    if question is not None:
        args["question"] = question
    if time_range is not None:
        args["start"], args["end"] = time_range.start_ms, time_range.end_ms
    if webhook_url is not None:
        args["webhook_url"] = webhook_url
    return args


def _failed_without_body(request_id: str) -> str:
    return (
        f"Galileo could not generate the highlights of request {request_id} (status FAILED; LogRocket gives no "
        "reason). LogRocket has no retry for a request, only a new one: call summarize_user_sessions again with "
        "the user_email or user_id, question, start and end of the original call (without request_id)."
    )


def _failed_twice(first: str, second: str, who: str | None, resume: dict[str, str | int]) -> str:
    start_over = call_text({k: v for k, v in resume.items() if k != "request_id"})
    return (
        f"Galileo could not generate highlights for {who}: request {first} FAILED, and so did the retry, request "
        f"{second}. LogRocket gives no reason. Try again in a few minutes, or with a narrower question or time "
        f"range: call {start_over}."
    )


TOOL = ToolSpec(NAME, TITLE, summarize_user_sessions, ANNOTATIONS, INSTRUCTIONS)
