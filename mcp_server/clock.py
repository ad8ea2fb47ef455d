"""Time as the server's waiting code sees it: a monotonic clock, cancellable sleeps and time limits.

Tools that wait (Galileo highlights take minutes) read time only through a ``Clock``, so tests and the
benchmark can run the same schedule faster (``ScaledClock``) instead of sleeping for real minutes.
Every sleep is an anyio sleep: cancelling the tool call interrupts it at once.
"""

from __future__ import annotations

import time

import anyio
import anyio.lowlevel


class Clock:
    """Real time."""

    scale = 1.0

    def now(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))

    def move_on_after(self, seconds: float, *, real_extra: float = 0.0) -> anyio.CancelScope:
        """A cancel scope that gives up on its body after ``seconds``, plus ``real_extra`` wall-clock seconds.

        The extra is for network round trips, which a scaled clock does not speed up.
        """
        return anyio.move_on_after(max(0.0, seconds) + real_extra)


class ScaledClock(Clock):
    """Time that runs ``scale`` times faster than the wall clock: waiting 60 s takes 60/scale real seconds.

    Everything measured through it (elapsed time, upstream latency) is in these scaled seconds.
    """

    def __init__(self, scale: float) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self._origin = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._origin) * self.scale

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds) / self.scale)

    def move_on_after(self, seconds: float, *, real_extra: float = 0.0) -> anyio.CancelScope:
        return anyio.move_on_after(max(0.0, seconds) / self.scale + real_extra)


class VirtualClock(Clock):
    """Time that moves only when something sleeps: a 3-minute wait takes no real time (tests, benchmarks)."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()

    def move_on_after(self, seconds: float, *, real_extra: float = 0.0) -> anyio.CancelScope:
        return anyio.CancelScope()  # nothing runs long in virtual time: the schedule's own deadline ends it


REAL_CLOCK = Clock()
