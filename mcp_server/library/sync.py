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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import anyio

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

    def _left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def _room(self) -> int | None:
        return None if self.max_sessions is None else self.max_sessions - self.progress.indexed

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
        while True:
            left = self._left()
            if left is not None and left <= 0:
                return "time"
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
            outcome = await self._page(refs)
            if outcome is not None:
                return outcome  # stopped inside the page: the cursor stays before it, so the page is listed again
            end = not page.files or page.cursor is None or page.cursor == cursor or len(page.files) < self.s.page_size
            # Sessions on this page past until were skipped: the saved cursor stays before the page, so the
            # next sync lists it again and indexes them (the others are recognised as indexed, not read again).
            skipped = self.until_ms is not None and any(self._beyond(f) for f, _ in refs)
            if page.cursor is not None and not skipped:
                cursor, date_ms = page.cursor, None
            await self._renew(force=True)  # write only while holding the lock
            if self.lost:
                return "time"
            now = now_ms()
            position = await in_thread(self.store.position, self.app)
            through = now if end and not skipped else position.synced_through_ms
            position = SyncPosition(position.window_from_ms, cursor, date_ms, through, now)
            await in_thread(self.store.save_position, self.app, position)
            if end or skipped:
                return "done"

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

    async def _page(self, refs: list[tuple[ExportFile, ExportRef]]) -> Literal["time", "max_sessions"] | None:
        keyed = [(export_key(f.url), f, ref) for f, ref in refs]
        known = await in_thread(self.store.indexed, self.app, [k for (k, _), _, _ in keyed])
        fresh = {k: ref for (k, _), _, ref in keyed if k in known}
        if fresh:
            await in_thread(self.store.update_exports, self.app, fresh)  # newer links for read_session_export
        self.progress.already += len(fresh)
        todo = self._todo(keyed, known)
        room = self._room()
        cut = room is not None and len(todo) > room
        if cut and room is not None:
            todo = todo[:room]
        finished = await self._read_all(todo)
        if not finished:
            return "time"
        return "max_sessions" if cut else None

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

        async def one(key: str, session_id: str | None, ref: ExportRef) -> None:
            try:
                async with limiter:
                    left = self._left()
                    if left is not None and left <= 0:
                        return
                    await self._read_one(key, session_id, ref)
            finally:
                self._unfinished -= 1

        self._unfinished = len(todo)

        left = self._left()
        try:
            with anyio.move_on_after(left if left is not None else float("inf")) as scope:
                async with anyio.create_task_group() as tg:
                    for key, session_id, ref in todo:
                        tg.start_soon(one, key, session_id, ref)
        finally:
            with anyio.CancelScope(shield=True):  # stopped by time, a cancel or an error: keep what was read
                await self._store_pending()
        left = self._left()
        return not scope.cancelled_caught and (left is None or left > 0)

    async def _read_one(self, key: str, session_id: str | None, ref: ExportRef) -> None:
        try:
            summary, pending = await self.s.reader.read_summary(ref.url)
            interrupted = read_was_interrupted(summary)
            if interrupted is not None:
                raise _Unreadable(interrupted)
            facts = facts_from_summary(summary, app=self.app, session_id=key, export=ref)
        except anyio.get_cancelled_exc_class():
            raise
        except (NoTimestamps, _Unreadable) as exc:
            await self._failed(key, session_id, ref, str(exc))
            return
        except Exception as exc:  # any failure of one export is recorded and retried; the sync goes on
            logger.info("reading export %s failed (%s); recorded for the next sync", key, type(exc).__name__)
            await self._failed(key, session_id, ref, clean_text(str(exc) or type(exc).__name__, 300, process_redactor))
            return
        self._pending.append((facts, bytes_read(summary), pending))
        if len(self._pending) >= STORE_BATCH or self._unfinished <= 1:  # a batch, or the last read of these
            await self._store_pending()
            await self._tick()

    async def _store_pending(self) -> None:
        """Store the facts read so far, in one transaction, and count them as indexed."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        await self._renew(force=True)  # write only while holding the lock
        if self.lost:
            return
        await in_thread(_cache_and_store, self.store, batch, now_ms())
        self.progress.indexed += len(batch)
        self.progress.reached_ms = max(self.progress.reached_ms or 0, *(facts.started_ms for facts, _, _ in batch))
        self.progress.bytes += sum(size for _, size, _ in batch)

    async def _failed(self, key: str, session_id: str | None, ref: ExportRef, reason: str) -> None:
        with anyio.CancelScope(shield=True):
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


def _cache_and_store(store: Store, batch: list[tuple[SessionFacts, int, PendingEntry | None]], now: int) -> None:
    """Write the batch's export cache entries, then store its facts (in a worker thread: both wait on the disk)."""
    for _, _, pending in batch:
        if pending is not None:
            try:
                pending.commit()
            except OSError as exc:  # the cache only saves a later download; the index is what a sync is for
                logger.warning("could not cache a synced export's summary: %s", exc)
    store.put_many([facts for facts, _, _ in batch], now)


def expiry_ms(url: str) -> int | None:
    """When the signed download URL stops working (epoch ms), when it says."""
    expires = inspect_export_url(url).expires_at
    return int(expires.timestamp() * 1000) if expires is not None else None


def _expiry(file: ExportFile) -> int | None:
    return expiry_ms(file.url)
