"""``serve --transport streamable-http --stateless --workers 2``: any worker answers any request.

Which worker answered is proven two ways. A modern (2026-07-28) client keeps one connection for all its
requests, so ``GET /health`` on that same connection names the worker that served its tool calls; that
is how the test picks clients on different workers and hands state (an export URL, a Galileo request id,
a Highlight session) from one worker to the other. A legacy client (initialize handshake) opens a new
connection for each streamed answer, so its calls spread over the workers; the server's log (one line
per tool call, with the worker's pid) shows both answered.
"""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import text_of
from tests.http_helpers import Served, children, serve
from tests.test_transports import free_port

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads worker processes from /proc"),
]

TOKEN = "workers-test-token-9f3a61c2d8e4"
BEARER = {"authorization": f"Bearer {TOKEN}"}
CALL_LINE = re.compile(r"^\S+ INFO \[(\d+)\] mcp_server\.server: (\w+) (answered|.+?) in \d+ ms$", re.M)


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, int]]:
    """Two stateless workers, with the sandbox started once in the parent; yields the server and the sandbox port."""
    sandbox_port = free_port()
    env = {
        "SESSION_REPLAY_MCP_AUTH_TOKEN": TOKEN,
        # One cache directory for the machine: every worker reads and fills the same one.
        "SESSION_REPLAY_MCP_CACHE_DIR": str(tmp_path_factory.mktemp("cache")),
    }
    args = ["--sandbox", "--sandbox-port", str(sandbox_port), "--transport", "streamable-http"]
    with serve(*args, "--stateless", "--workers", "2", env=env) as served:
        yield served, sandbox_port
    assert served.stdout == ""
    assert TOKEN not in served.stderr


@asynccontextmanager
async def on_one_connection(base: str, mode: str = "auto") -> AsyncIterator[tuple[int, Client]]:
    """A fresh client whose requests all travel on one connection, and the pid of the worker behind it."""
    async with httpx2.AsyncClient(headers=BEARER, limits=httpx2.Limits(max_connections=1)) as http:
        pid = (await http.get(f"{base}/health")).json()["pid"]
        async with Client(streamable_http_client(f"{base}/mcp", http_client=http), mode=mode) as client:
            yield pid, client
        assert (await http.get(f"{base}/health")).json()["pid"] == pid, "the connection moved to another worker"


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    data: dict[str, Any] | None = result.structured_content
    assert data is not None
    return data


async def test_tools_hand_state_from_one_worker_to_the_other(workers: tuple[Served, int]) -> None:
    served, sandbox_port = workers
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    # Galileo answers 0.3 s after a request: long enough to be pending once, short enough not to wait.
    assert httpx2.post(f"{sandbox}/_sandbox/highlights", json={"delay": 0.3}).status_code == 200

    async with on_one_connection(served.base) as (first, a):
        listed = await call(a, "list_exports", {"limit": 2})
        url = listed["sessions"][0]["url"]
        digest = await call(a, "read_session_export", {"url": url})
        # The sandbox stretches an export to about N events on request: enough requests for several pages.
        page = {"url": f"{url}&events=2000", "focus": "network", "max_chars": 4000}
        first_page = (await call(a, "read_session_export", page))["listing"]
        pending = await call(a, "summarize_user_sessions", {"user_email": "jane@acme.com", "wait_seconds": 0})
        pushed = await call(a, "push_highlight_event", {"event": "opened_support_chat"})
    assert pending["done"] is False

    other = None
    for _ in range(40):  # the kernel hands connections to either worker: a few tries find the other one
        async with on_one_connection(served.base) as (pid, b):
            if pid == first:
                continue
            other = pid
            # The cursor names the cache entry it was cut from: the workers share the machine's cache.
            second_page = (await call(b, "read_session_export", {**page, "cursor": first_page["next_cursor"]}))[
                "listing"
            ]
            await anyio.sleep(0.3)  # the sandbox's generation time
            done = await call(
                b,
                "summarize_user_sessions",
                {"request_id": pending["request_id"], "user_email": "jane@acme.com", "wait_seconds": 5},
            )
            again = await call(
                b,
                "push_highlight_event",
                {"event": "closed_support_chat", "session_secure_id": pushed["session_secure_id"]},
            )
            identified = await call(b, "identify_user", {"user_id": "u-1002", "traits": {"plan": "team"}})
            break
    assert other is not None, "40 fresh connections all reached the same worker"
    assert {first, other} <= children(served.process.pid)

    assert digest["session_id"] is not None
    assert first_page["next_cursor"] is not None
    assert second_page["first_number"] == first_page["first_number"] + len(first_page["items"])
    assert done["done"] is True and done["request_id"] == pending["request_id"]
    assert again["session_secure_id"] == pushed["session_secure_id"] and again["new_session"] is False
    assert identified["user"]["traits"]["plan"] == "team"
    session = httpx2.get(f"{sandbox}/_sandbox/highlight/sessions").json()
    events = [
        e["name"] for s in session["sessions"] if s["secure_id"] == pushed["session_secure_id"] for e in s["events"]
    ]
    assert events == ["opened_support_chat", "closed_support_chat"]


async def test_legacy_clients_are_served_by_both_workers(workers: tuple[Served, int]) -> None:
    served, _ = workers
    before = len(CALL_LINE.findall(served.log_so_far()))
    calls = 0
    for _ in range(6):
        async with on_legacy(served.base) as client:
            for _ in range(3):
                result = await client.call_tool("list_exports", {"limit": 1})
                assert not result.is_error, text_of(result)
                calls += 1
    lines = CALL_LINE.findall(served.log_so_far())[before:]
    assert [(tool, outcome) for _, tool, outcome in lines] == [("list_exports", "answered")] * calls
    pids = {int(pid) for pid, _, _ in lines}
    worker_pids = children(served.process.pid)
    assert len(pids) == 2 and pids <= worker_pids, (pids, worker_pids)
    # Stateless requests have no session: the SDK's "Terminating session: None" after each is not logged.
    assert "Terminating session" not in served.log_so_far()


@asynccontextmanager
async def on_legacy(base: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers=BEARER) as http,
        Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy") as client,
    ):
        yield client


def test_the_sandbox_runs_once_in_the_parent(workers: tuple[Served, int]) -> None:
    served, sandbox_port = workers
    log = served.log_so_far()
    assert log.count(f"sandbox listening on http://127.0.0.1:{sandbox_port}") == 1
    parent = served.process.pid
    assert f"INFO [{parent}] mcp_server: MCP over streamable-http at http://127.0.0.1:" in log
    assert "(bearer token required, stateless, 2 worker(s))" in log
    assert Path(f"/proc/{parent}").exists()
