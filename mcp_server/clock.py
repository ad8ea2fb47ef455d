"""Time as the server's waiting code sees it: a monotonic clock, cancellable sleeps and time limits.

Tools that wait (Galileo highlights take minutes) read time only through a ``Clock``, so tests and the
benchmarks can run the same schedule faster or in virtual time (``tests/clocks.py``) instead of sleeping for
real minutes.
Every sleep is an anyio sleep: cancelling the tool call interrupts it at once.
"""

from __future__ import annotations

import time

import anyio


class Clock:
    """Real time."""

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


REAL_CLOCK = Clock()
