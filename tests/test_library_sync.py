"""Syncing the session index: resumable, never twice, failures kept and retried, one sync per app, coverage."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
from mcp import Client

from mcp_server.adapters.logrocket import ExportPage, LogRocketClient
from mcp_server.errors import ConfigError
from mcp_server.exports.reader import ExportReader
from mcp_server.library.db import open_database
from mcp_server.library.model import SessionFacts
from mcp_server.library.store import SessionQuery, Store
from mcp_server.library.sync import Syncer, SyncProgress, export_key
from mcp_server.sandbox.app import Sandbox
from mcp_server.sandbox.faults import Fault
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.world import SandboxWorld
from mcp_server.settings import Settings
from tests import library_truth as bf
from tests.conftest import ANCHOR_MS, connect, text_of
from tests.library_backends import BACKENDS, index_url

pytestmark = pytest.mark.anyio
SINCE = ANCHOR_MS - 10 * bf.DAY_MS
PAGE = 25  # several listing pages per sync


@pytest.fixture(scope="module")
def small_world() -> Iterator[SandboxServer]:
    with SandboxServer(Sandbox(SandboxWorld(anchor_ms=ANCHOR_MS, highlights_delay=0.2, history=12))) as server:
        yield server


@pytest.fixture
def world(small_world: SandboxServer) -> Iterator[SandboxServer]:
    small_world.sandbox.faults.clear()
    small_world.sandbox.requests.clear()
    yield small_world
    small_world.sandbox.faults.clear()


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with index_url(request.param, tmp_path) as value:
        yield value


def settings_for(server: SandboxServer, url: str, cache: Path, **extra: Any) -> Settings:
    return server.settings(
        Settings(retry_base_delay=0.01, read_timeout=5.0, cache_dir=str(cache), index_url=url, **extra)
    )


class Worker:
    """What one server process holds: its own store connection, LogRocket client and export reader."""

    def __init__(self, settings: Settings, owner: str | None = None) -> None:
        self.store = Store(open_database(settings.index_url, Path("unused")))
        self.lr = LogRocketClient(settings)
        self.reader = ExportReader(settings)
        self.syncer = Syncer(self.store, self.lr, self.reader, concurrency=3, owner=owner, page_size=PAGE)

    async def close(self) -> None:
        await self.reader.aclose()
        await self.lr.aclose()
        self.store.close()


def snapshot(store: Store) -> list[tuple[Any, ...]]:
    """Everything indexed, minus what legitimately differs between runs (signing time, indexing time)."""
    rows = store.db.read(
        "SELECT app, session_id, listing_cursor, listing_date_ms, started_ms, ended_ms, user_key, pages, events, "
        "errors, failed_requests, custom_events FROM srm_sessions ORDER BY app, session_id"
    )
    children = [
        store.db.read(f"SELECT * FROM {t} ORDER BY app, session_id, 5")
        for t in ("srm_session_pages", "srm_session_errors", "srm_session_requests", "srm_session_events")
    ]
    return [*rows, *(tuple(r) for c in children for r in c)]


def downloads(server: SandboxServer) -> Counter[str]:
    return Counter(r.path for r in server.sandbox.requests.items() if r.path.startswith("/export-files/"))


def app_sessions(server: SandboxServer) -> int:
    app = server.world.app("acme", "web")
    assert app is not None
    return len(app.sessions)


async def full_sync(settings: Settings) -> list[tuple[Any, ...]]:
    worker = Worker(settings)
    try:
        outcome = await worker.syncer.run(since_ms=SINCE)
        assert outcome.status == "done"
        return snapshot(worker.store)
    finally:
        await worker.close()


async def test_a_sync_stopped_anywhere_and_run_again_ends_with_the_same_index(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    reference_url = str(tmp_path / "reference.db")
    expected = await full_sync(settings_for(world, reference_url, tmp_path / "c1"))
    world.sandbox.requests.clear()
    assert len([r for r in expected if len(r) == 12]) == app_sessions(world)
    settings = settings_for(world, url, tmp_path / "c2")
    # Stopped by max_sessions (mid-page), by the time budget, and killed (cancelled) at arbitrary points.
    # (A kill keeps what was read before it: the next page's reads too, which start before a page's last ones end.)
    stops: list[dict[str, Any]] = [{"max_sessions": 7}, {"time_budget": 0.0}, {"kill_after": 5}, {"max_sessions": 5}]
    worker = Worker(settings)
    try:
        for stop in stops:
            kill_after = stop.pop("kill_after", None)
            if kill_after is None:
                outcome = await worker.syncer.run(since_ms=SINCE, **stop)
                assert outcome.status == "partial"
                continue

            async def killer(p: SyncProgress, limit: int = kill_after) -> None:
                if p.indexed >= limit:
                    raise KillSync

            with pytest.raises(KillSync):  # raised as itself, not in an ExceptionGroup
                await worker.syncer.run(since_ms=SINCE, report=killer)
        outcome = await worker.syncer.run()
        assert outcome.status == "done"
        assert snapshot(worker.store) == expected
    finally:
        await worker.close()
    # Only reads the kill cut short (at most one per concurrent download) were made again.
    counts = downloads(world)
    assert len(counts) == app_sessions(world)
    assert max(counts.values()) <= 2 and sum(n - 1 for n in counts.values()) <= 3


class KillSync(Exception):
    pass


async def test_a_repeated_sync_downloads_nothing(world: SandboxServer, url: str, tmp_path: Path) -> None:
    settings = settings_for(world, url, tmp_path / "c")
    await full_sync(settings)
    world.sandbox.requests.clear()
    worker = Worker(settings)
    try:
        again = await worker.syncer.run(since_ms=SINCE)  # continues from the saved cursor: nothing new
        earlier = await worker.syncer.run(since_ms=SINCE - bf.DAY_MS)  # lists everything again
    finally:
        await worker.close()
    assert again.status == "done" and again.progress.indexed == 0
    assert earlier.status == "done" and earlier.progress.indexed == 0
    assert earlier.progress.already == app_sessions(world)
    assert downloads(world) == Counter()


async def test_two_syncs_at_once_index_nothing_twice(world: SandboxServer, url: str, tmp_path: Path) -> None:
    settings = settings_for(world, url, tmp_path / "c")
    one, two = Worker(settings, owner="worker-1"), Worker(settings, owner="worker-2")
    outcomes: dict[str, Any] = {}
    try:
        async with anyio.create_task_group() as tg:

            async def run(name: str, worker: Worker) -> None:
                outcomes[name] = await worker.syncer.run(since_ms=SINCE)

            tg.start_soon(run, "one", one)
            tg.start_soon(run, "two", two)
        # Whichever came second saw the other's lock and said so, or came after it had finished.
        statuses = sorted(o.status for o in outcomes.values())
        assert statuses in (["done", "running"], ["done", "done"])
        running = [o for o in outcomes.values() if o.status == "running"]
        assert all(o.holder_started_ms is not None for o in running)
        total = sum(o.progress.indexed for o in outcomes.values())
        assert total == app_sessions(world)
        assert len(one.store.find(SessionQuery(), after=None, limit=10_000)) == app_sessions(world)
    finally:
        await one.close()
        await two.close()
    assert max(downloads(world).values()) == 1


async def test_a_failed_export_is_recorded_with_its_reason_and_retried_by_the_next_sync(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    app = world.world.app("acme", "web")
    assert app is not None
    victim = app.sessions[3]
    world.sandbox.faults.add(Fault(kind="status", status=403, path=victim.recording_id, times=100))
    settings = settings_for(world, url, tmp_path / "c")
    async with connect(settings) as client:
        first = await client.call_tool("sync_sessions", {"since": SINCE})
        data = first.structured_content
        assert data is not None and data["failed"] == 1
        assert data["failures"][0]["session_id"] == victim.session_id
        assert "403" in data["failures"][0]["reason"]
        assert "will be retried by the next sync" in text_of(first)
        assert data["coverage"]["apps"][0]["failed_exports"] == 1
        world.sandbox.faults.clear()
        second = await client.call_tool("sync_sessions", {})
        data = second.structured_content
        assert data is not None and data["retried"] == 1 and data["indexed"] == 1 and data["failed"] == 0
        assert data["coverage"]["apps"][0]["failed_exports"] == 0
        found = await client.call_tool("find_sessions", {"user": victim.user.user_id, "limit": 100})
        assert found.structured_content is not None
        assert victim.session_id in [s["session_id"] for s in found.structured_content["sessions"]]


async def test_sync_sessions_stops_at_max_sessions_with_the_exact_call_that_continues(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    settings = settings_for(world, url, tmp_path / "c")
    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message or "")

    async with connect(settings) as client:
        first = await client.call_tool(
            "sync_sessions", {"since": SINCE, "max_sessions": 20}, progress_callback=on_progress
        )
        data = first.structured_content
        assert data is not None
        assert (data["done"], data["status"], data["indexed"]) == (False, "partial", 20)
        assert data["next_call"] == "sync_sessions(max_sessions=20)"
        assert "sync_sessions(max_sessions=20)" in text_of(first)
        assert seen and seen[-1].startswith("Indexed 20 new sessions")
        calls = 1
        while not data["done"]:
            result = await client.call_tool("sync_sessions", {"max_sessions": 20})
            data = result.structured_content
            assert data is not None
            calls += 1
        assert calls == -(-app_sessions(world) // 20) or calls == -(-app_sessions(world) // 20) + 1
        found = await client.call_tool("find_sessions", {"limit": 100})
        assert found.structured_content is not None
        assert found.structured_content["count"] == app_sessions(world)


async def test_the_time_budget_ends_a_call_with_done_false_and_the_call_that_continues(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    settings = settings_for(world, url, tmp_path / "c", sync_time_budget=0.001)
    async with connect(settings) as client:
        result = await client.call_tool("sync_sessions", {"since": SINCE, "until": ANCHOR_MS})
    data = result.structured_content
    assert data is not None and data["done"] is False
    assert data["next_call"] == 'sync_sessions(until="2026-11-18T11:06:40Z")'
    assert "time budget" in text_of(result)


async def test_an_empty_index_says_how_to_fill_it(world: SandboxServer, url: str, tmp_path: Path) -> None:
    async with connect(settings_for(world, url, tmp_path / "c")) as client:
        result = await client.call_tool("find_sessions", {"user": "jane@acme.com"})
        stats = await client.call_tool("session_stats", {"group_by": "errors", "since": "7d"})
    text = text_of(result)
    assert "the session index is empty" in text and 'sync_sessions(since="7d")' in text
    assert result.structured_content is not None
    assert result.structured_content["coverage"]["gaps"][0]["call"] == 'sync_sessions(since="7d")'
    assert "the session index is empty" in text_of(stats)


async def test_coverage_names_a_window_outside_the_index_with_the_call_that_fills_it(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    settings = settings_for(world, url, tmp_path / "c")
    async with connect(settings) as client:
        await client.call_tool("sync_sessions", {"since": ANCHOR_MS - 3 * bf.DAY_MS})
        result = await client.call_tool("find_sessions", {"since": "2026-11-01", "until": "2026-11-05"})
    data = result.structured_content
    assert data is not None
    cover = data["coverage"]
    assert cover["apps"][0]["app"] == "acme/web" and cover["sessions"] == cover["apps"][0]["sessions"] > 0
    assert cover["apps"][0]["synced_from"] == "2026-11-15T11:06:40Z"
    gap = cover["gaps"][0]
    assert gap["call"] == 'sync_sessions(since="2026-11-01T00:00:00Z")'
    assert f"call `{gap['call']}`" in text_of(result)


async def test_read_session_export_by_session_id_through_the_index(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    settings = settings_for(world, url, tmp_path / "c")
    app = world.world.app("acme", "web")
    assert app is not None
    async with connect(settings) as client:
        missing = await client.call_tool("read_session_export", {"session_id": app.sessions[0].session_id})
        assert missing.is_error and "not in the session index" in text_of(missing)
        await client.call_tool("sync_sessions", {"since": SINCE})
        target = app.sessions[5]
        result = await client.call_tool("read_session_export", {"session_id": target.session_id})
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None
        assert result.structured_content["session_id"] == target.session_id
        both = await client.call_tool("read_session_export", {"session_id": target.session_id, "url": "x" * 20})
        assert both.is_error and "exactly one" in text_of(both)


async def third_listed(client: Client) -> dict[str, Any]:
    """The third export list_exports lists: its session_id and url."""
    listing = await client.call_tool("list_exports", {"limit": 3})
    assert listing.structured_content is not None
    return dict(listing.structured_content["sessions"][2])


async def test_read_session_export_records_the_session_in_the_index(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    settings = settings_for(world, url, tmp_path / "c")
    async with connect(settings) as client:
        first = await third_listed(client)
        await client.call_tool("read_session_export", {"url": first["url"]})
        found = await client.call_tool("find_sessions", {})
    assert found.structured_content is not None
    assert [s["session_id"] for s in found.structured_content["sessions"]] == [first["session_id"]]


async def test_follow_up_reads_write_the_index_once_and_a_new_link_again(
    world: SandboxServer, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[str] = []
    for name in ("indexed", "put", "update_exports_url"):
        plain = getattr(Store, name)

        def counted(self: Store, *args: Any, _plain: Any = plain, _name: str = name) -> Any:
            writes.append(_name)
            return _plain(self, *args)

        monkeypatch.setattr(Store, name, counted)
    settings = settings_for(world, url, tmp_path / "c")
    async with connect(settings) as client:
        first = await third_listed(client)
        await client.call_tool("read_session_export", {"url": first["url"]})
        assert writes == ["indexed", "put"]
        for focus in (None, "network", "errors"):
            args = {"url": first["url"], **({"focus": focus} if focus else {})}
            assert not (await client.call_tool("read_session_export", args)).is_error
        assert writes == ["indexed", "put"]  # the same link, already recorded by this server
        # Signed again (the cache's key leaves the signature out, so this is answered from the cache): the index
        # must learn the new link, which is the one that works from now on.
        resigned = first["url"].replace("X-Goog-Signature=", "X-Goog-Signature=0")
        again = await client.call_tool("read_session_export", {"url": resigned})
        assert again.structured_content is not None and again.structured_content["reading"]["from_cache"]
        assert writes == ["indexed", "put", "indexed", "update_exports_url"]
    store = Store(open_database(url, tmp_path))
    try:
        found = store.export_of(first["session_id"])
    finally:
        store.close()
    assert found is not None and found[1].url == resigned


# Every stored link expired, with a signature that no longer matches: a download of it would be refused. The
# signature is not part of the export cache's key, so the cache still knows the file.
EXPIRE_AND_SPOIL = (
    "UPDATE srm_sessions SET url_expires_ms = 1, "
    "export_url = replace(export_url, 'X-Goog-Signature=', 'X-Goog-Signature=spoiled')"
)


async def test_an_expired_link_is_answered_from_the_cache_or_listed_again(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    settings = settings_for(world, url, tmp_path / "c")
    app = world.world.app("acme", "web")
    assert app is not None
    target = app.sessions[30]
    async with connect(settings) as client:
        await client.call_tool("sync_sessions", {"since": SINCE})
    store = Store(open_database(url, tmp_path))
    try:
        with store.db.transaction() as tx:
            tx.execute(EXPIRE_AND_SPOIL)
        world.sandbox.requests.clear()
        async with connect(settings) as client:  # the sync's reads are in this cache
            cached = await client.call_tool("read_session_export", {"session_id": target.session_id})
        assert cached.structured_content is not None and cached.structured_content["reading"]["from_cache"] is True
        assert downloads(world) == Counter() and not world.sandbox.requests.items()
        with store.db.transaction() as tx:  # (reading it stored the link again, with the expiry it names)
            tx.execute(EXPIRE_AND_SPOIL)
        fresh_cache = settings.with_overrides(cache_dir=str(tmp_path / "other-cache"))
        async with connect(fresh_cache) as client:
            relisted = await client.call_tool("read_session_export", {"session_id": target.session_id})
        assert not relisted.is_error, text_of(relisted)
        assert next(r.path for r in world.sandbox.requests.items()).endswith("/data-export/")
        assert sum(downloads(world).values()) == 1
        ref = store.export_of(target.session_id)
        assert ref is not None and "X-Goog-Signature=spoiled" not in ref[1].url and (ref[1].expires_ms or 0) > ANCHOR_MS
    finally:
        store.close()


async def test_retention_prunes_old_sessions(world: SandboxServer, url: str, tmp_path: Path) -> None:
    settings = settings_for(world, url, tmp_path / "c")
    worker = Worker(settings)
    try:
        await worker.syncer.run(since_ms=SINCE)
        everything = worker.store.find(SessionQuery(), after=None, limit=10_000)
        cutoff = sorted(r.started_ms for r in everything)[len(everything) // 2]
        assert worker.store.prune(cutoff) == len([r for r in everything if r.started_ms < cutoff])
        left = worker.store.find(SessionQuery(), after=None, limit=10_000)
        assert left and min(r.started_ms for r in left) >= cutoff
        assert worker.store.coverage().sessions == len(left)
        assert worker.store.stats("errors", SessionQuery(until_ms=cutoff), limit=10) == []
        # Coverage no longer claims the pruned window: it starts at the cutoff, with the first session kept.
        cover = worker.store.coverage().apps[0]
        assert cover.window_from_ms == cutoff
        assert cover.first_started_ms == min(r.started_ms for r in left)
    finally:
        await worker.close()


async def test_forget_user_deletes_everything_about_them(world: SandboxServer, url: str, tmp_path: Path) -> None:
    settings = settings_for(world, url, tmp_path / "c")
    worker = Worker(settings)
    try:
        await worker.syncer.run(since_ms=SINCE)
        before = worker.store.find(SessionQuery(user="jane@acme.com"), after=None, limit=1000)
        assert before
        urls = worker.store.forget_user("JANE@acme.com")
        assert len(urls) == len(before)
        assert worker.store.find(SessionQuery(user="jane"), after=None, limit=1000) == []
        everyone = worker.store.find(SessionQuery(), after=None, limit=10_000)
        assert worker.store.coverage().sessions == len(everyone) == app_sessions(world) - len(before)
        assert worker.store.stats("users", SessionQuery(user="jane@acme.com"), limit=5) == []
        people = worker.store.db.read("SELECT COUNT(*) FROM srm_users WHERE email_fold = 'jane@acme.com'")
        assert people[0][0] == 0
        cover = worker.store.coverage().apps[0]
        assert (cover.first_started_ms, cover.last_started_ms) == (
            min(r.started_ms for r in everyone),
            max(r.started_ms for r in everyone),
        )
    finally:
        await worker.close()


async def test_a_server_started_with_sync_on_start_fills_its_index_in_the_background(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    settings = settings_for(world, url, tmp_path / "c", sync_on_start=True, sync_first_days=40.0)
    async with connect(settings) as client:
        for _ in range(600):  # the promise, not a speed: the background sync ends, and its sessions are found
            result = await client.call_tool("find_sessions", {"limit": 1})
            data = result.structured_content
            assert data is not None
            apps = data["coverage"]["apps"]
            if apps and apps[0]["synced_through"] and not apps[0]["sync_running"]:
                break
            await anyio.sleep(0.1)
        assert data["coverage"]["sessions"] > 0 and data["count"] == 1


def test_sync_every_reads_durations() -> None:
    from mcp_server.__main__ import _parser, read_settings
    from mcp_server.errors import ConfigError

    def every(text: str) -> float:
        return Settings.from_env({"SESSION_REPLAY_MCP_SYNC_EVERY": text}).sync_every

    assert every("15m") == 900 and every("1h") == 3600 and every("90") == 90 and every("900") == 900
    assert read_settings(_parser().parse_args(["serve", "--sync-every", "15m"]))[0].sync_every == 900
    with pytest.raises(ConfigError, match="not a duration"):
        every("soon")


def test_index_urls_name_sqlite_files_or_postgresql_and_refuse_anything_else(tmp_path: Path) -> None:
    from mcp_server.errors import ConfigError
    from mcp_server.library.db import SqliteDatabase

    for value in (f"sqlite:///{tmp_path}/a.db", str(tmp_path / "b.db")):
        db = open_database(value, tmp_path / "default.db")
        assert isinstance(db, SqliteDatabase) and db.path.parent == tmp_path
        db.close()
    default = open_database(None, tmp_path / "deep" / "default.db")
    assert default.location == str(tmp_path / "deep" / "default.db")
    assert (tmp_path / "deep").stat().st_mode & 0o777 == 0o700
    default.close()
    with pytest.raises(ConfigError, match=r"must be a sqlite:////path\.db URL, a file path or a postgresql:// URL"):
        open_database("mysql://db/x", tmp_path / "d.db")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot be created"):
        open_database(str(blocker / "index.db"), tmp_path / "d.db")


async def test_an_index_that_cannot_be_opened_is_a_clear_tool_error(world: SandboxServer, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    async with connect(settings_for(world, str(blocker / "index.db"), tmp_path / "c")) as client:
        result = await client.call_tool("find_sessions", {"user": "jane@acme.com"})
    assert result.is_error
    assert "cannot be created" in text_of(result) and "SESSION_REPLAY_MCP_INDEX_URL" in text_of(result)


def test_drop_removes_the_index_and_the_next_use_creates_it_empty(url: str, tmp_path: Path) -> None:
    store = Store(open_database(url, tmp_path))
    store.put_many([], 0)
    store.save_position("acme/web", store.position("acme/web"))
    assert store.coverage().apps
    store.drop()
    again = Store(open_database(url, tmp_path))
    try:
        assert again.coverage().apps == []
    finally:
        again.close()


def test_settings_for_the_index_are_checked() -> None:
    from mcp_server.errors import ConfigError

    with pytest.raises(ConfigError, match="SESSION_REPLAY_MCP_INDEX_RETENTION_DAYS must be a number of days"):
        Settings.from_env({"SESSION_REPLAY_MCP_INDEX_RETENTION_DAYS": "soon"})
    with pytest.raises(ConfigError, match="SESSION_REPLAY_MCP_SYNC_EVERY must be 0 \\(off\\) or at least 60"):
        Settings.from_env({"SESSION_REPLAY_MCP_SYNC_EVERY": "5"})
    secret = Settings.from_env({"SESSION_REPLAY_MCP_INDEX_URL": "postgresql://srm:hunter22@db.internal/idx"})
    assert "hunter22" in secret.secrets


def test_a_name_fragment_shared_by_hundreds_of_people_finds_all_their_sessions(url: str, tmp_path: Path) -> None:
    from mcp_server.library.model import ExportRef, SessionFacts

    store = Store(open_database(url, tmp_path))
    try:
        facts = [
            SessionFacts(
                app="acme/web",
                session_id=f"1-{n:08d}-0000-4000-8000-000000000000/0",
                export=ExportRef(f"https://x.example/{n}.jsonl", None, None, None),
                started_ms=ANCHOR_MS - n * 1000,
                ended_ms=ANCHOR_MS - n * 1000 + 500,
                user_id=f"u-{n}",
                user_name=f"Common Person {n}" if n % 2 == 0 else f"Rare Person {n}",
            )
            for n in range(1400)
        ]
        store.put_many(facts, ANCHOR_MS)
        found = store.find(SessionQuery(user="COMMON"), after=None, limit=10_000)  # 700 people: the subquery path
        assert [r.session_id for r in found] == [
            f.session_id for f in facts if (f.user_name or "").startswith("Common")
        ]
        few = store.find(SessionQuery(user="rare person 13"), after=None, limit=10_000)  # 13, 131, 133, ...: a list
        assert {r.user_id for r in few} == {f"u-{n}" for n in range(1400) if n % 2 and str(n).startswith("13")}
    finally:
        store.close()


async def test_recorded_values_stay_inert_in_answers(world: SandboxServer, url: str, tmp_path: Path) -> None:
    from mcp_server.library.model import ErrorFact, ExportRef, SessionFacts

    store = Store(open_database(url, tmp_path))
    hostile = "Eve | [click me](https://evil.example) \u202e<script>\n# heading"
    store.put_many(
        [
            SessionFacts(
                app="acme/web",
                session_id="1-00000000-0000-4000-8000-000000000001/0",
                export=ExportRef("https://x.example/1.jsonl", None, None, None),
                started_ms=ANCHOR_MS,
                ended_ms=ANCHOR_MS + 1000,
                user_id="u-evil",
                user_name=hostile,
                user_email="eve@evil.example",
                error_list=(ErrorFact("Error`|", hostile, 1, 0, None),),
            )
        ],
        ANCHOR_MS,
    )
    store.close()
    async with connect(settings_for(world, url, tmp_path / "c")) as client:
        found = text_of(await client.call_tool("find_sessions", {"user": "eve@evil.example"}))
        ranked = text_of(await client.call_tool("session_stats", {"group_by": "errors", "user": "u-evil"}))
    for text in (found, ranked):
        assert "\u202e" not in text and "\n# heading" not in text  # controls removed, one line per value
    row = next(line for line in found.splitlines() if "evil" in line and line.startswith("|"))
    assert r"`Eve \| [click me](https://evil.example) <script> # heading`" in row  # a code span: inert
    row = next(line for line in ranked.splitlines() if "evil" in line and line.startswith("|"))
    assert r"`Eve \| [click me](https://evil.example) <script> # heading`" in row  # a code span: inert


async def test_paging_with_a_relative_since_continues_with_the_exact_printed_call(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    settings = settings_for(world, url, tmp_path / "c")
    async with connect(settings) as client:
        await client.call_tool("sync_sessions", {"since": SINCE})
        first = await client.call_tool("find_sessions", {"since": "400d", "until": "1h", "limit": 2})
        data = first.structured_content
        assert data is not None and data["next_cursor"]
        # "400d" means another instant on every call: the printed call carries the instant it meant.
        printed = re.search(
            r'find_sessions\(since="([^"]+)", until="([^"]+)", limit=2, cursor="([^"]+)"\)', text_of(first)
        )
        assert printed is not None, text_of(first)
        since, until, cursor = printed.groups()
        assert cursor == data["next_cursor"]
        second = await client.call_tool("find_sessions", {"since": since, "until": until, "limit": 2, "cursor": cursor})
        assert not second.is_error, text_of(second)
        assert second.structured_content is not None and second.structured_content["count"] == 2
        assert {s["session_id"] for s in second.structured_content["sessions"]}.isdisjoint(
            s["session_id"] for s in data["sessions"]
        )


async def test_a_sync_with_until_leaves_the_later_sessions_to_the_next_sync(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    settings = settings_for(world, url, tmp_path / "c")
    worker = Worker(settings)
    try:
        first = await worker.syncer.run(since_ms=SINCE, until_ms=ANCHOR_MS - 4 * bf.DAY_MS)
        assert first.status == "done"
        early = len(worker.store.find(SessionQuery(), after=None, limit=10_000))
        assert 0 < early < app_sessions(world)
        again = await worker.syncer.run()  # continues where the first stopped: nothing past until is lost
        assert again.status == "done"
        assert len(worker.store.find(SessionQuery(), after=None, limit=10_000)) == app_sessions(world)
    finally:
        await worker.close()


async def test_forgetting_the_user_of_the_first_session_moves_coverage_to_the_next(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    worker = Worker(settings_for(world, url, tmp_path / "c"))
    try:
        await worker.syncer.run(since_ms=SINCE)
        everything = worker.store.find(SessionQuery(), after=None, limit=10_000)
        first = min(everything, key=lambda r: r.started_ms)
        assert first.user_id is not None
        worker.store.forget_user(first.user_id)
        left = worker.store.find(SessionQuery(), after=None, limit=10_000)
        assert left and first.session_id not in {r.session_id for r in left}
        assert worker.store.coverage().first_started_ms == min(r.started_ms for r in left)
    finally:
        await worker.close()


class Stalled:
    """An export reader whose reads wait until released: exports slower than the lock's lease."""

    def __init__(self, reader: ExportReader) -> None:
        self.reader = reader
        self.release = anyio.Event()

    async def read_summary(self, url: str) -> Any:
        await self.release.wait()
        return await self.reader.read_summary(url)

    @property
    def cache(self) -> Any:
        return self.reader.cache


def lock_until(store: Store) -> int | None:
    rows = store.db.read("SELECT lock_until_ms FROM srm_sync_state WHERE app = 'acme/web'")
    return rows[0][0] if rows else None


async def test_the_sync_lock_is_renewed_while_exports_are_slow_and_given_up_when_taken(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    worker = Worker(settings_for(world, url, tmp_path / "c"))
    stalled = Stalled(worker.reader)
    worker.syncer = Syncer(
        worker.store, worker.lr, cast(ExportReader, stalled), concurrency=3, page_size=PAGE, lease_ms=400
    )
    outcome: list[Any] = []
    try:
        async with anyio.create_task_group() as tasks:

            async def sync() -> None:
                outcome.append(await worker.syncer.run(since_ms=SINCE))

            tasks.start_soon(sync)
            with anyio.fail_after(60):  # a guard against hanging, not a measured speed
                first = None
                while first is None:
                    await anyio.sleep(0.01)
                    first = lock_until(worker.store)
                # Every read is waiting, yet the lease is extended: no other worker can take the lock.
                while True:
                    await anyio.sleep(0.01)
                    if (lock_until(worker.store) or 0) > first:
                        break
                # Another worker takes it anyway (say this one was paused past its lease): this one stops writing.
                with worker.store.db.transaction() as tx:
                    tx.execute("UPDATE srm_sync_state SET lock_owner = 'other' WHERE app = 'acme/web'")
                stalled.release.set()
        assert outcome[0].status == "running" and outcome[0].progress.failed == 0  # the reads stalled, not failed
        assert worker.store.find(SessionQuery(), after=None, limit=10) == []
        held = worker.store.db.read("SELECT lock_owner FROM srm_sync_state WHERE app = 'acme/web'")
        assert held == [("other",)]
    finally:
        await worker.close()


async def test_an_index_that_fails_while_a_page_is_saved_is_a_clear_error_and_the_next_sync_goes_on(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    worker = Worker(settings_for(world, url, tmp_path / "c"))
    real = worker.store.save_position
    calls = 0

    def failing(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the cursor after the first page (the first call saved the window)
            raise sqlite3.OperationalError("database is locked")
        real(*args, **kwargs)

    worker.store.save_position = failing  # type: ignore[method-assign]
    try:
        # Raised as itself (the tool shows what it says), not inside an ExceptionGroup.
        with pytest.raises(ConfigError, match=r"could not be read or written .*database is locked"):
            await worker.syncer.run(since_ms=SINCE)
        outcome = await worker.syncer.run()
        assert outcome.status == "done"
        assert len(worker.store.find(SessionQuery(), after=None, limit=10_000)) == app_sessions(world)
    finally:
        await worker.close()


async def first_two_pages(worker: Worker) -> tuple[ExportPage, ExportPage]:
    """The first two listing pages a sync from SINCE reads."""
    first = await worker.lr.list_exports(cursor=None, limit=PAGE, date_ms=SINCE)
    return first, await worker.lr.list_exports(cursor=first.cursor, limit=PAGE, date_ms=None)


class OneStalledOneBroken:
    """Reads the first export listed forever (until cancelled) and fails the ``broken`` one; reads the rest."""

    def __init__(self, reader: ExportReader) -> None:
        self.reader = reader
        self.stalled: str | None = None
        self.broken: str | None = None
        self.reads: Counter[str] = Counter()

    @property
    def cache(self) -> Any:
        return self.reader.cache

    async def read_summary(self, url: str) -> Any:
        key = export_key(url)[0]
        self.reads[key] += 1
        if key == self.stalled:
            await anyio.sleep_forever()
        if key == self.broken:
            raise RuntimeError("this export is broken")
        return await self.reader.read_summary(url)


async def test_an_export_retried_by_a_sync_is_not_read_again_when_a_page_lists_it(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    worker = Worker(settings_for(world, url, tmp_path / "c"))
    listing, later = await first_two_pages(worker)
    reader = OneStalledOneBroken(worker.reader)
    # The first page never finishes, so its cursor is never saved; the second page's export fails.
    reader.stalled, reader.broken = export_key(listing.files[0].url)[0], export_key(later.files[0].url)[0]
    worker.syncer = Syncer(worker.store, worker.lr, cast(ExportReader, reader), concurrency=3, page_size=PAGE)

    async def stop_once_it_failed(progress: SyncProgress) -> None:
        if progress.failed:  # the broken export is recorded: stop there (the first page still unfinished)
            raise KillSync

    try:
        with anyio.fail_after(60), pytest.raises(KillSync):  # a guard against hanging, not a measured speed
            await worker.syncer.run(since_ms=SINCE, report=stop_once_it_failed)
        assert reader.reads[reader.broken] == 1
        reader.stalled = None
        reader.reads.clear()
        # The next sync retries the failed export first, then lists both pages again: it reads that one once.
        again = await worker.syncer.run()
        assert again.status == "done" and again.progress.retried == 1
        assert reader.reads[reader.broken] == 1
        assert max(reader.reads.values()) == 1
    finally:
        await worker.close()


class PageEnds:
    """Holds the last export of the first page until the second page's others are read, and the second
    page's first export until the first page's cursor is being saved."""

    def __init__(self, reader: ExportReader, held: str, late: str, second_page: set[str]) -> None:
        self.reader, self.held, self.late, self.second_page = reader, held, late, second_page
        self.read: set[str] = set()
        self.others_read = anyio.Event()
        self.saving_first = threading.Event()
        self.late_read = threading.Event()

    @property
    def cache(self) -> Any:
        return self.reader.cache

    async def read_summary(self, url: str) -> Any:
        key = export_key(url)[0]
        if key == self.held:
            await self.others_read.wait()
        if key == self.late:
            await anyio.to_thread.run_sync(self.saving_first.wait, 30)
        result = await self.reader.read_summary(url)
        self.read.add(key)
        if len(self.read & self.second_page) >= len(self.second_page) - 1:
            self.others_read.set()
        if key == self.late:
            self.late_read.set()
        return result


async def test_a_page_that_ends_while_an_earlier_one_is_saved_keeps_its_cursor_until_it_is_stored(
    world: SandboxServer, url: str, tmp_path: Path
) -> None:
    worker = Worker(settings_for(world, url, tmp_path / "c"))
    first, second = await first_two_pages(worker)
    late = export_key(second.files[0].url)[0]
    reader = PageEnds(
        worker.reader, export_key(first.files[-1].url)[0], late, {export_key(f.url)[0] for f in second.files}
    )
    worker.syncer = Syncer(worker.store, worker.lr, cast(ExportReader, reader), concurrency=3, page_size=PAGE)
    real_save, real_put = worker.store.save_position, worker.store.put_many
    early: list[str] = []

    def save_position(app: str, position: Any) -> None:
        if position.cursor == first.cursor:
            reader.saving_first.set()
            reader.late_read.wait(30)  # the second page's last read ends while this is saved
        if position.cursor == second.cursor and not worker.store.indexed(app, [late]):
            early.append("the second page's cursor was saved before its last export was stored")
        real_save(app, position)

    def put_many(batch: Sequence[SessionFacts], now_ms: int) -> None:
        if any(f.session_id == late for f in batch):
            raise sqlite3.OperationalError("database is locked")  # that export's batch fails, once
        real_put(batch, now_ms)

    worker.store.save_position = save_position  # type: ignore[method-assign]
    worker.store.put_many = put_many  # type: ignore[method-assign]
    try:
        with anyio.fail_after(60):  # a guard against hanging, not a measured speed
            with pytest.raises(ConfigError):
                await worker.syncer.run(since_ms=SINCE)
            worker.store.put_many = real_put  # type: ignore[method-assign]
            again = await worker.syncer.run()
        assert early == []
        assert again.status == "done"
        assert len(worker.store.find(SessionQuery(), after=None, limit=10_000)) == app_sessions(world)
    finally:
        await worker.close()


async def test_no_cursor_moves_past_facts_that_failed_to_store(world: SandboxServer, url: str, tmp_path: Path) -> None:
    worker = Worker(settings_for(world, url, tmp_path / "c"))
    try:
        assert (await worker.syncer.run(since_ms=SINCE)).status == "done"
        first = await worker.lr.list_exports(cursor=None, limit=PAGE, date_ms=SINCE)
        keys = [export_key(f.url)[0] for f in first.files]
        # The first page's sessions are not indexed and nothing is synced; the later pages' are indexed, so
        # listing them reads nothing: the lister stores what was read so far when it gets there.
        with worker.store.db.transaction() as tx:
            for key in keys:
                for table in ("srm_session_pages", "srm_session_errors", "srm_session_requests"):
                    tx.execute(f"DELETE FROM {table} WHERE app = 'acme/web' AND session_id = ?", (key,))
                tx.execute("DELETE FROM srm_session_events WHERE app = 'acme/web' AND session_id = ?", (key,))
                tx.execute("DELETE FROM srm_sessions WHERE app = 'acme/web' AND session_id = ?", (key,))
            tx.execute("DELETE FROM srm_sync_state WHERE app = 'acme/web'")
        real_put = worker.store.put_many
        stores: list[int] = []

        def put_many(batch: Sequence[SessionFacts], now_ms: int) -> None:
            stores.append(len(batch))
            if len(stores) == 1:
                raise sqlite3.OperationalError("database is locked")  # the first store fails, once
            real_put(batch, now_ms)

        worker.store.put_many = put_many  # type: ignore[method-assign]

        class Slow:
            cache = worker.reader.cache

            async def read_summary(self, url: str) -> Any:
                await anyio.sleep(0.2)  # downloads slower than listing a page
                return await worker.reader.read_summary(url)

        worker.syncer = Syncer(worker.store, worker.lr, cast(ExportReader, Slow()), concurrency=3, page_size=PAGE)
        with anyio.fail_after(60):  # a guard against hanging, not a measured speed
            with pytest.raises(ConfigError):
                await worker.syncer.run(since_ms=SINCE)
            worker.store.put_many = real_put  # type: ignore[method-assign]
            again = await worker.syncer.run()
        assert again.status == "done"
        assert len(worker.store.find(SessionQuery(), after=None, limit=10_000)) == app_sessions(world)
    finally:
        await worker.close()
