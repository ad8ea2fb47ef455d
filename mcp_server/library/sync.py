"""Sync: page LogRocket's export listing, read every export not yet indexed, store its facts.

The listing cursor is saved after each page, so a sync stopped anywhere (time budget, max_sessions, a
crash) continues where it stopped, and a session already indexed is never downloaded again. A lock
row in the database lets one sync per app run at a time, across every worker that shares the index.
An export that cannot be read is recorded with its reason and retried by the next sync.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from mcp_server.adapters.logrocket import ExportFile, LogRocketClient
from mcp_server.exports.cache import url_key
from mcp_server.exports.reader import ExportReader, PendingEntry
from mcp_server.exports.urlinfo import inspect_export_url
from mcp_server.library.db import database_errors, index_unavailable
from mcp_server.library.facts import NoTimestamps, bytes_read, facts_from_summary, read_was_interrupted
from mcp_server.library.model import ExportRef, SessionFacts
from mcp_server.library.store import Failure, Store, SyncPosition
from mcp_server.redact import process_redactor
from mcp_server.text import clean_text
from mcp_server.timeparse import now_ms

logger = logging.getLogger(__name__)

PAGE_SIZE = 100  # LogRocket's largest page
# Facts read are stored this many at a time, in one transaction: a transaction (and a thread hop) per export
# was a quarter of a sync's time. Whatever is read when a sync stops is stored before it returns.
STORE_BATCH = 25
_LEASE_MS = 120_000  # a sync that stops renewing its lock (a crashed worker) frees it after this
_T = TypeVar("_T")


async def in_thread(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Run a (blocking) store call off the event loop."""
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
    except database_errors() as exc:
        raise index_unavailable(exc) from exc


@dataclass
class SyncProgress:
    pages: int = 0
    listed: int = 0
    indexed: int = 0
    already: int = 0
    failed: int = 0
    retried: int = 0
    bytes: int = 0
    reached_ms: int | None = None  # the latest start among the sessions indexed so far (how far into the window)

    def as_dict(self) -> dict[str, int | None]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class FailedExport:
    session_id: str | None
    reason: str


@dataclass
class SyncOutcome:
    app: str
    status: Literal["done", "partial", "running"]
    progress: SyncProgress
    stopped_by: Literal["time", "max_sessions"] | None = None
    holder_started_ms: int | None = None
    holder_progress: dict[str, Any] | None = None
    failures: list[FailedExport] = field(default_factory=list)
    pruned: int = 0


Report = Callable[[SyncProgress], Awaitable[None]]


def export_key(url: str) -> tuple[str, str | None]:
    """The session's id in the index (LogRocket's recordingID/sessionID when the URL shows it), and that id."""
    session_id = inspect_export_url(url).session_id
    if session_id is not None:
        return session_id, session_id
    return "export-" + hashlib.sha256(url_key(url).encode()).hexdigest()[:20], None


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Syncer:
    def __init__(
        self,
        store: Store,
        logrocket: LogRocketClient,
        reader: ExportReader,
        *,
        concurrency: int = 4,
        retention_days: float = 30,
        owner: str | None = None,
        page_size: int = PAGE_SIZE,
        first_window_days: float = 7,
        lease_ms: int = _LEASE_MS,
    ) -> None:
        self.page_size = page_size
        self.lease_ms = lease_ms
        self.first_window_ms = int(first_window_days * 86_400_000)
        self.store = store
        self.logrocket = logrocket
        self.reader = reader
        self.concurrency = max(1, concurrency)
        self.retention_ms = int(retention_days * 86_400_000)
        self.owner = owner or new_owner()

    async def run(
        self,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        max_sessions: int | None = None,
        time_budget: float | None = None,
        report: Report | None = None,
    ) -> SyncOutcome:
        app = str(self.logrocket.app)  # a ConfigError naming the missing setting, before anything else
        progress = SyncProgress()
        lock = await in_thread(self.store.lock, app, self.owner, now_ms(), self.lease_ms)
        if not lock.acquired:
            return SyncOutcome(app, "running", progress, None, lock.holder_started_ms, lock.holder_progress)
        deadline = time.monotonic() + time_budget if time_budget is not None else None
        run = _Run(self, app, progress, report, max_sessions, until_ms, deadline)
        status: Literal["done", "time", "max_sessions"] = "time"
        failure: Exception | None = None
        try:
            async with anyio.create_task_group() as tasks:
                run.scope = tasks.cancel_scope
                # Renewed on its own clock, not only between exports: slow reads must not let the lease lapse.
                tasks.start_soon(run.keep_lease)
                try:
                    status = await run.sync(since_ms)
                except Exception as exc:  # raised as itself below, not wrapped in the task group's ExceptionGroup
                    failure = exc
                tasks.cancel_scope.cancel()
            if failure is not None:
                raise failure
            if run.lost:  # another worker holds the lock now: it goes on, this one stopped writing
                return SyncOutcome(app, "running", progress, None, None, progress.as_dict())
            pruned = 0
            if status == "done" and self.retention_ms > 0:
                pruned = await in_thread(self.store.prune, now_ms() - self.retention_ms)
        finally:
            with anyio.CancelScope(shield=True):
                await in_thread(self.store.unlock, app, self.owner)
        return SyncOutcome(
            app,
            "done" if status == "done" else "partial",
            progress,
            None if status == "done" else status,
            failures=run.failures,
            pruned=pruned,
        )


class _Run:
    """One sync of one app, holding its lock."""

    def __init__(
        self,
        syncer: Syncer,
        app: str,
        progress: SyncProgress,
        report: Report | None,
        max_sessions: int | None,
        until_ms: int | None,
        deadline: float | None,
    ) -> None:
        self.s = syncer
        self.store = syncer.store
        self.app = app
        self.progress = progress
        self.report = report
        self.max_sessions = max_sessions
        self.until_ms = until_ms
        self.deadline = deadline
        self.failures: list[FailedExport] = []
        self._last_renew = 0.0
        self.lost = False  # the lock's lease lapsed and another worker took it
        self.scope: anyio.CancelScope | None = None
        # (facts, bytes read, its cache entry to write): read, not yet stored
        self._pending: list[tuple[SessionFacts, int, PendingEntry | None]] = []
        self._unfinished = 0  # reads of the current _read_all not yet over
        self._read_ok = 0  # exports read into facts by this run (stored, or about to be)
        self._in_flight = 0  # exports queued for the readers and not read yet
        self._idle = anyio.Event()  # set whenever no read is queued or under way
        self._scheduled: set[str] = set()  # export keys queued by this run (a later page may list them again)
        self._storing = anyio.Lock()  # one store at a time: a saved cursor must follow every store before it
        self._failure: Exception | None = None  # the first error of a reader or the lister, raised once they end
        self._unstored = False  # a batch of facts failed to store: cursors stay where they are
        self._saving = anyio.Lock()

    def _left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def _room(self) -> int | None:
        """New sessions this run may still read: max_sessions less those read or being read (None: no limit)."""
        return None if self.max_sessions is None else self.max_sessions - self._read_ok - self._in_flight

    async def sync(self, since_ms: int | None) -> Literal["done", "time", "max_sessions"]:
        position = await in_thread(self.store.position, self.app)
        now = now_ms()
        if since_ms is None and position.cursor is None and position.cursor_date_ms is None:
            since_ms = now - self.s.first_window_ms
        if since_ms is not None and (position.window_from_ms is None or since_ms < position.window_from_ms):
            # An earlier start than anything synced: list again from there (indexed sessions are skipped).
            position = SyncPosition(since_ms, None, since_ms, None, position.last_sync_ms)
            await in_thread(self.store.save_position, self.app, position)
        stopped = await self._retry_failures()
        if stopped is not None:
            return stopped
        cursor, date_ms = position.cursor, position.cursor_date_ms if position.cursor is None else None
        return await self._list_and_read(cursor, date_ms)

    async def _list_and_read(self, cursor: str | None, date_ms: int | None) -> Literal["done", "time", "max_sessions"]:
        """Page the listing and read each page's new exports, ``concurrency`` at a time, as one stream of reads.

        The next page is listed, and its exports start downloading, while the last reads of the page before are
        still under way: waiting for a page's slowest download before listing the next left most download slots
        idle whenever each download waits on a distant host. A page's cursor is saved once it and every page
        before it have been read and stored, so a sync stopped anywhere lists again from the first page it had
        not finished (what it had stored of later pages is recognised as indexed, not read again).
        """
        send, receive = anyio.create_memory_object_stream[_Job](self.s.concurrency)
        listed: deque[_Listed] = deque()  # pages whose cursor is not saved yet, oldest first
        outcome: Literal["done", "time", "max_sessions"] = "done"
        left = self._left()
        try:
            with anyio.move_on_after(left if left is not None else float("inf")) as scope:
                async with anyio.create_task_group() as tg:
                    with receive:
                        for _ in range(self.s.concurrency):
                            tg.start_soon(self._reader, receive.clone(), listed, tg.cancel_scope)
                    with send:
                        try:
                            outcome = await self._lister(send, listed, cursor, date_ms)
                        except Exception as exc:  # the reads queued before it still end (within the budget)
                            self._failure = self._failure or exc
        finally:
            with anyio.CancelScope(shield=True):  # stopped by time, a cancel or an error: keep what was read
                await self._store_pending()
        if self._failure is not None:
            raise self._failure  # as itself, not in an ExceptionGroup: the tool says what went wrong
        if self.lost or scope.cancelled_caught or (outcome == "done" and listed):
            return "time"  # (listed pages left unsaved: reads the time budget cut short)
        return outcome

    async def _lister(
        self,
        send: MemoryObjectSendStream[_Job],
        listed: deque[_Listed],
        cursor: str | None,
        date_ms: int | None,
    ) -> Literal["done", "time", "max_sessions"]:
        """List pages from ``cursor`` and queue their new exports for the readers; how the listing ended."""
        while True:
            left = self._left()
            if left is not None and left <= 0:
                return "time"
            room = self._room()
            if room is not None and room <= 0:
                await self._drain()  # a read under way that fails leaves room for another
                room = self._room()
                if room is not None and room <= 0:
                    return "max_sessions"
            page = await self._within_budget(
                self.s.logrocket.list_exports(cursor=cursor, limit=self.s.page_size, date_ms=date_ms)
            )
            if page is None:
                return "time"
            self.progress.pages += 1
            self.progress.listed += len(page.files)
            refs = [(f, ExportRef(f.url, _expiry(f), cursor, date_ms)) for f in page.files]
            todo = await self._new_exports(refs)
            cut = False
            room = self._room()
            if room is not None and len(todo) > room:
                await self._drain()  # the room left is exact only once the reads under way are over
                room = self._room()
            if room is not None:
                cut = len(todo) > room
                todo = todo[: max(room, 0)]
            end = not page.files or page.cursor is None or page.cursor == cursor or len(page.files) < self.s.page_size
            # Sessions on this page past until were skipped: the saved cursor stays before the page, so the
            # next sync lists it again and indexes them (the others are recognised as indexed, not read again).
            skipped = self.until_ms is not None and any(self._beyond(f) for f, _ in refs)
            if page.cursor is not None and not skipped:
                cursor, date_ms = page.cursor, None
            # A page cut by max_sessions is never saved as read: the next sync lists it again.
            entry = _Listed(cursor, date_ms, end and not skipped, len(todo), saveable=not cut)
            listed.append(entry)
            if todo and self._idle.is_set():
                self._idle = anyio.Event()
            self._in_flight += len(todo)
            for key, session_id, ref in todo:
                self._scheduled.add(key)
                await send.send(_Job(key, session_id, ref, entry))
            if not todo:
                await self._save_read_pages(listed)
            if cut:
                return "max_sessions"
            if end or skipped:
                return "done"

    async def _reader(
        self, receive: MemoryObjectReceiveStream[_Job], listed: deque[_Listed], scope: anyio.CancelScope
    ) -> None:
        try:
            await self._read_queued(receive, listed)
        except Exception as exc:  # (a store that failed, a report that raised) ends every read, and the sync
            self._give_up(exc, scope)

    async def _read_queued(self, receive: MemoryObjectReceiveStream[_Job], listed: deque[_Listed]) -> None:
        with receive:
            async for job in receive:
                try:
                    left = self._left()
                    if left is not None and left <= 0:
                        continue  # out of time: its page stays unread, and is listed again next time
                    await self._read_one(job.key, job.session_id, job.ref)
                    job.page.unread -= 1
                finally:
                    self._in_flight -= 1
                    if not self._in_flight:
                        self._idle.set()
                if job.page.unread == 0:
                    await self._save_read_pages(listed)
                else:
                    await self._store_if_full()

    def _give_up(self, exc: Exception, scope: anyio.CancelScope) -> None:
        """A read task failed: the other reads stop, and the first such error is raised once they have."""
        self._failure = self._failure or exc
        scope.cancel()

    async def _drain(self) -> None:
        while self._in_flight:
            await self._idle.wait()

    async def _save_read_pages(self, listed: deque[_Listed]) -> None:
        """A page's reads are over: store what was read, then save the cursor after each page read in full, in
        listing order."""
        async with self._saving:
            # Only the pages read in full before this store: a page that ends during the awaits below has facts
            # this store did not take, and is saved by the reader that ended it, after its own store.
            ready = 0
            while ready < len(listed) and listed[ready].unread == 0 and listed[ready].saveable:
                ready += 1
            await self._store_pending()
            await self._tick()
            await self._renew(force=True)  # write only while holding the lock
            for _ in range(ready):
                if self.lost or self._unstored:
                    return
                page = listed.popleft()
                now = now_ms()
                position = await in_thread(self.store.position, self.app)
                through = now if page.last else position.synced_through_ms
                position = SyncPosition(position.window_from_ms, page.cursor, page.date_ms, through, now)
                await in_thread(self.store.save_position, self.app, position)

    async def _within_budget(self, work: Awaitable[_T]) -> _T | None:
        left = self._left()
        if left is None:
            return await work
        with anyio.move_on_after(left):
            return await work
        return None

    def _beyond(self, file: ExportFile) -> bool:
        """Whether the URL shows the session was recorded on a day at or after ``until`` (so it started after)."""
        day = inspect_export_url(file.url).recorded_on
        if day is None or self.until_ms is None:
            return False
        start = int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)
        return start >= self.until_ms

    async def _new_exports(self, refs: list[tuple[ExportFile, ExportRef]]) -> list[tuple[str, str | None, ExportRef]]:
        """This page's exports not indexed yet (nor being read); those that are get their newer links stored."""
        keyed = [(export_key(f.url), f, ref) for f, ref in refs]
        known = await in_thread(self.store.indexed, self.app, [k for (k, _), _, _ in keyed])
        fresh = {k: ref for (k, _), _, ref in keyed if k in known}
        if fresh:
            await in_thread(self.store.update_exports, self.app, fresh)  # newer links for read_session_export
        self.progress.already += len(fresh)
        return self._todo(keyed, known | self._scheduled)

    def _todo(
        self, keyed: list[tuple[tuple[str, str | None], ExportFile, ExportRef]], known: set[str]
    ) -> list[tuple[str, str | None, ExportRef]]:
        seen: set[str] = set()
        todo = []
        for (key, sid), f, ref in keyed:
            if key in known or key in seen or self._beyond(f):
                continue
            seen.add(key)
            todo.append((key, sid, ref))
        return todo

    async def _retry_failures(self) -> Literal["time", "max_sessions"] | None:
        failures: list[Failure] = await in_thread(self.store.failures, self.app)
        if not failures:
            return None
        todo = []
        for f in failures:
            ref = f.export
            if ref.expires_ms is not None and ref.expires_ms <= now_ms():
                refreshed = await self._relist(f)
                if refreshed is None:
                    continue  # no longer listed: it stays recorded, with its reason
                ref = refreshed
            todo.append((f.export_key, f.session_id, ref))
        room = self._room()
        if room is not None:
            todo = todo[:room]
        self._scheduled.update(key for key, _, _ in todo)  # read now: not again when a page lists it
        self.progress.retried += len(todo)
        finished = await self._read_all(todo)
        return None if finished else "time"

    async def _relist(self, failure: Failure) -> ExportRef | None:
        ref = failure.export
        page = await self._within_budget(
            self.s.logrocket.list_exports(
                cursor=ref.listing_cursor, limit=self.s.page_size, date_ms=ref.listing_date_ms
            )
        )
        for f in page.files if page is not None else []:
            if export_key(f.url)[0] == failure.export_key:
                return ExportRef(f.url, _expiry(f), ref.listing_cursor, ref.listing_date_ms)
        return None

    async def _read_all(self, todo: list[tuple[str, str | None, ExportRef]]) -> bool:
        """Read these exports, several at once; False when the time budget ran out first."""
        if not todo:
            return True
        limiter = anyio.CapacityLimiter(self.s.concurrency)

        async def one(key: str, session_id: str | None, ref: ExportRef, scope: anyio.CancelScope) -> None:
            try:
                async with limiter:
                    left = self._left()
                    if left is not None and left <= 0:
                        return
                    await self._read_one(key, session_id, ref)
                    await self._store_if_full(last=self._unfinished <= 1)
            except Exception as exc:  # raised as itself once the others end, not in an ExceptionGroup
                self._give_up(exc, scope)
            finally:
                self._unfinished -= 1

        self._unfinished = len(todo)

        left = self._left()
        try:
            with anyio.move_on_after(left if left is not None else float("inf")) as scope:
                async with anyio.create_task_group() as tg:
                    for key, session_id, ref in todo:
                        tg.start_soon(one, key, session_id, ref, tg.cancel_scope)
        finally:
            with anyio.CancelScope(shield=True):  # stopped by time, a cancel or an error: keep what was read
                await self._store_pending()
        if self._failure is not None:
            raise self._failure
        left = self._left()
        return not scope.cancelled_caught and (left is None or left > 0)

    async def _read_one(self, key: str, session_id: str | None, ref: ExportRef) -> None:
        pending: PendingEntry | None = None
        try:
            summary, pending = await self.s.reader.read_summary(ref.url)
            interrupted = read_was_interrupted(summary)
            if interrupted is not None:
                raise _Unreadable(interrupted)
            facts = facts_from_summary(summary, app=self.app, session_id=key, export=ref)
        except anyio.get_cancelled_exc_class():
            raise
        except (NoTimestamps, _Unreadable) as exc:
            # A summary without times was read in full: cached, its retry needs no download (it reads the same).
            keep = pending if isinstance(exc, NoTimestamps) else None
            await self._failed(key, session_id, ref, str(exc), keep)
            return
        except Exception as exc:  # any failure of one export is recorded and retried; the sync goes on
            logger.info("reading export %s failed (%s); recorded for the next sync", key, type(exc).__name__)
            await self._failed(key, session_id, ref, clean_text(str(exc) or type(exc).__name__, 300, process_redactor))
            return
        self._pending.append((facts, bytes_read(summary), pending))
        self._read_ok += 1

    async def _store_if_full(self, *, last: bool = False) -> None:
        """Store what was read once it makes a batch (or when ``last``: the last read of a group)."""
        if len(self._pending) >= STORE_BATCH or (last and self._pending):
            await self._store_pending()
            await self._tick()

    async def _store_pending(self) -> None:
        """Store the facts read so far, in one transaction, and count them as indexed."""
        async with self._storing:
            batch, self._pending = self._pending, []
            if not batch:
                return
            # Taken from _pending, the batch is stored even if the sync is cancelled meanwhile: nothing read is lost.
            with anyio.CancelScope(shield=True):
                await self._renew(force=True)  # write only while holding the lock
                if self.lost:
                    return
                try:
                    await in_thread(_cache_and_store, self.store, batch, now_ms())
                except BaseException:
                    # Not stored: no cursor may pass it from now on (the next sync lists its pages again).
                    self._unstored = True
                    raise
        self.progress.indexed += len(batch)
        self.progress.reached_ms = max(self.progress.reached_ms or 0, *(facts.started_ms for facts, _, _ in batch))
        self.progress.bytes += sum(size for _, size, _ in batch)

    async def _failed(
        self, key: str, session_id: str | None, ref: ExportRef, reason: str, pending: PendingEntry | None = None
    ) -> None:
        with anyio.CancelScope(shield=True):
            if pending is not None:
                await in_thread(_cache, [pending])
            await in_thread(self.store.record_failure, self.app, key, session_id, ref, reason, now_ms())
        self.progress.failed += 1
        if len(self.failures) < 50:
            self.failures.append(FailedExport(session_id, reason))
        await self._tick()

    async def _tick(self) -> None:
        if self.report is not None:
            await self.report(self.progress)
        await self._renew()

    async def _renew(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_renew < 5:
            return
        self._last_renew = time.monotonic()
        held = await in_thread(
            self.store.renew, self.app, self.s.owner, now_ms() + self.s.lease_ms, self.progress.as_dict()
        )
        if not held:
            self.lost = True
            if self.scope is not None:
                self.scope.cancel()

    async def keep_lease(self) -> None:
        while True:
            await anyio.sleep(self.s.lease_ms / 4000)
            try:
                await self._renew(force=True)
            except Exception as exc:  # the database blinked: the next renewal tries again, the sync goes on
                logger.warning("renewing the sync lock of %s failed: %s", self.app, exc)


class _Unreadable(Exception):
    pass


@dataclass(eq=False)
class _Listed:
    """A listed page: the cursor after it, and how many of its new exports are not read yet."""

    cursor: str | None
    date_ms: int | None
    last: bool  # the listing's end: saving it marks the sync as through to now
    unread: int
    saveable: bool  # False when max_sessions cut it: it is listed again next time


@dataclass(frozen=True)
class _Job:
    key: str
    session_id: str | None
    ref: ExportRef
    page: _Listed


def _cache_and_store(store: Store, batch: list[tuple[SessionFacts, int, PendingEntry | None]], now: int) -> None:
    """Write the batch's export cache entries, then store its facts (in a worker thread: both wait on the disk)."""
    _cache([pending for _, _, pending in batch if pending is not None])
    store.put_many([facts for facts, _, _ in batch], now)


def _cache(entries: list[PendingEntry]) -> None:
    for pending in entries:
        try:
            pending.commit()
        except OSError as exc:  # the cache only saves a later download; the index is what a sync is for
            logger.warning("could not cache a synced export's summary: %s", exc)


def expiry_ms(url: str) -> int | None:
    """When the signed download URL stops working (epoch ms), when it says."""
    expires = inspect_export_url(url).expires_at
    return int(expires.timestamp() * 1000) if expires is not None else None


def _expiry(file: ExportFile) -> int | None:
    return expiry_ms(file.url)
