"""The background sync survives its failures: one that raises is logged and the next interval runs."""

from __future__ import annotations

import logging
import sqlite3
from types import SimpleNamespace
from typing import Any, cast

import anyio
import pytest

from mcp_server.library import background
from mcp_server.library.sync import in_thread
from mcp_server.tools.runtime import Runtime

pytestmark = pytest.mark.anyio


class Flaky:
    """A library whose store cannot be opened the first time, and a sync that raises the second time."""

    def __init__(self) -> None:
        self.opened = 0

    @property
    def store(self) -> object:
        self.opened += 1
        if self.opened == 1:
            raise sqlite3.OperationalError("database is locked")
        return object()

    async def open(self) -> object:
        return await in_thread(lambda: self.store)


async def test_a_failing_background_sync_is_logged_and_the_next_one_runs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[int] = []
    done = anyio.Event()

    class FakeSyncer:
        def __init__(self, store: object, *args: Any, **kwargs: Any) -> None:
            pass

        async def run(self) -> Any:
            runs.append(1)
            if len(runs) == 1:
                raise ExceptionGroup("sync", [ConnectionError("server closed the connection")])
            done.set()
            progress = SimpleNamespace(indexed=1, already=0, failed=0)
            return SimpleNamespace(app="acme/web", status="done", progress=progress)

    monkeypatch.setattr(background, "Syncer", FakeSyncer)
    settings = SimpleNamespace(
        sync_on_start=True,
        sync_every=0.001,
        sync_concurrency=1,
        index_retention_days=0,
        sync_first_days=7.0,
    )
    library = Flaky()
    rt = cast(Runtime, SimpleNamespace(settings=settings, library=library, logrocket=None, exports=None))
    with caplog.at_level(logging.INFO, logger=background.__name__):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(background.keep_synced, rt)
            await done.wait()
            tasks.cancel_scope.cancel()
    assert library.opened == 3 and len(runs) == 2
    # The database error is told as what it is; the unexpected one with its traceback.
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "database is locked" in warned[0]
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1 and failures[0].exc_info
    assert any("background sync of acme/web: done" in r.getMessage() for r in caplog.records)
