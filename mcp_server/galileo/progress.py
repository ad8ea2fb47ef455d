"""Progress notifications while waiting for Galileo: one per look, in words a person can read.

Some hosts reset their tool-call timeout on every progress notification (Claude Code does), and every
host can show the message, so each look says how long it has been and what is typical.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from mcp_server.adapters.errors import (
    UpstreamError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from mcp_server.galileo.wait import DONE, FAILED, PENDING, Check
from mcp_server.redact import process_redactor
from mcp_server.render.markdown import quoted
from mcp_server.timeparse import duration

logger = logging.getLogger(__name__)

TYPICAL = "typically 1 to 3 minutes"

# (progress, total, message), as ``Context.report_progress`` takes them.
Report = Callable[[float, float | None, str | None], Awaitable[None]]


def check_message(check: Check, *, resumed: bool) -> str:
    elapsed = f"{duration(check.elapsed)} elapsed" + (" since resuming" if resumed else "")
    if check.status is None:
        why = failure_reason(check.error)
        return f"Galileo is still working: {elapsed}, {TYPICAL} (the last check failed: {why}; checking again)"
    if check.status in DONE:
        return f"Galileo is done: the highlights are ready ({elapsed})"
    if check.status == FAILED:
        return f"Galileo reports FAILED for this request ({elapsed})"
    if check.status == PENDING:
        return f"Galileo is still working: {elapsed}, {TYPICAL}"
    return f"LogRocket reports an unknown status for this request: {quoted(check.status, 40)} ({elapsed})"


def failure_reason(error: UpstreamError | None) -> str:
    """A few words on why one look failed (the full sentence is in the log and, if it persists, the answer)."""
    if isinstance(error, UpstreamRateLimited):
        return "LogRocket is rate-limiting (HTTP 429)"
    if isinstance(error, UpstreamServerError):
        return f"LogRocket had a server error (HTTP {error.status})"
    if isinstance(error, UpstreamTimeout):
        return "LogRocket did not answer in time"
    if isinstance(error, UpstreamUnreachable):
        return "LogRocket could not be reached"
    return "LogRocket did not answer"


class ProgressReporter:
    """Sends strictly increasing progress (seconds since the call began; no total: nobody knows it)."""

    def __init__(self, report: Report, *, resumed: bool) -> None:
        self._report = report
        self.resumed = resumed
        self._last = -1.0
        self.sent = 0

    async def check(self, check: Check) -> None:
        await self.send(check.elapsed, check_message(check, resumed=self.resumed))

    async def send(self, elapsed: float, message: str) -> None:
        value = round(elapsed, 1)
        if value <= self._last:
            value = round(self._last + 0.1, 1)
        self._last = value
        try:
            # Progress goes straight to the client, past the server's redaction of results and errors.
            await self._report(value, None, process_redactor(message))
        except Exception:
            # Progress is a courtesy: a client that cannot take it still gets the result.
            logger.debug("could not send a progress notification", exc_info=True)
        else:
            self.sent += 1
