"""Turn an export URL into answers: the digest, or one page of a listing. Everything the tool needs from
``exports/`` goes through ``ExportReader.open`` and ``ExportReader.page``.

A first read downloads, parses and indexes the export (and caches the index); later reads use the
cache. Parsing runs on the event loop in slices of ``SLICE_LINES`` lines with a checkpoint after each, so
however hostile the file, the loop is never held for more than a few milliseconds at a time and other
calls to the same server keep answering; the time budget is checked after every slice too. Past its first
segment, a large export is parsed on two cores: the parse worker takes some segments, with the same index
as one pass (parallel.py, segments.py).
"""

from __future__ import annotations

import importlib
import logging
import secrets
import sys
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2

from mcp_server.errors import InputError
from mcp_server.exports.cache import CorruptEntry, Entry, ExportCache, default_cache_dir
from mcp_server.exports.download import DownloadLimits, export_client, stream_blocks
from mcp_server.exports.focus import FOCUS_KINDS, Focus, FocusKind, Row
from mcp_server.exports.guard import ExportUrlPolicy
from mcp_server.exports.index import SUMMARY_FILE, IndexBuilder
from mcp_server.exports.parallel import ParseWorker, SegmentedParse
from mcp_server.exports.query import Filters, Position, decode_cursor, encode_cursor, iter_rows
from mcp_server.exports.summary import Reading, SessionSummary, encode_summary
from mcp_server.settings import Settings

logger = logging.getLogger(__name__)

Progress = Callable[[int, float], Awaitable[None]]  # (bytes read so far, seconds elapsed)
_PROGRESS_EVERY = 1.0  # seconds
_NO_WORKER = ParseWorker(enabled=False)  # a sync's reads: many at once on one core each
_TRANSPORT_MODULE = "mcp_server.exports.guarded_transport"


@dataclass(frozen=True)
class Opened:
    entry: Entry
    summary: SessionSummary
    from_cache: bool
    seconds: float


@dataclass(frozen=True)
class PendingEntry:
    """A summary read but not cached yet; ``commit`` (blocking file I/O) writes its summary-only entry."""

    cache: ExportCache
    key: str
    summary_bytes: bytes
    extra: dict[str, Any]

    def commit(self) -> None:
        self.cache.commit_summary_only(self.key, self.summary_bytes, self.extra)


@dataclass(frozen=True)
class Page:
    """One page of a listing: up to ``limit`` matching rows, each with the position after it."""

    opened: Opened
    kind: FocusKind
    listing: str  # the file paged through ("error_groups" for distinct errors)
    filters: Filters
    start: Position
    rows: list[tuple[Row, Position]]
    more_after: bool  # matching rows follow the last one here
    total: int | None  # rows in the listing (None when filtered: unknown without reading it all)

    @property
    def grouped(self) -> bool:
        return self.listing != self.kind.name

    def cursor(self, after: Position | None) -> str:
        """The cursor that resumes after ``after`` (or at this page's start)."""
        return encode_cursor(self.opened.entry, self.listing, self.filters, after or self.start)


class ExportReader:
    """Owns the export client (no credentials, guarded connections) and the index cache."""

    def __init__(self, settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        self.policy = ExportUrlPolicy.from_entries(settings.export_allowed_hosts)
        root = Path(settings.cache_dir).expanduser() if settings.cache_dir else default_cache_dir()
        self.cache = ExportCache(root, max_bytes=settings.cache_max_bytes, max_age=settings.cache_max_age_hours * 3600)
        self.limits = DownloadLimits(
            max_bytes=settings.export_max_bytes,
            time_budget=settings.export_time_budget,
            retry_delay=settings.retry_base_delay,
        )
        self._settings = settings
        self._transport = transport
        self._client: httpx2.AsyncClient | None = None
        self._locks: dict[str, anyio.Lock] = {}
        self._worker = ParseWorker(enabled=settings.export_parse_workers > 0)
        if transport is None and _TRANSPORT_MODULE not in sys.modules:
            # The export transport's imports (httpcore's backends: tens of ms) are left out of start-up; load
            # them now, beside it, so the first read does not wait for them either. Not a daemon thread:
            # exiting waits for an import under way rather than cutting it off.
            threading.Thread(target=importlib.import_module, args=(_TRANSPORT_MODULE,), name="warm-exports").start()

    @property
    def client(self) -> httpx2.AsyncClient:
        # Made on first use, once per process (TLS material is loaded only for the first https export).
        if self._client is None:
            if self._transport is not None:
                self._client = httpx2.AsyncClient(transport=self._transport, follow_redirects=False)
            else:
                self._client = export_client(
                    self.policy,
                    connect_timeout=self._settings.connect_timeout,
                    read_timeout=self._settings.read_timeout,
                )
        return self._client

    async def expect_reads(self) -> None:
        """Exports are about to be read (they were just listed): start the parse worker now, so that it is
        ready for the first large one."""
        await self._worker.start()

    async def aclose(self) -> None:
        await self._worker.aclose()
        if self._client is not None:
            await self._client.aclose()

    async def open(self, url: str, progress: Progress | None = None) -> Opened:
        """The index for ``url``: from the cache when a sound entry exists, else built now (and cached).

        Any entry serves a digest, a summary-only one (a sync's) included; ``page`` reads that one again in full.
        """
        return await self._open(url, progress, listings=False)

    async def read_summary(self, url: str) -> tuple[SessionSummary, PendingEntry | None]:
        """The summary for ``url`` (a sync's read): from the cache when a sound entry exists, else read now.

        A summary read now is not cached yet: the ``PendingEntry`` writes it, and a sync writes a batch of
        them from a worker thread. Creating a file costs a few system calls (up to a millisecond each on a
        busy disk), which the event loop would otherwise wait for once per export.
        """
        self.policy.check_url(url)
        key = self.cache.key(url)
        cached = self._cached(key, listings=False)
        if cached is not None:
            return cached[1], None
        summary, summary_bytes, extra = await self._parse(url, IndexBuilder(None), None)
        return summary, PendingEntry(self.cache, key, summary_bytes, extra)

    async def _open(self, url: str, progress: Progress | None, *, listings: bool) -> Opened:
        self.policy.check_url(url)
        key = self.cache.key(url)
        lock = self._locks.setdefault(key, anyio.Lock())
        try:
            async with lock:  # two reads of one export at once download it once
                started = time.monotonic()
                cached = self._cached(key, listings=listings)
                if cached is not None:
                    return Opened(*cached, True, time.monotonic() - started)
                entry, summary = await self._build(url, key, progress)
                return Opened(entry, summary, False, time.monotonic() - started)
        finally:
            if not lock.locked() and not lock.statistics().tasks_waiting:
                self._locks.pop(key, None)  # held for reads under way only: a sync opens thousands of exports

    async def page(
        self,
        url: str,
        focus: Focus,
        *,
        query: str | None = None,
        start: str | int | None = None,
        end: str | int | None = None,
        cursor: str | None = None,
        limit: int = 200,
        progress: Progress | None = None,
    ) -> Page:
        """Up to ``limit`` rows of one listing. A cached entry found damaged is dropped and read again, once."""
        opened = await self._open(url, progress, listings=True)
        try:
            return self._page(opened, focus, query, start, end, cursor, limit)
        except CorruptEntry as exc:
            # Damaged on disk since it was written: never serve it; read the export again, once.
            self.forget(url, str(exc))
            opened = await self._open(url, progress, listings=True)
            if cursor is not None:
                raise InputError(
                    "The cached copy of this export was damaged and has been re-read, so earlier cursors no longer "
                    "apply: call again without cursor to start over."
                ) from None
            return self._page(opened, focus, query, start, end, cursor, limit)

    def _page(
        self,
        opened: Opened,
        focus: Focus,
        query: str | None,
        start: str | int | None,
        end: str | int | None,
        cursor: str | None,
        limit: int,
    ) -> Page:
        kind = FOCUS_KINDS[focus]
        filters = Filters.resolve(query, start, end, opened.summary.first_ms)
        listing = kind.listing_file(filtered=filters.active)
        position = decode_cursor(cursor, opened.entry, listing, filters) if cursor else Position()
        rows: list[tuple[Row, Position]] = []
        more_after = False
        for found in iter_rows(self.cache, opened.entry, listing, filters, position):
            if len(rows) == limit:
                more_after = True
                break
            rows.append(found)
        total = None if filters.active else opened.summary.items.get(listing)
        return Page(opened, kind, listing, filters, position, rows, more_after, total)

    def _cached(self, key: str, *, listings: bool) -> tuple[Entry, SessionSummary] | None:
        """A sound cached entry and its summary (one with the listings when ``listings``); a damaged one is
        dropped, so that the caller reads the export again."""
        entry = self.cache.lookup(key)
        if entry is None or not self._reusable(entry) or (listings and entry.summary_only):
            return None
        try:
            return entry, entry.summary()
        except CorruptEntry as exc:
            self.cache.drop(key, str(exc))
            return None

    def forget(self, url: str, why: str) -> None:
        self.cache.drop(self.cache.key(url), why)

    def _reusable(self, entry: Entry) -> bool:
        if entry.manifest.get("transient"):
            return False  # the last read broke off; try the whole file again
        # A read cut by a smaller byte cap than today's is read again, further.
        return not entry.manifest.get("byte_cap_hit") or entry.manifest.get("max_bytes", 0) >= self.limits.max_bytes

    async def _build(self, url: str, key: str, progress: Progress | None) -> tuple[Entry, SessionSummary]:
        scratch = self.cache.scratch()
        try:
            builder = IndexBuilder(scratch)
            summary, summary_bytes, extra = await self._parse(url, builder, progress, parallel=True)
            (scratch / SUMMARY_FILE).write_bytes(summary_bytes)
            files = builder.file_facts()
            files[SUMMARY_FILE] = (len(summary_bytes), zlib.crc32(summary_bytes))
            return self.cache.commit(scratch, key, files, extra), summary
        except BaseException:
            self.cache.discard(scratch)
            raise

    async def _parse(
        self, url: str, builder: IndexBuilder, progress: Progress | None, *, parallel: bool = False
    ) -> tuple[SessionSummary, bytes, dict[str, Any]]:
        """Download and parse the export into ``builder`` (on two cores when ``parallel`` and it is large): its
        summary, encoded, and the cache entry's notes."""
        stats = Reading(max_bytes=self.limits.max_bytes, time_budget=self.limits.time_budget)
        began = last_report = time.monotonic()
        deadline = began + self.limits.time_budget
        worker = self._worker if parallel else _NO_WORKER
        parse = SegmentedParse(builder, worker, stats, deadline)
        async with (
            parse.running(),
            aclosing(stream_blocks(self.client, url, self.policy, self.limits, stats)) as blocks,
        ):
            async for block in blocks:
                if not await parse.add(block):
                    break
                now = time.monotonic()
                if progress is not None and now - last_report >= _PROGRESS_EVERY:
                    last_report = now
                    await progress(stats.bytes, now - began)
            else:
                await parse.finish()
        summary = builder.finish(stats, transfer_complete=stats.complete)
        extra = {
            "byte_cap_hit": stats.byte_cap_hit,
            "max_bytes": self.limits.max_bytes,
            "transient": stats.transfer_error is not None or stats.time_budget_hit,
            "secret": secrets.token_hex(16),  # keys the MACs of this entry's cursors
        }
        return summary, encode_summary(summary), extra
