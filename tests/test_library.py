"""The session index on both backends: every query equals the brute-force answer from the generator; sync
resumes, never downloads twice, records failures; coverage is always stated."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_server.adapters.logrocket import LogRocketClient
from mcp_server.exports.reader import ExportReader
from mcp_server.library.db import open_database
from mcp_server.library.store import SessionQuery, Store
from mcp_server.library.sync import Syncer
from mcp_server.sandbox import history as story
from mcp_server.sandbox.app import Sandbox
from mcp_server.sandbox.history import PAYMENT_ERROR, RELEASE_ERROR, release_ms
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.world import SandboxWorld
from mcp_server.settings import Settings
from tests import library_truth as bf
from tests.conftest import ANCHOR_MS, connect, text_of
from tests.library_backends import BACKENDS, index_url

HISTORY = 60  # sessions of history per app: every story line, and a sync that takes seconds
APPS = ("acme/web", "acme/mobile")
SINCE_ALL = ANCHOR_MS - 10 * bf.DAY_MS
# An index filled by sync_sessions: its URL, a store open on it, and its directory.
Synced = tuple[str, Store, Path]


@pytest.fixture(scope="module")
def world_server() -> Iterator[SandboxServer]:
    with SandboxServer(Sandbox(SandboxWorld(anchor_ms=ANCHOR_MS, highlights_delay=0.2, history=HISTORY))) as server:
        yield server


@pytest.fixture(scope="module")
def truths(world_server: SandboxServer) -> list[bf.Truth]:
    return bf.world_truth(world_server.world)


def settings_for(server: SandboxServer, url: str, cache: Path, app: str = "acme/web", **extra: Any) -> Settings:
    base = Settings(retry_base_delay=0.01, read_timeout=5.0, cache_dir=str(cache), index_url=url, **extra)
    return server.settings(base, app=app)


async def sync_app(settings: Settings, **options: Any) -> Any:
    store = Store(open_database(settings.index_url, Path("unused")))
    lr = LogRocketClient(settings)
    reader = ExportReader(settings)
    try:
        return await Syncer(store, lr, reader, concurrency=4, owner=options.pop("owner", None)).run(**options)
    finally:
        await reader.aclose()
        await lr.aclose()
        store.close()


@pytest.fixture(scope="module", params=BACKENDS)
def synced(
    request: pytest.FixtureRequest, world_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Synced]:
    """One index per backend holding both apps, filled through the sync_sessions tool."""
    directory = tmp_path_factory.mktemp("index")
    with index_url(request.param, directory) as url:

        async def fill() -> None:
            for app in APPS:
                settings = settings_for(world_server, url, directory / "cache", app)
                async with connect(settings) as client:
                    result = await client.call_tool("sync_sessions", {"since": bf.DAY_MS * 0 + SINCE_ALL})
                    assert not result.is_error, text_of(result)
                    assert result.structured_content is not None
                    assert result.structured_content["done"] is True
                    assert result.structured_content["failed"] == 0

        anyio.run(fill)
        store = Store(open_database(url, directory / "unused"))
        yield url, store, directory
        store.close()


QUERIES = [
    bf.Q(),
    bf.Q(user="jane@acme.com"),
    bf.Q(user="JANE@ACME.COM"),
    bf.Q(user="u-1002"),
    bf.Q(user="dana"),
    bf.Q(user="björn strasse"),  # full case folding: ß is ss
    bf.Q(user="BJÖRN STRASSE"),
    bf.Q(user="İLKAY"),
    bf.Q(user="σοφία"),  # Greek capital sigma folds like the final one
    bf.Q(user="no such person"),
    bf.Q(error="PaymentDeclined"),
    bf.Q(error="paymentdeclinederror"),
    bf.Q(error="reading 'id'"),
    bf.Q(error="invoiceTotal", since_ms=release_ms(ANCHOR_MS)),
    bf.Q(error="invoiceTotal", until_ms=release_ms(ANCHOR_MS)),
    bf.Q(url="/checkout"),
    bf.Q(url="/projects/{id}"),
    bf.Q(url="reports/weekly"),
    bf.Q(url="/api/v2/me"),  # only ever succeeds: no session matches through it
    bf.Q(event="checkoutstarted"),
    bf.Q(event="CheckoutStart"),  # event names match exactly
    bf.Q(text="PaymentDeclined"),
    bf.Q(text="jane@acme.com"),
    bf.Q(text="/settings/billing"),
    bf.Q(user="dana", error="Payment", url="/checkout", event="CheckoutStarted"),
    bf.Q(since_ms=ANCHOR_MS - 2 * bf.DAY_MS),
    bf.Q(since_ms=ANCHOR_MS - 3 * bf.DAY_MS, until_ms=ANCHOR_MS - bf.DAY_MS),
]


def query(q: bf.Q) -> SessionQuery:
    return SessionQuery(**dataclasses.asdict(q))


@pytest.mark.parametrize("q", QUERIES, ids=repr)
def test_find_sessions_equals_brute_force(synced: Synced, truths: list[bf.Truth], q: bf.Q) -> None:
    _, store, _ = synced
    expected = bf.find(truths, q)
    found = [(r.app, r.session_id) for r in store.find(query(q), after=None, limit=10_000)]
    assert found == expected
    # Paging with the keyset cursor walks the same list.
    paged: list[tuple[str, str]] = []
    after = None
    while True:
        rows = store.find(query(q), after=after, limit=7)
        paged += [(r.app, r.session_id) for r in rows]
        if len(rows) < 7:
            break
        after = (rows[-1].started_ms, rows[-1].app, rows[-1].session_id)
    assert paged == expected


STATS_QUERIES = [
    bf.Q(),
    bf.Q(since_ms=ANCHOR_MS - 7 * bf.DAY_MS),
    bf.Q(user="dana"),
    bf.Q(error="TypeError"),
    bf.Q(url="reports"),
    bf.Q(event="InviteSent"),
    bf.Q(text="acme.com", since_ms=ANCHOR_MS - 4 * bf.DAY_MS),
]


@pytest.mark.parametrize("group_by", ["errors", "requests", "pages", "events", "users", "days"])
@pytest.mark.parametrize("q", STATS_QUERIES, ids=repr)
def test_session_stats_equals_brute_force(synced: Synced, truths: list[bf.Truth], group_by: str, q: bf.Q) -> None:
    _, store, _ = synced
    expected = bf.stats(truths, group_by, q, 25)
    rows = store.stats(group_by, query(q), limit=25)  # type: ignore[arg-type]
    got = []
    for r in rows:
        key = r.key[:1] if group_by in ("users", "events", "days") else r.key
        got.append(
            {
                "key": key,
                "sessions": r.sessions,
                "users": r.users,
                "occurrences": r.occurrences,
                "errors": r.errors if group_by in ("users", "days") else 0,
                "failed": r.failed_requests if group_by in ("users", "days") else 0,
                "first": r.first_ms,
                "last": r.last_ms,
                "example": r.example,
            }
        )
    for e in expected:
        if group_by not in ("users", "days"):
            e["errors"] = e["failed"] = 0
    assert got == expected


def test_coverage_counts_every_app_exactly(synced: Synced, truths: list[bf.Truth]) -> None:
    _, store, _ = synced
    coverage = store.coverage()
    assert {a.app: a.sessions for a in coverage.apps} == {app: sum(t.app == app for t in truths) for app in APPS}
    for a in coverage.apps:
        starts = [t.started for t in truths if t.app == a.app]
        assert (a.first_started_ms, a.last_started_ms) == (min(starts), max(starts))
        assert a.window_from_ms == SINCE_ALL and a.synced_through_ms is not None and a.failures == 0


def test_the_story_lines_are_there_to_find(synced: Synced, truths: list[bf.Truth]) -> None:
    _, store, _ = synced
    payers = store.stats("users", SessionQuery(error="PaymentDeclinedError"), limit=10)
    assert [r.key[2] for r in payers] == ["dana@wayne.example"]
    assert payers[0].sessions >= 4
    errors = store.stats("errors", SessionQuery(since_ms=release_ms(ANCHOR_MS)), limit=3)
    assert RELEASE_ERROR in [r.key for r in errors]
    before = store.stats("errors", SessionQuery(until_ms=release_ms(ANCHOR_MS), error="invoiceTotal"), limit=3)
    assert before == []
    failing = store.stats("requests", SessionQuery(url="reports/weekly"), limit=20)
    outage = next(r for r in failing if r.key == ("GET", "https://api.acme.test/api/v2/reports/weekly", 503))
    free = {uid for uid, _, _, traits in story.PEOPLE if traits.get("plan") == "free"}
    hit = {t.user_id for t in truths if ("GET", "https://api.acme.test" + story.FREE_PLAN_ENDPOINT, 503) in t.failed}
    assert outage.users == len(hit) >= 3
    assert hit <= free  # only free-plan users get the 503
    assert PAYMENT_ERROR in [r.key for r in store.stats("errors", SessionQuery(user="dana"), limit=5)]


def test_the_world_has_a_week_of_history_for_many_people() -> None:
    world = SandboxWorld(anchor_ms=ANCHOR_MS)
    sessions = [s for app in world.apps.values() for s in app.sessions]
    people = {s.user.user_id for s in sessions if not s.user.anonymous}
    assert len(sessions) >= 300 and len(people) >= 25
    assert max(s.started_ms for s in sessions) - min(s.started_ms for s in sessions) >= 6.5 * bf.DAY_MS


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
