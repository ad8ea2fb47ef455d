"""A download URL from a sandbox that is not this server's: the refusal says how to read it after all."""

from __future__ import annotations

import pytest

from mcp_server.sandbox.server import SandboxServer
from mcp_server.settings import Settings
from tests.conftest import connect, text_of
from tests.targets import export_url

pytestmark = pytest.mark.anyio


async def test_a_url_from_another_sandbox_says_to_start_on_its_port(settings: Settings, sandbox: SandboxServer) -> None:
    async with connect(settings) as client:
        url = await export_url(client)
    # A server started later without that sandbox (or with one on another port) is handed the URL.
    async with connect(Settings(cache_dir=settings.cache_dir)) as client:
        result = await client.call_tool("read_session_export", {"url": url})
    assert result.is_error
    assert text_of(result).endswith(
        f"is a download URL from a sandbox on port {sandbox.port}, and this server's sandbox is not that one (or it "
        f"runs without one). Start the server with --sandbox --sandbox-port {sandbox.port} to read it, or call "
        "list_exports here for URLs from this server's own sandbox."
    )


async def test_other_plain_http_urls_still_name_the_allow_list(settings: Settings) -> None:
    async with connect(settings) as client:
        result = await client.call_tool("read_session_export", {"url": "http://127.0.0.1:9/export-files/x.jsonl"})
    assert "add 127.0.0.1 to LOGROCKET_EXPORT_ALLOWED_HOSTS" in text_of(result)
