"""Turn an export URL into an indexed, cached export: download, parse, index, cache; or reuse the cache."""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx2
import orjson

from mcp_server.exports.cache import Entry, ExportCache, default_cache_dir
from mcp_server.exports.download import DownloadLimits, ReadStats, export_client, stream_lines
from mcp_server.exports.guard import ExportUrlPolicy
from mcp_server.exports.index import SUMMARY_FILE, IndexBuilder
from mcp_server.settings import Settings

logger = logging.getLogger(__name__)

Progress = Callable[[int, float], Awaitable[None]]  # (bytes read so far, seconds elapsed)
_PROGRESS_EVERY = 1.0  # seconds


@dataclass(frozen=True)
class Opened:
    entry: Entry
    summary: dict[str, Any]
    from_cache: bool
    seconds: float


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

    @property
    def client(self) -> httpx2.AsyncClient:
        # Made on first use: building TLS contexts is the costliest part of server start-up.
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

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def open(self, url: str, progress: Progress | None = None) -> Opened:
        """The index for ``url``: from the cache when a sound entry exists, else built now (and cached)."""
        self.policy.check_url(url)
        key = self.cache.key(url)
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:  # two reads of one export at once download it once
            started = time.monotonic()
            self.cache.root.mkdir(parents=True, exist_ok=True)
            entry = self.cache.lookup(key)
            if entry is not None and self._reusable(entry):
                return Opened(entry, entry.summary(), True, time.monotonic() - started)
            entry = await self._build(url, key, progress)
            return Opened(entry, entry.summary(), False, time.monotonic() - started)

    def forget(self, url: str, why: str) -> None:
        self.cache.drop(self.cache.key(url), why)

    def _reusable(self, entry: Entry) -> bool:
        if entry.manifest.get("transient"):
            return False  # the last read broke off; try the whole file again
        # A read cut by a smaller byte cap than today's is read again, further.
        return not entry.manifest.get("byte_cap_hit") or entry.manifest.get("max_bytes", 0) >= self.limits.max_bytes

    async def _build(self, url: str, key: str, progress: Progress | None) -> Entry:
        scratch = self.cache.scratch()
        try:
            builder = IndexBuilder(scratch)
            stats = ReadStats()
            began = last_report = time.monotonic()
            async for batch in stream_lines(self.client, url, self.policy, self.limits, stats):
                builder.feed(batch)
                now = time.monotonic()
                if progress is not None and now - last_report >= _PROGRESS_EVERY:
                    last_report = now
                    await progress(stats.bytes, now - began)
                await anyio.lowlevel.checkpoint()  # let other requests run between batches
            summary = builder.finish(
                {**asdict(stats), "max_bytes": self.limits.max_bytes, "time_budget": self.limits.time_budget},
                transfer_complete=stats.complete,
            )
            summary_bytes = orjson.dumps(summary)
            (scratch / SUMMARY_FILE).write_bytes(summary_bytes)
            files = builder.file_facts()
            files[SUMMARY_FILE] = (len(summary_bytes), zlib.crc32(summary_bytes))
            transient = stats.transfer_error is not None or stats.time_budget_hit
            return self.cache.commit(
                scratch,
                key,
                files,
                {"byte_cap_hit": stats.byte_cap_hit, "max_bytes": self.limits.max_bytes, "transient": transient},
            )
        except BaseException:
            self.cache.discard(scratch)
            raise
