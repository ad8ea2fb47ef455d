"""The export cache trusts nothing on disk, keeps its entries to their owner, and survives forged cursors.

Once, the checksum was verified only on the first read in a process (a same-size edit of the summary was
then served, a broken byte crashed the call), entries were world-readable (they hold names and emails), and
a cursor pointing mid-line made the entry look damaged, so it was deleted for everyone.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_server.exports.index import SUMMARY_FILE
from mcp_server.sandbox.server import SandboxServer
from mcp_server.settings import Settings
from tests.conftest import connect, text_of
from tests.test_read_session_export import _downloads, export_url, read, troubled

pytestmark = pytest.mark.anyio


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)  # the common default, which makes new files world-readable
    try:
        yield
    finally:
        os.umask(previous)


def _edit_a_digit(path: Path) -> None:
    """Change one digit of the file: same size, still valid JSON (1-9 never becomes a leading zero)."""
    data = bytearray(path.read_bytes())
    at = next(i for i, b in enumerate(data) if 0x31 <= b <= 0x39 and i > 0 and data[i - 1] in b":,[")
    data[at] = ord(str(int(chr(data[at])) % 9 + 1))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["same-size edit", "broken byte"])
async def test_a_summary_changed_on_disk_is_never_served(
    settings: Settings, sandbox: SandboxServer, damage: str
) -> None:
    index = troubled(sandbox, "acme/web")
    async with connect(settings) as client:
        url = await export_url(client, index)
        _, first = await read(client, url=url)
        _, second = await read(client, url=url)  # from the cache: its checksum was checked once here
        assert second["reading"]["from_cache"] is True
        downloads = _downloads(sandbox)
        summary = next(Path(settings.cache_dir or "").glob(f"*/{SUMMARY_FILE}"))
        if damage == "same-size edit":
            _edit_a_digit(summary)
        else:
            summary.write_bytes(b"\xff" + summary.read_bytes()[1:])
        result = await client.call_tool("read_session_export", {"url": url})
        assert not result.is_error, text_of(result)
        third = result.structured_content
        assert third is not None
        assert third["reading"]["from_cache"] is False  # rebuilt from the export, not served
        assert _downloads(sandbox) == downloads + 1
        assert third["digest"] == first["digest"]


async def test_a_focus_file_changed_after_it_was_checked_is_checked_again(
    settings: Settings, sandbox: SandboxServer
) -> None:
    index = troubled(sandbox, "acme/web")
    async with connect(settings) as client:
        url = await export_url(client, index)
        _, first = await read(client, url=url, focus="navigation")
        _, again = await read(client, url=url, focus="navigation")  # checked and served from the cache
        assert again["listing"]["items"] == first["listing"]["items"]
        downloads = _downloads(sandbox)
        _edit_a_digit(next(Path(settings.cache_dir or "").glob("*/navigation.jsonl")))
        _, third = await read(client, url=url, focus="navigation")
        assert _downloads(sandbox) == downloads + 1
        assert third["listing"]["items"] == first["listing"]["items"]


async def test_cache_folders_and_files_are_owner_only(
    settings: Settings, sandbox: SandboxServer, umask_022: None
) -> None:
    root = Path(settings.cache_dir or "")
    root.mkdir(parents=True, mode=0o755)  # as an older version (or another tool) left it
    async with connect(settings) as client:
        await read(client, url=await export_url(client, troubled(sandbox, "acme/web")))
    found = [root, *root.rglob("*")]
    assert len(found) > 3
    for path in found:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path.relative_to(root.parent)} is {mode:o}"


def _forge(cursor: str, **changes: int) -> str:
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    data.update(changes)
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_a_forged_cursor_is_refused_and_the_entry_stays(settings: Settings, sandbox: SandboxServer) -> None:
    index = troubled(sandbox, "acme/web")
    async with connect(settings) as client:
        url = await export_url(client, index) + "&events=2000"
        _, page = await read(client, url=url, focus="network", max_chars=4000)
        cursor = page["listing"]["next_cursor"]
        offset = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["o"]
        downloads = _downloads(sandbox)
        for forged in (_forge(cursor, o=offset - 3), _forge(cursor, o=10**12), _forge(cursor, o=-1)):
            result = await client.call_tool(
                "read_session_export", {"url": url, "focus": "network", "cursor": forged, "max_chars": 4000}
            )
            assert result.is_error
            assert text_of(result).endswith(
                "cursor is not one this tool returned; call again without cursor to start over."
            )
        # The entry is still there for everyone: the real cursor continues from the cache.
        _, following = await read(client, url=url, focus="network", cursor=cursor, max_chars=4000)
        assert following["reading"]["from_cache"] is True
        assert following["listing"]["first_number"] == len(page["listing"]["items"]) + 1
        assert _downloads(sandbox) == downloads
