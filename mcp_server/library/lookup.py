"""The index as read_session_export uses it: find a session's export by id, and record what was read."""

from __future__ import annotations

import logging

from mcp_server.errors import InputError, UserFacingError
from mcp_server.exports.summary import SessionSummary
from mcp_server.library.facts import NoTimestamps, facts_from_summary, read_was_interrupted
from mcp_server.library.model import ExportRef
from mcp_server.library.sync import PAGE_SIZE, expiry_ms, export_key, in_thread
from mcp_server.render.markdown import code
from mcp_server.timeparse import now_ms
from mcp_server.tools.runtime import Runtime

logger = logging.getLogger(__name__)
_MARGIN_MS = 60_000  # a link this close to its expiry counts as expired


async def export_url_for(rt: Runtime, session_id: str, *, listing: bool = False) -> str:
    """A download URL for the indexed session: the stored one, or one from listing again where it was found.

    ``listing``: the caller pages a listing, which a summary-only cache entry (what a sync keeps) cannot serve.
    """
    store = await rt.library.open()
    configured = _configured_app(rt)
    found = await in_thread(store.export_of, session_id, configured)
    if found is None:
        raise InputError(
            f"Session {code(session_id, 120)} is not in the session index. Find sessions with find_sessions; if "
            "it is recent, call sync_sessions() first to index new exports; or pass the url list_exports gives."
        )
    app, ref = found
    if ref.expires_ms is None or ref.expires_ms > now_ms() + _MARGIN_MS:
        return ref.url
    cache = rt.exports.cache
    cached = cache.lookup(cache.key(ref.url))
    if cached is not None and not (listing and cached.summary_only):
        return ref.url  # the link expired, but the export cache holds what is asked: no download needed
    if app != configured:
        raise InputError(
            f"The download link of session {code(session_id, 120)} has expired, and it belongs to app {code(app)}, "
            f"not the configured {code(configured or '?')}: configure that app (LOGROCKET_APP_ID and its key) "
            "and call again, so its export can be listed afresh."
        )
    page = await rt.logrocket.list_exports(cursor=ref.listing_cursor, limit=PAGE_SIZE, date_ms=ref.listing_date_ms)
    for f in page.files:
        if export_key(f.url)[0] == session_id:
            fresh = ExportRef(f.url, expiry_ms(f.url), ref.listing_cursor, ref.listing_date_ms)
            await in_thread(store.update_exports, app, {session_id: fresh})
            return f.url
    raise InputError(
        f"The download link of session {code(session_id, 120)} has expired and LogRocket no longer lists its export "
        "where the index found it (exports are kept for a limited time). Check list_exports for it, or open its "
        "replay link in LogRocket."
    )


async def record_read(rt: Runtime, url: str, summary: SessionSummary) -> None:
    """Add a session read with read_session_export to the index (reading never fails because of the index)."""
    try:
        app = _configured_app(rt)
        if app is None or read_was_interrupted(summary) is not None:
            return
        key, _ = export_key(url)
        if rt.library.recorded(app, key, url):
            return
        store = await rt.library.open()
        if await in_thread(store.indexed, app, [key]):
            await in_thread(store.update_exports_url, app, key, url, expiry_ms(url))
        else:
            facts = facts_from_summary(
                summary, app=app, session_id=key, export=ExportRef(url, expiry_ms(url), None, None)
            )
            await in_thread(store.put, facts, now_ms())
        rt.library.remember_recorded(app, key, url)
    except (NoTimestamps, UserFacingError, OSError) as exc:
        logger.info("the session read was not added to the index: %s", exc)
    except Exception:
        logger.warning("the session read was not added to the index", exc_info=True)


def _configured_app(rt: Runtime) -> str | None:
    try:
        return str(rt.logrocket.app)
    except UserFacingError:
        return None
