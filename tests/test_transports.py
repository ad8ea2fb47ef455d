"""The real console script, spawned, spoken to by a real MCP client over stdio, Streamable HTTP and SSE."""

from __future__ import annotations

import gc
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client

from tests.conftest import text_of

pytestmark = pytest.mark.anyio

SCRIPT = shutil.which("session-replay-mcp", path=str(Path(sys.executable).parent)) or "session-replay-mcp"
# The spawned server must not pick up a developer's real credentials; --sandbox replaces them anyway.
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("LOGROCKET_", "HIGHLIGHT_", "SESSION_REPLAY"))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def http_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """``session-replay-mcp serve --sandbox`` over an HTTP transport, in its own process; yields its base URL.

    One per transport for the module: the tests here do not change it."""
    port = free_port()
    transport = request.param
    process = subprocess.Popen(
        [SCRIPT, "serve", "--sandbox", "--transport", transport, "--port", str(port)],
        env=CLEAN_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {process.stderr.read().decode() if process.stderr else ''}")
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        try:
            out, _ = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
        assert out == b"", "an HTTP server must not write to stdout"


async def test_stdio_console_script_with_the_sandbox() -> None:
    params = StdioServerParameters(command=SCRIPT, args=["serve", "--sandbox"], env=CLEAN_ENV)
    async with Client(params) as client:
        assert client.server_info is not None and client.server_info.name == "session-replay-mcp"
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("list_exports", {"limit": 2})
        pushed = await client.call_tool("push_highlight_event", {"event": "opened_support_chat"})
    assert names == {
        "list_exports",
        "read_session_export",
        "find_sessions",
        "session_stats",
        "sync_sessions",
        "identify_user",
        "push_highlight_event",
        "summarize_user_sessions",
    }
    assert not result.is_error
    assert text_of(result).startswith("**2 exported sessions** for app `acme/web`, oldest first.")
    # The sandbox emulates Highlight too, so the write tool works with no account.
    assert text_of(pushed).startswith("Started a new Highlight session and recorded the event `opened_support_chat`")


async def test_stdio_read_only_from_the_environment() -> None:
    params = StdioServerParameters(
        command=SCRIPT, args=["serve", "--sandbox"], env={**CLEAN_ENV, "SESSION_REPLAY_MCP_READ_ONLY": "true"}
    )
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert names == {
        "list_exports",
        "read_session_export",
        "find_sessions",
        "session_stats",
        "sync_sessions",
        "summarize_user_sessions",
    }


@pytest.mark.parametrize("http_server", ["streamable-http"], indirect=True)
async def test_streamable_http(http_server: str) -> None:
    async with Client(f"{http_server}/mcp") as client:
        result = await client.call_tool("identify_user", {"user_id": "u-1002", "traits": {"plan": "team"}})
    assert not result.is_error
    assert "| `plan` | `team` |" in text_of(result)


@pytest.mark.parametrize("http_server", ["sse"], indirect=True)
async def test_sse(http_server: str) -> None:
    async with Client(sse_client(f"{http_server}/sse")) as client:
        result = await client.call_tool("list_exports", {"limit": 1})
    assert not result.is_error
    assert "**1 exported session**" in text_of(result)


@pytest.mark.parametrize("http_server", ["streamable-http"], indirect=True)
def test_dns_rebinding_protection_refuses_foreign_hosts_and_origins(http_server: str) -> None:
    init = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"accept": "application/json, text/event-stream"}
    foreign_host = httpx2.post(f"{http_server}/mcp", json=init, headers={**headers, "host": "evil.example"})
    assert foreign_host.status_code == 421
    foreign_origin = httpx2.post(f"{http_server}/mcp", json=init, headers={**headers, "origin": "https://evil.example"})
    assert foreign_origin.status_code == 403
    health = httpx2.get(f"{http_server}/health")
    assert health.json()["status"] == "ok"


def test_a_stdio_server_serves_with_its_start_up_left_out_of_garbage_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What start-up made (modules, schemas, the server) is walked by no later full collection: one took about
    # 60 ms of whichever tool call set it off.
    import anyio

    from mcp_server.__main__ import _serve_stdio
    from mcp_server.settings import Settings

    frozen: list[int] = []
    monkeypatch.setattr(anyio, "run", lambda *_: frozen.append(gc.get_freeze_count()))
    gc.unfreeze()
    try:
        _serve_stdio(Settings())
    finally:
        gc.unfreeze()
    assert len(frozen) == 1 and frozen[0] > 10_000
