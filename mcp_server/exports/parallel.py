"""Parse a large export on two cores: the main process downloads it and cuts it into segments of whole
lines; the parse worker (parse_worker.py) parses some of them while the main process parses the others,
and every segment's result is absorbed into the index in order (segments.py), so the index is the one a
single pass makes.

The first ``SEGMENT_BYTES`` of a read are parsed as they come, as without a worker, so a small export never
waits for one; the worker is started then if it is not running yet (``list_exports`` starts it ahead of the
reads that usually follow), once per server process, and kept for later reads (one read uses it at a time).
The worker gets at most ``IN_FLIGHT`` segments at once; the main process parses the next one itself, and
stops to wait for the worker's results only when ``MAX_PENDING_BYTES`` of segments wait to be absorbed,
which bounds memory whatever the lines' sizes. A segment that cannot be absorbed exactly is parsed again in
turn; after ``MAX_REFUSED`` of them the read goes on with one core. A worker that dies or fails a segment
costs speed only: its segments are parsed by the main process.
"""

from __future__ import annotations

import logging
import os
import pickle
import secrets
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import anyio
import anyio.abc
import anyio.lowlevel

from mcp_server.exports.index import IndexBuilder
from mcp_server.exports.parse_worker import READY, request
from mcp_server.exports.segments import SLICE_LINES, Partial, SegmentBuilder, absorb, still_wanted
from mcp_server.exports.summary import Reading

logger = logging.getLogger(__name__)

SEGMENT_BYTES = 768 << 10  # a segment and its frame fit a 1 MiB pipe (parse_worker.PIPE_BYTES)
IN_FLIGHT = 4  # segments sent to the worker and not answered yet: one being parsed, the rest queued
MAX_PENDING_BYTES = 6 << 20  # of segments read and not absorbed yet (a segment holds one line at least)
_WORKER_COMMAND = [sys.executable, "-m", "mcp_server.exports.parse_worker"]
# Segments parsed apart and refused (segments.py) before a read parses the rest in turn: what makes them refused
# (most often a request that never gets its response, held until MAX_OPEN_REQUESTS requests follow it) tends
# to last, and each refusal costs the segment's parse twice.
MAX_REFUSED = 3
_MAX_FAILURES = 3  # worker starts that ended badly before this process stops starting one


async def feed(builder: IndexBuilder, lines: list[bytes], deadline: float, stats: Reading) -> bool:
    """Parse ``lines`` into ``builder`` in slices, letting other tasks run between them; False once the
    time budget is spent (``stats`` says so)."""
    for first in range(0, len(lines), SLICE_LINES):
        builder.feed(lines[first : first + SLICE_LINES] if len(lines) > SLICE_LINES else lines)
        await anyio.lowlevel.checkpoint()
        if time.monotonic() > deadline:
            stats.time_budget_hit = True
            return False
    return True


@dataclass(eq=False)
class _Segment:
    blocks: list[bytes]  # of whole lines (download.py): split only where the segment is parsed
    size: int
    part: Partial | None = None
    answered: anyio.Event | None = None  # set when the worker's answer is in (``part`` None: parse it here)

    def lines(self) -> list[bytes]:
        return b"\n".join(self.blocks).split(b"\n") if len(self.blocks) > 1 else self.blocks[0].split(b"\n")


class _Channel:
    """One read's use of the worker process: sends segments, and receives their partials in order."""

    def __init__(self, worker: ParseWorker, process: anyio.abc.Process) -> None:
        self._worker = worker
        self._process = process
        self._waiting: deque[_Segment] = deque()
        self._buffer = bytearray()
        # Never more than IN_FLIGHT requests queued: send_nowait cannot block.
        self._outbox, self._inbox = anyio.create_memory_object_stream[list[bytes]](IN_FLIGHT)
        self.dead = False
        self.settled = anyio.Event()  # the worker is ready, or dead

    @property
    def room(self) -> bool:
        return self._worker.ready and not self.dead and len(self._waiting) < IN_FLIGHT

    @property
    def idle(self) -> bool:
        return not self._waiting

    def send(self, segment: _Segment, token: str, wanted: tuple[int, int, int]) -> None:
        """Queue ``segment`` for the worker (``sending`` writes it: the pipe takes it only as the worker reads)."""
        segment.answered = anyio.Event()
        self._waiting.append(segment)
        self._outbox.send_nowait(request(token, wanted, segment.blocks))

    async def sending(self) -> None:
        """Runs for the read: writes queued requests to the worker, in order."""
        stdin = self._process.stdin
        assert stdin is not None
        try:
            async for pieces in self._inbox:
                for piece in pieces:
                    await stdin.send(piece)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            self._die("its input closed")

    async def receive(self) -> None:
        """Runs for the read: the READY byte of a new worker, then one partial per segment sent."""
        try:
            if not self._worker.ready:
                if await self._take(len(READY)) != READY:
                    self._die("it did not start")
                    return
                self._worker.ready = True
            self.settled.set()
            while True:
                size = int.from_bytes(await self._take(8), "big")
                body = await self._take(size)
                part = pickle.loads(body)  # noqa: S301 - from our own child process, over its pipe
                segment = self._waiting.popleft()
                segment.part = part if isinstance(part, Partial) else None
                assert segment.answered is not None
                segment.answered.set()
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            self._die("it ended")
        except Exception as exc:  # not an answer we asked for (a bug, or something else writing to its output)
            self._die(f"it answered what was not asked: {type(exc).__name__}")

    async def _take(self, size: int) -> bytes:
        stdout = self._process.stdout
        assert stdout is not None
        while len(self._buffer) < size:
            self._buffer += await stdout.receive(max(65536, size - len(self._buffer)))
        taken = bytes(self._buffer[:size])
        del self._buffer[:size]
        return taken

    def _die(self, why: str) -> None:
        if not self.dead:
            logger.warning("The export parse worker stopped (%s); this process parses alone.", why)
        self.dead = True
        self.settled.set()
        while self._waiting:  # parsed by the main process instead
            segment = self._waiting.popleft()
            segment.part = None
            assert segment.answered is not None
            segment.answered.set()


class ParseWorker:
    """The parse worker process of one server process: started when exports are listed or a read first needs
    it, and kept for later reads."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled and (os.cpu_count() or 1) > 1
        self.ready = False
        self._process: anyio.abc.Process | None = None
        self._in_use = False
        self._failures = 0
        self._spawning = anyio.Lock()

    async def start(self) -> None:
        """Start the worker ahead of a read (its imports take a fifth of a second), unless it is running."""
        if self.enabled and self._failures < _MAX_FAILURES:
            await self._spawn()

    async def _spawn(self) -> anyio.abc.Process | None:
        async with self._spawning:
            if self._process is None:
                try:
                    self._process = await anyio.open_process(_WORKER_COMMAND, stderr=None)
                except OSError as exc:  # no such interpreter, too many processes or files open...
                    self._failures += 1
                    logger.warning("The export parse worker could not start (%s); reads parse alone.", exc)
                    return None
                self.ready = False
            return self._process

    @asynccontextmanager
    async def channel(self) -> AsyncIterator[_Channel | None]:
        """The worker for one read, or None (disabled, failing, or in use by another read)."""
        if not self.enabled or self._in_use or self._failures >= _MAX_FAILURES:
            yield None
            return
        self._in_use = True
        try:
            process = await self._spawn()
            if process is None:
                yield None
                return
            channel = _Channel(self, process)
            async with anyio.create_task_group() as tg:
                tg.start_soon(channel.receive)
                tg.start_soon(channel.sending)
                try:
                    yield channel
                finally:
                    tg.cancel_scope.cancel()
            if channel.dead or not channel.idle:
                # Dead, or answers still coming that no read would take: start afresh next time.
                self._failures += channel.dead
                await self._stop()
        except BaseException:
            await self._stop()
            raise
        finally:
            self._in_use = False

    async def warm(self) -> bool:
        """Start the worker now and wait until it is ready (a read never waits for it): whether it is."""
        async with self.channel() as channel:
            if channel is not None:
                await channel.settled.wait()
        return self.ready

    async def _stop(self) -> None:
        process, self._process, self.ready = self._process, None, False
        if process is not None:
            with anyio.CancelScope(shield=True):
                if process.returncode is None:
                    process.kill()
                await process.aclose()

    async def aclose(self) -> None:
        await self._stop()


class SegmentedParse:
    """Feeds one read's blocks of lines to ``builder``, on two cores once the read is past its first segment."""

    def __init__(self, builder: IndexBuilder, worker: ParseWorker, stats: Reading, deadline: float) -> None:
        self._builder = builder
        self._worker = worker
        self._stats = stats
        self._deadline = deadline
        self._channel: _Channel | None = None
        self._stack: AsyncExitStack | None = None
        self._blocks: list[bytes] = []
        self._gathered = 0  # bytes in _blocks
        self._pending: deque[_Segment] = deque()
        self._pending_bytes = 0
        self._refused = 0  # segments parsed apart that could not be absorbed
        self._token = "\x00page:" + secrets.token_hex(16)  # no recorded string can hold it

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SegmentedParse]:
        async with AsyncExitStack() as stack:
            self._stack = stack
            try:
                yield self
            finally:
                self._stack = None

    async def add(self, block: bytes) -> bool:
        """Take one block of lines; False once the time budget is spent."""
        if self._channel is None:
            lines = block.split(b"\n")
            self._stats.lines += len(lines)
            parsed = await feed(self._builder, lines, self._deadline, self._stats)
            if parsed and self._stack is not None and self._stats.bytes >= SEGMENT_BYTES:
                # Past its first segment: the read is worth a second core (None: not to be had).
                self._channel = await self._stack.enter_async_context(self._worker.channel())
                self._stack = None if self._channel is None else self._stack
            return parsed
        self._blocks.append(block)
        self._gathered += len(block)
        if self._gathered < SEGMENT_BYTES:
            return True
        return await self._dispatch(self._segment())

    async def finish(self) -> bool:
        """Parse and absorb everything taken (the read has ended); False if the time budget ran out first."""
        if self._blocks and not await self._dispatch(self._segment()):
            return False
        return await self._settle(until_empty=True)

    async def _dispatch(self, segment: _Segment) -> bool:
        channel = self._channel
        assert channel is not None
        wanted = still_wanted(self._builder)
        apart = self._refused < MAX_REFUSED
        if apart and channel.room:
            channel.send(segment, self._token, wanted)
            self._hold(segment)
        elif not self._pending:
            return await self._feed(segment)
        elif not apart:  # segments are not absorbed here: parse them in turn
            return await self._settle(until_empty=True) and await self._feed(segment)
        else:  # parse it here while earlier segments are still with the worker, and absorb it in its turn
            alone = SegmentBuilder(self._token, wanted)
            lines = segment.lines()
            if not await feed(alone, lines, self._deadline, self._stats):
                return False
            segment.part = alone.partial()
            segment.part.lines = len(lines)
            self._hold(segment)
        return await self._settle(until_empty=False)

    async def _settle(self, *, until_empty: bool) -> bool:
        """Absorb the segments whose turn has come; wait for the worker only when too many are waiting."""
        while self._pending:
            head = self._pending[0]
            if head.answered is not None and not head.answered.is_set():
                if not until_empty and self._pending_bytes <= MAX_PENDING_BYTES:
                    return True
                with anyio.move_on_after(self._deadline - time.monotonic()):
                    await head.answered.wait()
                if not head.answered.is_set():
                    self._stats.time_budget_hit = True
                    return False
            self._pending.popleft()
            self._pending_bytes -= head.size
            if head.part is not None and absorb(self._builder, head.part):
                self._stats.lines += head.part.lines
                await anyio.lowlevel.checkpoint()
                continue
            self._refused += head.part is not None
            if not await self._feed(head):
                return False
        return True

    def _segment(self) -> _Segment:
        segment = _Segment(self._blocks, self._gathered)
        self._blocks, self._gathered = [], 0
        return segment

    def _hold(self, segment: _Segment) -> None:
        self._pending.append(segment)
        self._pending_bytes += segment.size

    async def _feed(self, segment: _Segment) -> bool:
        """Parse ``segment`` straight into the index (everything before it is in)."""
        lines = segment.lines()
        self._stats.lines += len(lines)
        return await feed(self._builder, lines, self._deadline, self._stats)
