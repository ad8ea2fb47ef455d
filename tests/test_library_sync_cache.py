"""What a sync leaves in the export cache: one summary-only file per export, which serves digests; a listing
of such an export reads it again in full (once), and the full entry takes its place.

A sync needs only each export's summary. Writing every focus's listing file for thousands of exports was
most of a sync's cost, so it keeps the summary alone; these tests hold the promises that change must keep.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_server.exports.cache import SUMMARY_ONLY_SUFFIX
from mcp_server.exports.reader import ExportReader
from mcp_server.exports.summary import SessionSummary, encode_summary
from mcp_server.library.db import open_database
from mcp_server.library.facts import facts_from_summary
from mcp_server.library.model import ExportRef
from mcp_server.library.store import Store
from mcp_server.sandbox.app import Sandbox
from mcp_server.sandbox.faults import Fault
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.world import SandboxWorld
from mcp_server.settings import Settings
from tests.conftest import ANCHOR_MS, connect, text_of
from tests.test_library_sync import EXPIRE_AND_SPOIL, SINCE, Worker, downloads

pytestmark = pytest.mark.anyio
SYNCED = 8


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(Sandbox(SandboxWorld(anchor_ms=ANCHOR_MS, history=12))) as running:
        yield running


@pytest.fixture
def world(server: SandboxServer) -> SandboxServer:
    server.sandbox.faults.clear()
    server.sandbox.requests.clear()
    return server


def settings_in(server: SandboxServer, tmp_path: Path) -> Settings:
    return server.settings(
        Settings(
            retry_base_delay=0.01,
            read_timeout=5.0,
            cache_dir=str(tmp_path / "cache"),
            index_url=str(tmp_path / "index.db"),
        )
    )


async def synced(settings: Settings) -> list[str]:
    """Sync SYNCED sessions; their ids, newest link first as the index holds them."""
    worker = Worker(settings)
    try:
        outcome = await worker.syncer.run(since_ms=SINCE, max_sessions=SYNCED)
        assert outcome.progress.indexed == SYNCED and outcome.progress.failed == 0
        rows = worker.store.db.read("SELECT session_id FROM srm_sessions ORDER BY session_id")
        return [str(r[0]) for r in rows]
    finally:
        await worker.close()


def cache_entries(settings: Settings) -> list[Path]:
    return sorted(p for p in Path(settings.cache_dir or "").iterdir() if not p.name.startswith("."))


async def call(client: Any, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool("read_session_export", arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return dict(result.structured_content)


async def test_a_sync_caches_one_owner_only_summary_file_per_export(world: SandboxServer, tmp_path: Path) -> None:
    settings = settings_in(world, tmp_path)
    await synced(settings)
    entries = cache_entries(settings)
    assert len(entries) == SYNCED
    for entry in entries:
        assert entry.is_file() and entry.name.endswith(SUMMARY_ONLY_SUFFIX)
        assert stat.S_IMODE(entry.stat().st_mode) == 0o600


async def test_a_synced_export_serves_its_digest_from_the_cache_and_a_listing_reads_it_in_full_once(
    world: SandboxServer, tmp_path: Path
) -> None:
    settings = settings_in(world, tmp_path)
    session_id = (await synced(settings))[3]
    world.sandbox.requests.clear()
    async with connect(settings) as client:
        digest = await call(client, session_id=session_id)
        assert digest["reading"]["from_cache"] is True and sum(downloads(world).values()) == 0

        listed = await call(client, session_id=session_id, focus="timeline")
        assert listed["reading"]["from_cache"] is False and sum(downloads(world).values()) == 1
        assert listed["listing"]["items"]
        # The full entry replaced the summary-only one: one entry per export, in one form.
        entries = cache_entries(settings)
        assert len(entries) == SYNCED and sum(e.is_dir() for e in entries) == 1

        again = await call(client, session_id=session_id, focus="timeline")
        assert again["reading"]["from_cache"] is True and again["listing"] == listed["listing"]
        digest_again = await call(client, session_id=session_id)
        assert digest_again["reading"]["from_cache"] is True and digest_again["digest"] == digest["digest"]
    assert sum(downloads(world).values()) == 1


async def test_a_listing_of_a_synced_export_whose_link_expired_lists_it_again(
    world: SandboxServer, tmp_path: Path
) -> None:
    settings = settings_in(world, tmp_path)
    session_id = (await synced(settings))[0]
    expire_every_link(settings)
    world.sandbox.requests.clear()
    async with connect(settings) as client:
        digest = await call(client, session_id=session_id)  # the summary the sync cached is enough
        assert digest["reading"]["from_cache"] is True and not world.sandbox.requests.items()
        expire_every_link(settings)  # (reading it stored the link again, with the expiry it names)
        listed = await call(client, session_id=session_id, focus="errors")  # needs the file: a fresh link
    assert listed["listing"] is not None
    assert any(r.path.endswith("/data-export/") for r in world.sandbox.requests.items())
    assert sum(downloads(world).values()) == 1


async def test_a_damaged_summary_file_is_never_served(world: SandboxServer, tmp_path: Path) -> None:
    settings = settings_in(world, tmp_path)
    session_id = (await synced(settings))[1]
    async with connect(settings) as client:
        first = await call(client, session_id=session_id)
        for entry in cache_entries(settings):
            data = bytearray(entry.read_bytes())
            data[-2] ^= 0x01  # inside the summary, past the manifest line
            entry.write_bytes(bytes(data))
        world.sandbox.requests.clear()
        second = await call(client, session_id=session_id)
    assert second["reading"]["from_cache"] is False and sum(downloads(world).values()) == 1
    assert second["digest"] == first["digest"]


async def test_a_summary_only_read_gives_the_same_summary_and_facts_as_a_full_read(
    world: SandboxServer, tmp_path: Path
) -> None:
    app = world.world.app("acme", "web")
    assert app is not None
    base = settings_in(world, tmp_path)
    async with connect(base) as client:
        listing = await client.call_tool("list_exports", {"limit": 5})
    assert listing.structured_content is not None
    for exported in listing.structured_content["sessions"]:
        summaries: list[SessionSummary] = []
        for summary_only in (True, False):
            reader = ExportReader(base.with_overrides(cache_dir=str(tmp_path / f"cache-{summary_only}")))
            try:
                if summary_only:
                    summary, pending = await reader.read_summary(exported["url"])
                    assert pending is not None  # read now, cached once committed
                    pending.commit()
                opened = await reader.open(exported["url"])
            finally:
                await reader.aclose()
            assert opened.entry.summary_only is summary_only and opened.from_cache is summary_only
            if summary_only:
                assert encode_summary(opened.summary) == encode_summary(summary)  # what the cache holds was read
            opened.summary.reading.seconds = 0.0  # how long it took is all that may differ
            summaries.append(opened.summary)
        assert encode_summary(summaries[0]) == encode_summary(summaries[1])
        ref = ExportRef(exported["url"], None, None, None)
        facts = [facts_from_summary(s, app="acme/web", session_id="x", export=ref) for s in summaries]
        assert facts[0] == facts[1]


def expire_every_link(settings: Settings) -> None:
    store = Store(open_database(settings.index_url, Path("unused")))
    try:
        with store.db.transaction() as tx:
            tx.execute(EXPIRE_AND_SPOIL)
    finally:
        store.close()


async def test_an_export_without_times_is_cached_so_its_retry_downloads_nothing(
    world: SandboxServer, tmp_path: Path
) -> None:
    app = world.world.app("acme", "web")
    assert app is not None
    victim = app.sessions[2]
    world.sandbox.faults.add(Fault(kind="malformed", path=victim.recording_id, times=100))  # no line parses
    settings = settings_in(world, tmp_path)
    worker = Worker(settings)
    try:
        first = await worker.syncer.run(since_ms=SINCE, max_sessions=SYNCED)
        assert [f.session_id for f in first.failures] == [victim.session_id]
        assert "time" in first.failures[0].reason
        again = await worker.syncer.run(max_sessions=SYNCED)  # retries it first: answered by the cache
        assert again.progress.retried == 1 and again.progress.failed == 1
    finally:
        await worker.close()
    victim_downloads = [n for path, n in downloads(world).items() if victim.recording_id in path]
    assert victim_downloads == [1]


async def test_a_synced_summary_is_not_cached_beside_a_full_entry_of_the_export(
    world: SandboxServer, tmp_path: Path
) -> None:
    settings = settings_in(world, tmp_path)
    async with connect(settings) as client:
        listing = await client.call_tool("list_exports", {"limit": 1})
    assert listing.structured_content is not None
    url = listing.structured_content["sessions"][0]["url"]
    reader = ExportReader(settings)
    try:
        summary, pending = await reader.read_summary(url)  # a sync's read, its entry not written yet
        opened = await reader.open(url)  # meanwhile, a read in full of the same export
        assert pending is not None and not opened.entry.summary_only
        pending.commit()  # the sync's batch comes later: the full entry serves its summary already
    finally:
        await reader.aclose()
    assert [p.name for p in cache_entries(settings)] == [opened.entry.directory.name]
    assert encode_summary(summary) != b""
