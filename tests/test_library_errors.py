"""Database failures reach people as clear errors (what went wrong, what to try), and a dropped PostgreSQL
connection is made again."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_server.doctor import check_index
from mcp_server.errors import ConfigError
from mcp_server.library.db import PostgresDatabase, open_database
from mcp_server.library.service import Library
from mcp_server.library.store import SessionQuery, Store
from mcp_server.sandbox.app import Sandbox
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.world import SandboxWorld
from mcp_server.settings import Settings
from mcp_server.tools import find_sessions as find_sessions_tool
from tests.conftest import ANCHOR_MS, connect, text_of
from tests.library_backends import BACKENDS, POSTGRES_ENV, index_url

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def world() -> Iterator[SandboxServer]:
    with SandboxServer(Sandbox(SandboxWorld(anchor_ms=ANCHOR_MS, history=2))) as server:
        yield server


def refuse_migration(self: Store, *args: Any) -> None:
    import psycopg

    raise psycopg.errors.InsufficientPrivilege("permission denied for schema public")


async def test_a_migration_refused_by_postgresql_is_a_clear_error_in_tools_and_doctor(
    world: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Store, "__init__", refuse_migration)
    settings = world.settings(Settings(cache_dir=str(tmp_path / "c"), index_url=str(tmp_path / "index.db")))
    with pytest.raises(ConfigError, match="permission denied for schema public"):
        _ = Library(settings).store
    findings = await check_index(settings)
    assert findings[0].status == "problem" and "cannot be opened" in findings[0].said
    async with connect(settings) as client:
        result = await client.call_tool("find_sessions", {"user": "jane@acme.com"})
    assert result.is_error and "permission denied for schema public" in text_of(result)
    assert text_of(result).strip() != "Error executing tool find_sessions"  # not the SDK's bare error


async def test_a_query_that_fails_in_the_database_is_a_clear_tool_error(
    world: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Store, "find", broken)
    monkeypatch.setattr(Store, "stats", broken)
    settings = world.settings(Settings(cache_dir=str(tmp_path / "c"), index_url=str(tmp_path / "index.db")))
    async with connect(settings) as client:
        for name, arguments in (("find_sessions", {"user": "jane"}), ("session_stats", {"group_by": "errors"})):
            result = await client.call_tool(name, arguments)
            text = text_of(result)
            assert result.is_error and "The session index could not be read or written" in text, text
            assert "disk I/O error" in text and "Try again" in text and text.strip() != f"Error executing tool {name}"


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "sqlite"])
def test_a_postgresql_connection_dropped_by_the_server_is_made_again(backend: str, tmp_path: Path) -> None:
    import psycopg

    with index_url(backend, tmp_path) as url:
        db = PostgresDatabase(url)
        try:
            pid = db.read("SELECT pg_backend_pid()")[0][0]
            with psycopg.connect(os.environ[POSTGRES_ENV], autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchall():
                    pass  # until the server has really ended it
            assert db.read("SELECT 1") == [(1,)]
            assert db.read("SELECT pg_backend_pid()")[0][0] != pid
        finally:
            db.close()


def test_a_password_in_the_index_url_is_hidden_wherever_it_is_written() -> None:
    url = "postgresql://srm@[::1]:1/index?sslmode=disable&password=hunter2%21"
    # The redactor knows it, as written and decoded.
    assert {"hunter2%21", "hunter2!"} <= set(Settings(index_url=url).secrets)
    with pytest.raises(ConfigError) as refused:
        open_database(url, Path("unused"))
    message = str(refused.value)
    assert "hunter2" not in message
    assert "postgresql://srm@[::1]:1/index?sslmode=disable&password=***" in message
    with pytest.raises(ConfigError) as refused:
        open_database("postgresql://srm:hunter2@[::1]:1/index", Path("unused"))
    assert "postgresql://srm:***@[::1]:1/index" in str(refused.value) and "hunter2" not in str(refused.value)


async def test_a_crafted_cursor_beyond_any_time_is_refused_clearly(world: SandboxServer, tmp_path: Path) -> None:
    fingerprint = find_sessions_tool._fingerprint(SessionQuery())
    settings = world.settings(Settings(cache_dir=str(tmp_path / "c"), index_url=str(tmp_path / "index.db")))
    async with connect(settings) as client:
        for started in (2**70, -1):
            raw = json.dumps([started, "acme/web", "s", fingerprint]).encode()
            cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
            result = await client.call_tool("find_sessions", {"cursor": cursor})
            assert result.is_error
            assert "cursor is not one find_sessions returned; call again without it" in text_of(result)


async def test_the_index_is_opened_off_the_event_loop(
    world: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Opening may connect to a server or migrate for seconds: every tool must open it in a worker thread.
    on_loop: list[bool] = []
    plain = Library.store

    def watched(self: Library) -> Store:
        on_loop.append(threading.current_thread() is threading.main_thread())  # where the test's loop runs
        return plain.fget(self)  # type: ignore[attr-defined,no-any-return]

    monkeypatch.setattr(Library, "store", property(watched))
    settings = world.settings(Settings(cache_dir=str(tmp_path / "c"), index_url=str(tmp_path / "index.db")))
    # A server of its own for each tool: a server opens the index once, and keeps it open.
    async with connect(settings) as client:
        await client.call_tool("sync_sessions", {"since": ANCHOR_MS - 2 * 86_400_000})
    async with connect(settings) as client:
        found = await client.call_tool("find_sessions", {"limit": 1})
        assert found.structured_content is not None and found.structured_content["sessions"]
    async with connect(settings) as client:
        await client.call_tool("session_stats", {"group_by": "errors"})
    async with connect(settings) as client:
        session_id = found.structured_content["sessions"][0]["session_id"]
        read = await client.call_tool("read_session_export", {"session_id": session_id})
        assert not read.is_error, text_of(read)
    assert len(on_loop) == 4 and not any(on_loop)
