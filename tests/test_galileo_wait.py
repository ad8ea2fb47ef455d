"""The poll schedule and wait loop on a virtual clock: the figures the schedule promises, without sleeping."""

from __future__ import annotations

import random

import anyio
import anyio.lowlevel
import pytest

from mcp_server.adapters.errors import UpstreamAuthError, UpstreamError, UpstreamRateLimited
from mcp_server.adapters.logrocket import HighlightsResult, HighlightsStatus
from mcp_server.galileo.progress import ProgressReporter, check_message
from mcp_server.galileo.schedule import DEFAULT_SCHEDULE, PollSchedule
from mcp_server.galileo.wait import Check, Outcome, Waiter
from mcp_server.timeparse import duration
from tests.clocks import ScaledClock, VirtualClock

pytestmark = pytest.mark.anyio

RESULT = HighlightsResult(highlights="done", sessions=[])
LATENCY = 0.05  # virtual seconds per upstream request


class FakeGalileo:
    """Pending until ``ready_at`` (clock time), then ``final``; ``errors`` are raised by the first looks."""

    def __init__(
        self, clock: VirtualClock, ready_at: float, final: str = "READY", errors: list[UpstreamError] | None = None
    ) -> None:
        self.clock = clock
        self.ready_at = ready_at
        self.final = final
        self.errors = list(errors or [])
        self.looks: list[float] = []

    async def poll(self, request_id: str) -> HighlightsStatus:
        self.looks.append(self.clock.t)
        self.clock.t += LATENCY
        if self.errors:
            raise self.errors.pop(0)
        if self.clock.t >= self.ready_at:
            return HighlightsStatus(request_id, self.final, RESULT if self.final in ("READY", "COMPLETE") else None)
        return HighlightsStatus(request_id, "PENDING", None)


async def nothing(_: Check) -> None:
    return None


async def summary(generation: float, *, wait: float, gap: float = 2.0, seed: int = 0) -> tuple[int, float]:
    """An agent that waits in calls of ``wait`` s and resumes ``gap`` s after each pending answer.

    Returns upstream requests (the POST included) and the delay from ready to the answer.
    """
    clock = VirtualClock(start=1000.0)
    posted = clock.t
    galileo = FakeGalileo(clock, ready_at=posted + generation)
    rng = random.Random(seed)
    resumed = False
    while True:
        waiter = Waiter(galileo.poll, clock=clock, schedule=DEFAULT_SCHEDULE, on_check=nothing, rng=rng)
        outcome = await waiter.wait("r" * 64, until=waiter.started + wait, resumed=resumed)
        if outcome.kind == "done":
            return 1 + len(galileo.looks), clock.t - galileo.ready_at
        assert outcome.kind == "pending"
        clock.t += gap
        resumed = True


def test_the_schedule_starts_dense_and_backs_off_to_its_cap_with_bounded_jitter() -> None:
    rng = random.Random(1)
    fresh = DEFAULT_SCHEDULE.delays(resumed=False, rng=rng)
    delays = [next(fresh) for _ in range(12)]
    assert 1.8 <= delays[0] <= 2.2
    assert all(d <= 11.0 for d in delays) and all(d >= 9.0 for d in delays[6:])
    resumed = DEFAULT_SCHEDULE.delays(resumed=True, rng=rng)
    assert next(resumed) == 0.0  # a resumed request may have been ready for minutes: look at once
    assert 9.0 <= next(resumed) <= 11.0


@pytest.mark.parametrize("seed", range(5))
async def test_a_quick_generation_is_answered_within_5_s_and_any_other_within_one_interval(seed: int) -> None:
    for generation in (0.5, 1.5, 3.0, 5.0, 7.0, 9.0):
        _, late = await summary(generation, wait=1000, seed=seed)
        assert 0 <= late <= 5.0, (generation, late)
    for generation in range(10, 400, 7):
        _, late = await summary(generation, wait=1000, seed=seed)
        assert 0 <= late <= DEFAULT_SCHEDULE.cap * 1.1 + LATENCY, (generation, late)


@pytest.mark.parametrize("seed", range(5))
async def test_a_three_minute_generation_costs_about_20_requests(seed: int) -> None:
    one_call, _ = await summary(180, wait=1000, seed=seed)
    assert one_call <= 23
    in_50_s_calls, _ = await summary(180, wait=50, seed=seed)
    assert in_50_s_calls <= 26


async def test_late_answers_average_about_5_s_over_the_typical_1_to_3_minutes() -> None:
    lates = [(await summary(g / 2, wait=1000, seed=g))[1] for g in range(120, 361)]
    assert sum(lates) / len(lates) <= 5.5


async def test_when_the_wait_runs_out_it_looks_once_more_at_the_deadline() -> None:
    clock = VirtualClock(start=1000.0)
    galileo = FakeGalileo(clock, ready_at=clock.t + 1000)
    # Seeded: looks near 2, 5, 9, 15 and 24.5 s, and then, instead of one near 34 s, one at 30 s.
    waiter = Waiter(galileo.poll, clock=clock, schedule=DEFAULT_SCHEDULE, on_check=nothing, rng=random.Random(4))
    outcome = await waiter.wait("r", until=waiter.started + 30, resumed=False)
    assert outcome == Outcome("pending", "r", "PENDING")
    assert galileo.looks[-1] == pytest.approx(waiter.started + 30)
    assert galileo.looks[-1] - galileo.looks[-2] >= DEFAULT_SCHEDULE.min_gap
    assert len(galileo.looks) == waiter.checks == waiter.good_checks == 6


async def test_a_fresh_request_with_no_wait_is_not_looked_at_and_a_resumed_one_once() -> None:
    clock = VirtualClock(start=1000.0)
    galileo = FakeGalileo(clock, ready_at=clock.t + 1000)
    waiter = Waiter(galileo.poll, clock=clock, schedule=DEFAULT_SCHEDULE, on_check=nothing)
    assert (await waiter.wait("r", until=clock.t, resumed=False)).kind == "pending"
    assert galileo.looks == []
    assert (await waiter.wait("r", until=clock.t, resumed=True)).kind == "pending"
    assert len(galileo.looks) == 1


async def test_failed_looks_are_reported_and_waited_through() -> None:
    clock = VirtualClock(start=1000.0)
    limited = UpstreamRateLimited("rate limited", attempts=4)
    galileo = FakeGalileo(clock, ready_at=clock.t + 12, errors=[limited, limited])
    checks: list[Check] = []

    async def record(check: Check) -> None:
        checks.append(check)

    waiter = Waiter(galileo.poll, clock=clock, schedule=DEFAULT_SCHEDULE, on_check=record)
    outcome = await waiter.wait("r", until=waiter.started + 50, resumed=False)
    assert outcome.kind == "done" and outcome.result is RESULT
    assert [c.status for c in checks[:2]] == [None, None] and checks[0].error is limited
    assert checks[-1].status == "READY"
    assert check_message(checks[0], resumed=False).endswith(
        "typically 1 to 3 minutes (the last check failed: LogRocket is rate-limiting (HTTP 429); checking again)"
    )


async def test_a_long_retry_after_is_honoured_by_the_next_look() -> None:
    clock = VirtualClock(start=1000.0)
    galileo = FakeGalileo(clock, ready_at=clock.t + 1, errors=[UpstreamRateLimited("slow down", retry_after=30)])
    waiter = Waiter(galileo.poll, clock=clock, schedule=DEFAULT_SCHEDULE, on_check=nothing)
    outcome = await waiter.wait("r", until=waiter.started + 100, resumed=False)
    assert outcome.kind == "done"
    assert galileo.looks[1] - galileo.looks[0] >= 30
    # When the wait ends first, it ends without a look LogRocket asked us not to make.
    galileo = FakeGalileo(clock, ready_at=clock.t + 1, errors=[UpstreamRateLimited("slow down", retry_after=30)])
    waiter = Waiter(galileo.poll, clock=clock, schedule=DEFAULT_SCHEDULE, on_check=nothing)
    outcome = await waiter.wait("r", until=waiter.started + 20, resumed=False)
    assert outcome.kind == "pending" and len(galileo.looks) == 1


async def test_a_wait_whose_every_look_failed_ends_pending_with_the_error() -> None:
    clock = VirtualClock(start=1000.0)
    limited = UpstreamRateLimited("rate limited")
    galileo = FakeGalileo(clock, ready_at=clock.t + 5, errors=[limited] * 100)
    waiter = Waiter(galileo.poll, clock=clock, schedule=DEFAULT_SCHEDULE, on_check=nothing)
    outcome = await waiter.wait("r", until=waiter.started + 20, resumed=False)
    assert outcome.kind == "pending" and outcome.last_error is limited and waiter.good_checks == 0


async def test_an_error_that_will_not_go_away_is_raised() -> None:
    clock = VirtualClock(start=1000.0)
    galileo = FakeGalileo(clock, ready_at=clock.t, errors=[UpstreamAuthError("bad key", status=403)])
    waiter = Waiter(galileo.poll, clock=clock, schedule=DEFAULT_SCHEDULE, on_check=nothing)
    with pytest.raises(UpstreamAuthError):
        await waiter.wait("r", until=waiter.started + 20, resumed=False)


@pytest.mark.parametrize(("final", "kind"), [("COMPLETE", "done"), ("FAILED", "failed"), ("THINKING", "unknown")])
async def test_statuses_that_end_the_wait(final: str, kind: str) -> None:
    clock = VirtualClock(start=1000.0)
    galileo = FakeGalileo(clock, ready_at=clock.t + 6, final=final)
    waiter = Waiter(galileo.poll, clock=clock, schedule=DEFAULT_SCHEDULE, on_check=nothing)
    outcome = await waiter.wait("r", until=waiter.started + 50, resumed=False)
    assert (outcome.kind, outcome.status) == (kind, final)


async def test_cancelling_stops_the_wait_at_once() -> None:
    looks: list[float] = []

    async def poll(request_id: str) -> HighlightsStatus:
        looks.append(anyio.current_time())
        return HighlightsStatus(request_id, "PENDING", None)

    clock = ScaledClock(20)  # a poll every 10 s is one every 0.5 s here
    waiter = Waiter(poll, clock=clock, schedule=PollSchedule(first=0.5, cap=10), on_check=nothing)
    with anyio.move_on_after(0.3) as scope:
        await waiter.wait("r", until=clock.now() + 600, resumed=False)
    assert scope.cancelled_caught
    count = len(looks)
    await anyio.sleep(0.6)
    assert len(looks) == count >= 2


async def test_progress_is_strictly_increasing_and_worded_for_people() -> None:
    sent: list[tuple[float, float | None, str | None]] = []

    async def report(progress: float, total: float | None, message: str | None) -> None:
        sent.append((progress, total, message))

    reporter = ProgressReporter(report, resumed=False)
    await reporter.check(Check(1, 40.04, "r", "PENDING"))
    await reporter.check(Check(2, 40.0, "r", "PENDING"))  # same moment (e.g. after a re-POST): still goes up
    await reporter.check(Check(3, 125.0, "r", "READY"))
    assert [p for p, _, _ in sent] == [40.0, 40.1, 125.0]
    assert sent[0][2] == "Galileo is still working: 40 s elapsed, typically 1 to 3 minutes"
    assert sent[2][2] == "Galileo is done: the highlights are ready (2 min 5 s elapsed)"
    assert duration(59.6) == "1 min" and duration(3) == "3 s"
