"""``session-replay-mcp sync`` and ``session-replay-mcp index stats | forget-user | drop``."""

from __future__ import annotations

import json
import time
from typing import TextIO

from mcp_server.adapters.logrocket import LogRocketClient
from mcp_server.exports.reader import ExportReader
from mcp_server.library.facts import names_user
from mcp_server.library.service import Library
from mcp_server.library.sync import Syncer, SyncOutcome, SyncProgress, in_thread
from mcp_server.settings import Settings
from mcp_server.timeparse import iso, now_ms

_BAR = 30


class ProgressPrinter:
    """A bar redrawn in place on a terminal; a plain line at most every few seconds otherwise."""

    def __init__(self, stream: TextIO, since_ms: int | None) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.since_ms = since_ms
        self.started = time.monotonic()
        self._last = 0.0

    def line(self, p: SyncProgress) -> str:
        rate = p.indexed / max(0.001, time.monotonic() - self.started)
        return (
            f"{p.indexed} indexed, {p.already} already indexed, {p.failed} failed, {p.pages} listing pages, "
            f"{p.bytes / 1e6:.1f} MB read, {rate:.1f} sessions/s"
        )

    async def __call__(self, p: SyncProgress) -> None:
        now = time.monotonic()
        if self.tty:
            if now - self._last < 0.1:
                return
            self._last = now
            fraction = 0.0
            if self.since_ms is not None and p.reached_ms is not None:
                fraction = min(1.0, max(0.0, (p.reached_ms - self.since_ms) / max(1, now_ms() - self.since_ms)))
            filled = int(fraction * _BAR)
            self.stream.write(f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {self.line(p)}\033[K")
            self.stream.flush()
        elif now - self._last >= 5:
            self._last = now
            self.stream.write(self.line(p) + "\n")
            self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


async def run_sync(
    settings: Settings, *, since_ms: int | None, until_ms: int | None, max_sessions: int | None, show: TextIO
) -> SyncOutcome:
    library = Library(settings)
    logrocket = LogRocketClient(settings)
    reader = ExportReader(settings)
    try:
        store = await in_thread(lambda: library.store)
        syncer = Syncer(
            store,
            logrocket,
            reader,
            concurrency=settings.sync_concurrency,
            retention_days=settings.index_retention_days,
            first_window_days=settings.sync_first_days,
        )
        position = await in_thread(store.position, str(logrocket.app))
        printer = ProgressPrinter(show, since_ms if since_ms is not None else position.window_from_ms)
        try:
            return await syncer.run(since_ms=since_ms, until_ms=until_ms, max_sessions=max_sessions, report=printer)
        finally:
            printer.finish()
    finally:
        await reader.aclose()
        await logrocket.aclose()
        library.close()


def describe(outcome: SyncOutcome) -> str:
    p = outcome.progress
    if outcome.status == "running":
        held = outcome.holder_progress or {}
        return (
            f"A sync of {outcome.app} is already running elsewhere (started "
            f"{iso(outcome.holder_started_ms) if outcome.holder_started_ms else '?'}; {held.get('indexed', 0)} "
            "sessions indexed so far). Try again when it has finished."
        )
    lines = [
        f"{'Synced' if outcome.status == 'done' else 'Stopped early (max-sessions)'} {outcome.app}: {p.indexed} new "
        f"sessions indexed, {p.already} already indexed, {p.failed} failed, {p.pages} listing pages, "
        f"{p.bytes / 1e6:.1f} MB read."
    ]
    for f in outcome.failures[:20]:
        lines.append(f"  failed: {f.session_id or '(no session id)'}: {f.reason}")
    if outcome.pruned:
        lines.append(f"{outcome.pruned} sessions past the retention period were removed.")
    if outcome.status != "done":
        lines.append("Run the same command again to continue where it stopped.")
    return "\n".join(lines)


def index_stats(settings: Settings) -> str:
    library = Library(settings)
    try:
        info = library.store.info()
    finally:
        library.close()
    lines = [
        f"Session index: {info['backend']} at {info['location']}",
        f"{info['sessions']} sessions, {info['bytes']:,} bytes"
        + (f" ({info['bytes'] // info['sessions']:,} bytes per session)" if info["sessions"] else ""),
    ]
    for a in info["apps"]:

        def at(ms: int | None) -> str:
            return iso(ms) if ms is not None else "?"

        lines.append(
            f"  {a['app']}: {a['sessions']} sessions started {at(a['first_started_ms'])} to "
            f"{at(a['last_started_ms'])}; synced from {at(a['window_from_ms'])} through "
            f"{at(a['synced_through_ms'])}; last sync {at(a['last_sync_ms'])}; {a['failures']} failed exports"
        )
    return "\n".join(lines)


def forget_user(settings: Settings, who: str) -> str:
    library = Library(settings)
    try:
        urls = library.store.forget_user(who)
    finally:
        library.close()
    reader = ExportReader(settings)
    for url in urls:
        reader.forget(url, "the user was forgotten")
    # Also exports of theirs cached under other links (or read without being indexed).
    cache = reader.cache
    for key in cache.entry_keys():
        entry = cache.lookup(key)
        if entry is not None and names_user(entry.summary(), who):
            cache.drop(key, "the user was forgotten")  # both forms of the entry, when there are two
    return (
        f"Forgot {json.dumps(who)}: deleted {len(urls)} indexed session{'s' if len(urls) != 1 else ''} and their "
        "cached exports. (LogRocket itself still holds the recordings.)"
    )


def drop(settings: Settings) -> str:
    library = Library(settings)
    store = library.store
    where = store.db.location
    store.drop()
    return f"Dropped the session index at {where}. The next sync or search creates it again, empty."
