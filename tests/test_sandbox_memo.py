"""The sandbox keeps the export files it generated, within a size cap, and serves the same bytes again."""

from __future__ import annotations

import gzip

import httpx2
import pytest

from mcp_server.sandbox.app import Sandbox
from mcp_server.sandbox.memo import ExportMemo
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.world import DEFAULT_APP, SandboxWorld
from tests.conftest import ANCHOR_MS

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": f"token {DEFAULT_APP.api_key}"}


def test_the_least_recently_used_bodies_go_first_and_a_body_over_the_cap_is_not_kept() -> None:
    memo = ExportMemo(max_bytes=10)
    memo.put("a", b"aaaa")
    memo.put("b", b"bbbb")
    assert memo.get("a") == b"aaaa"  # now the most recently used
    memo.put("c", b"cccc")  # 12 bytes in all: "b" goes
    assert (memo.get("a"), memo.get("b"), memo.get("c")) == (b"aaaa", None, b"cccc")
    memo.put("a", b"a")  # replacing a body counts its new size only
    memo.put("d", b"dddd")
    assert (memo.get("a"), memo.get("c"), memo.get("d")) == (b"a", b"cccc", b"dddd")
    memo.put("huge", b"x" * 11)
    assert memo.get("huge") is None
    assert memo.get("d") == b"dddd"


async def test_an_export_read_twice_is_the_same_file_generated_once() -> None:
    with SandboxServer(Sandbox(SandboxWorld(anchor_ms=ANCHOR_MS, history=0))) as sandbox:
        await _read_twice(sandbox)


async def _read_twice(sandbox: SandboxServer) -> None:
    async with httpx2.AsyncClient(timeout=10) as client:
        listing = await client.get(f"{sandbox.api_url}/orgs/acme/apps/web/data-export/", headers=AUTH)
        urls = [s["url"] for s in listing.json()["sessions"]]
        plain = next(u for u in urls if ".gz" not in u)
        zipped = next(u for u in urls if ".gz" in u)
        memo = sandbox.world.export_memo
        for n, url in enumerate((plain, zipped), start=1):
            first = await client.get(url)
            assert len(memo) == n  # generated, and kept
            again = await client.get(url)
            assert first.status_code == again.status_code == 200
            assert again.content == first.content
            assert len(memo) == n  # served from memory: nothing generated again
        lines = gzip.decompress((await client.get(zipped)).content).splitlines()
        assert lines and all(line.startswith(b"{") for line in lines)
        # Shaped files are other files: their own entries.
        shaped = await client.get(f"{plain}&events=7")
        assert len(memo) == 3
        long = await client.get(f"{plain}&events=20001")  # long files are streamed as made, never held whole
        assert len(long.content.splitlines()) > 10_000
        assert len(memo) == 3
        assert len(shaped.content.splitlines()) != len((await client.get(plain)).content.splitlines())
