"""``serve --sync-every 15m`` and ``--sync-on-start``: keep the index fresh in the background."""

from __future__ import annotations

import logging

import anyio

from mcp_server.errors import UserFacingError
from mcp_server.library.sync import Syncer
from mcp_server.tools.runtime import Runtime

logger = logging.getLogger(__name__)


async def keep_synced(rt: Runtime) -> None:
    """Sync now and then until cancelled. A failed sync (the database gone, a bug) is logged and the next
    interval tries again: it must never end the server, whose task group this runs in."""
    settings = rt.settings
    first = True
    while True:
        if not first or settings.sync_on_start:
            try:
                await _sync_once(rt)
            except UserFacingError as exc:
                logger.warning("background sync did not run: %s", exc)
            except Exception:
                logger.exception("background sync failed; the next one runs in %gs", settings.sync_every)
        first = False
        if settings.sync_every <= 0:
            return
        await anyio.sleep(settings.sync_every)


async def _sync_once(rt: Runtime) -> None:
    settings = rt.settings
    store = await rt.library.open()
    syncer = Syncer(
        store,
        rt.logrocket,
        rt.exports,
        concurrency=settings.sync_concurrency,
        retention_days=settings.index_retention_days,
        first_window_days=settings.sync_first_days,
    )
    outcome = await syncer.run()
    p = outcome.progress
    logger.info(
        "background sync of %s: %s, %d new sessions, %d already indexed, %d failed",
        outcome.app,
        outcome.status,
        p.indexed,
        p.already,
        p.failed,
    )
