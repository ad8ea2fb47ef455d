"""Clocks for tests and benchmarks: the server's waiting code runs on them instead of real time.

Not part of the package: the server only ever runs on ``mcp_server.clock.REAL_CLOCK``. The benchmarks import
this module too (``bench/highlights.py`` puts the repository root on ``sys.path``).
"""

from __future__ import annotations

import time

import anyio
import anyio.lowlevel

from mcp_server.clock import Clock


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
    """Time that moves only when something sleeps: a 3-minute wait takes no real time.

    Give the sandbox the same clock (``SandboxWorld.clock = clock.now``) and Galileo's generation time is
    measured on it too, so a test against the real HTTP sandbox knows exactly when each look happens.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()

    def move_on_after(self, seconds: float, *, real_extra: float = 0.0) -> anyio.CancelScope:
        return anyio.CancelScope()  # nothing runs long in virtual time: the schedule's own deadline ends it
