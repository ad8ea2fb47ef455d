"""The export cache keeps the summaries it served decoded, for follow-up calls, without trusting them blindly.

A follow-up call used to decode the export's summary twice (once to check it, once to use it); now the last
few are kept decoded, and used only after the bytes read for this call pass their checksum (a summary changed
on disk is rebuilt, never served: test_hardening_cache_disk.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from mcp_server.exports import cache as cache_module
from mcp_server.exports.reader import ExportReader
from mcp_server.exports.summary import SessionSummary, decode_summary
from mcp_server.sandbox.server import SandboxServer
from mcp_server.settings import Settings
from tests.conftest import connect
from tests.test_read_session_export import export_url, read

pytestmark = pytest.mark.anyio


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every decode of a summary from its bytes (their sizes)."""
    seen: list[int] = []

    def counted(data: bytes) -> SessionSummary:
        seen.append(len(data))
        return decode_summary(data)

    monkeypatch.setattr(cache_module, "decode_summary", counted)
    return seen


async def test_follow_up_calls_decode_the_summary_at_most_once(
    settings: Settings, sandbox: SandboxServer, decodes: list[int]
) -> None:
    async with connect(settings) as client:
        url = await export_url(client, 3)
        _, first = await read(client, url=url)
        assert first["reading"]["from_cache"] is False
        answers: list[dict[str, Any]] = []
        for focus in (None, "network", "errors", "console", None):
            _, data = await read(client, url=url, **({"focus": focus} if focus else {}))
            assert data["reading"]["from_cache"] is True
            answers.append(data)
    assert len(decodes) == 1
    assert answers[0]["digest"] == answers[-1]["digest"] == first["digest"]


async def test_a_rebuilt_entry_is_decoded_afresh(settings: Settings, sandbox: SandboxServer) -> None:
    reader = ExportReader(settings)
    try:
        async with connect(settings) as client:
            url = await export_url(client, 5)
        await reader.open(url)
        key = reader.cache.key(url)
        kept, again = reader.cache.lookup(key), reader.cache.lookup(key)
        assert kept is not None and again is not None and kept.summary() is again.summary()
        reader.forget(url, "a test")
        rebuilt = await reader.open(url)
        assert rebuilt.from_cache is False
        fresh = reader.cache.lookup(key)
        assert fresh is not None and fresh.summary() is not kept.summary()
        assert fresh.summary() == rebuilt.summary  # what this build wrote, not the first one (its timings differ)
    finally:
        await reader.aclose()


async def test_a_large_summary_is_not_kept_decoded(
    settings: Settings, sandbox: SandboxServer, decodes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "_DECODED_SUMMARY_BYTES", 100)  # every summary is larger than this
    async with connect(settings) as client:
        url = await export_url(client, 3)
        await read(client, url=url)
        for focus in ("network", "errors"):
            await read(client, url=url, focus=focus)
    assert len(decodes) == 2 and min(decodes) > 100
