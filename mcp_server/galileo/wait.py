"""The wait loop: look at a highlights request on schedule until it is done, fails or the wait runs out.

It holds no state beyond one tool call and starts no tasks: it sleeps in the calling task with
cancellable sleeps, so a cancelled tool call stops polling at once and leaves nothing behind.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from mcp_server.adapters.errors import (
    UpstreamError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from mcp_server.adapters.logrocket import HighlightsResult, HighlightsStatus
from mcp_server.clock import Clock
from mcp_server.galileo.schedule import PollSchedule

logger = logging.getLogger(__name__)

DONE = frozenset({"READY", "COMPLETE"})  # LogRocket's docs say READY; a published API description, COMPLETE
PENDING = "PENDING"
FAILED = "FAILED"
# Real seconds a look at the deadline may take before the call gives up on it, so a slow upstream
# cannot keep the call open much past wait_seconds (some hosts cut calls at about 60 s).
POLL_GRACE = 5.0

# Failures that say nothing about the request itself: the next look may well succeed.
TRANSIENT: tuple[type[UpstreamError], ...] = (
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)

Poll = Callable[[str], Awaitable[HighlightsStatus]]


class CheckTimedOut(UpstreamTimeout):
    """The last look at the deadline did not finish in time."""


@dataclass(frozen=True)
class Check:
    """One look at the request, as progress reporting sees it."""

    number: int  # 1, 2, ... over the whole tool call
    elapsed: float  # seconds since the tool call began waiting
    request_id: str
    status: str | None  # None when the look itself failed
    error: UpstreamError | None = None


@dataclass(frozen=True)
class Outcome:
    kind: Literal["done", "pending", "failed", "unknown"]
    request_id: str
    status: str | None  # the last status seen, None if no look succeeded
    result: HighlightsResult | None = None
    last_error: UpstreamError | None = None  # set when the last look failed


class Waiter:
    """Polls for one tool call; numbering and elapsed time run on across a re-POST."""

    def __init__(
        self,
        poll: Poll,
        *,
        clock: Clock,
        schedule: PollSchedule,
        on_check: Callable[[Check], Awaitable[None]],
        rng: random.Random | None = None,
    ) -> None:
        self._poll = poll
        self._clock = clock
        self._schedule = schedule
        self._on_check = on_check
        self._rng = rng or random.Random()
        self.started = clock.now()
        self.checks = 0
        self.good_checks = 0

    def elapsed(self) -> float:
        return self._clock.now() - self.started

    async def wait(self, request_id: str, *, until: float, resumed: bool) -> Outcome:
        """Poll ``request_id`` until done, FAILED, an unknown status, or the clock passes ``until``.

        A fresh request (just POSTed) counts as looked at now; a resumed one has not been looked at.
        """
        last: float | None = None if resumed else self._clock.now()
        not_before = 0.0  # set by a Retry-After that outlasted the HTTP policy's own retries
        status: str | None = None
        error: UpstreamError | None = None
        for delay in self._schedule.delays(resumed=resumed, rng=self._rng):
            now = self._clock.now()
            at = max((last if last is not None else now) + delay, not_before)
            final = at >= until
            if final:
                # The wait ends before the next scheduled look: one last look at the deadline, so the
                # answer is as fresh as it can be, unless the previous look was just now (or LogRocket
                # asked us to stay away until after it).
                if not_before > until or (last is not None and until - last < self._schedule.min_gap):
                    break
                at = until
            await self._clock.sleep(at - now)
            reply, error = await self._look(request_id, until)
            last = self._clock.now()
            self.checks += 1
            if reply is not None:
                self.good_checks += 1
                status = reply.status
            elif isinstance(error, UpstreamRateLimited) and error.retry_after:
                not_before = last + error.retry_after
            seen = reply.status if reply is not None else None
            await self._on_check(Check(self.checks, self.elapsed(), request_id, seen, error))
            if reply is not None:
                if reply.status in DONE:
                    return Outcome("done", request_id, reply.status, result=reply.result)
                if reply.status == FAILED:
                    return Outcome("failed", request_id, reply.status)
                if reply.status != PENDING:
                    return Outcome("unknown", request_id, reply.status)
            if final or last >= until:
                break
        return Outcome("pending", request_id, status, last_error=error)

    async def _look(self, request_id: str, until: float) -> tuple[HighlightsStatus | None, UpstreamError | None]:
        """One GET; a transient failure is returned (the next look may succeed), anything else raised."""
        reply: HighlightsStatus | None = None
        # A look may not keep the call open much past the end of the wait, whatever the retries inside.
        with self._clock.move_on_after(until - self._clock.now(), real_extra=POLL_GRACE) as scope:
            try:
                reply = await self._poll(request_id)
            except TRANSIENT as exc:
                logger.info("highlights %s: check failed (%s); will look again", request_id[:12], type(exc).__name__)
                return None, exc
        if scope.cancelled_caught:
            return None, CheckTimedOut("LogRocket did not answer a check on the highlights before the wait ran out.")
        return reply, None
