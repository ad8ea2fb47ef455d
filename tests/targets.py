"""Each tool's upstream calls as fault targets: how to call the tool, and where its requests go in the sandbox.

Shared by the fault matrix and the secrets test. A target names the tool, its arguments, the requests a fault
should match (path and method) and the step of the call it should hit (``skip``: the sandbox lets that many
matching requests through first).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp import Client
from mcp_types import CallToolResult

from mcp_server.sandbox.faults import Received
from mcp_server.sandbox.server import SandboxServer
from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.clocks import VirtualClock
from tests.conftest import text_of

JANE = "jane@acme.com"


@dataclass(frozen=True)
class Target:
    name: str  # the test id
    tool: str
    arguments: dict[str, Any]
    path: str  # what the fault matches: a substring of the request path
    method: str
    idempotent: bool  # whether the call at this step may be repeated after a failure that may have been processed
    skip: int = 0  # matching requests let through before the faulted one (earlier steps of the call)
    upstream: str = "logrocket"  # "logrocket", "export" or "highlight"
    needs_export_url: bool = False
    steps_after: int = 0  # requests the call makes after the faulted step when that step succeeds

    def requests(self, sandbox: SandboxServer) -> list[Received]:
        return [r for r in sandbox.sandbox.requests.items() if self.path in r.path and r.method == self.method]


LIST_EXPORTS = Target("list_exports", "list_exports", {"limit": 5}, "/data-export/", "GET", True)
IDENTIFY_USER = Target(
    "identify_user", "identify_user", {"user_id": "fault-matrix-user", "name": "Fault Matrix"}, "/users/", "PUT", True
)
SUMMARIZE_POST = Target(
    "summarize_request",
    "summarize_user_sessions",
    {"user_email": JANE, "wait_seconds": 100},
    "/highlights/",
    "POST",
    False,
)
SUMMARIZE_POLL = Target(
    "summarize_poll", "summarize_user_sessions", {"user_email": JANE, "wait_seconds": 100}, "/highlights", "GET", True
)
READ_EXPORT = Target(
    "read_session_export",
    "read_session_export",
    {},
    "/export-files/",
    "GET",
    True,
    upstream="export",
    needs_export_url=True,
)
# push_highlight_event with a user: initializeSession, identifySession, PushPayload, in that order.
_PUSH_ARGS = {"event": "fault_matrix", "properties": {"n": 1}, "user_identifier": "fault@acme.test"}
_GRAPH: dict[str, Any] = {
    "tool": "push_highlight_event",
    "arguments": _PUSH_ARGS,
    "path": "/highlight/public",
    "method": "POST",
}
PUSH_INIT = Target("push_init", **_GRAPH, idempotent=False, skip=0, upstream="highlight", steps_after=2)
PUSH_IDENTIFY = Target("push_identify", **_GRAPH, idempotent=True, skip=1, upstream="highlight", steps_after=1)
PUSH_PAYLOAD = Target("push_payload", **_GRAPH, idempotent=False, skip=2, upstream="highlight")

ALL_TARGETS = (
    LIST_EXPORTS,
    IDENTIFY_USER,
    SUMMARIZE_POST,
    SUMMARIZE_POLL,
    READ_EXPORT,
    PUSH_INIT,
    PUSH_IDENTIFY,
    PUSH_PAYLOAD,
)


@dataclass
class Progress:
    """An MCP progress callback that keeps every message."""

    messages: list[str] = field(default_factory=list)

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.messages.append(message or "")


@dataclass
class Outcome:
    result: CallToolResult
    seconds: float
    progress: list[str]

    @property
    def error(self) -> bool:
        return bool(self.result.is_error)

    @property
    def text(self) -> str:
        return text_of(self.result)


async def export_url(client: Client, index: int = 3) -> str:
    listing = await client.call_tool("list_exports", {"limit": index + 1})
    assert listing.structured_content is not None, text_of(listing)
    return str(listing.structured_content["sessions"][index]["url"])


async def call(
    target: Target,
    settings: Settings,
    sandbox: SandboxServer,
    arm: Callable[[], None] | None = None,
    *,
    limit: float = 30.0,
    overrides: dict[str, Any] | None = None,
) -> Outcome:
    """Call ``target``'s tool once through a real MCP client (``overrides`` change some of its arguments), arming
    faults with ``arm`` just before the call, after any set-up calls.

    The request log is cleared first, so ``target.requests(sandbox)`` counts this call's requests only.
    """
    progress = Progress()
    # summarize_user_sessions waits in virtual time, shared with the sandbox's Galileo (its schedule is in tens
    # of seconds); upstream requests, retries and their limits still take real time.
    clock = VirtualClock()
    sandbox.world.clock = clock.now
    try:
        async with Client(build_server(settings, clock=clock)) as client:
            arguments = {**target.arguments, **(overrides or {})}
            if target.needs_export_url:
                # Stretched to about 2,000 events (~100 KB gzipped), so a trickle cannot finish within the budget.
                arguments["url"] = await export_url(client) + "&events=2000"
            sandbox.sandbox.requests.clear()
            if arm is not None:
                arm()
            started = time.monotonic()
            with anyio.fail_after(limit):
                result = await client.call_tool(target.tool, arguments, progress_callback=progress)
            seconds = time.monotonic() - started
    finally:
        sandbox.world.clock = time.monotonic
    return Outcome(result, seconds, progress.messages)


def stable(text: str) -> str:
    """A message with what varies between runs (ports, durations, ids, byte counts) replaced by placeholders."""
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    text = re.sub(r"over \d+\.\d s", "over N s", text)
    text = re.sub(r"\b[0-9a-f]{64}\b", "REQUEST_ID", text)
    text = re.sub(r"\b[A-Za-z0-9]{28}\b", "SECURE_ID", text)  # Highlight session secure ids
    text = re.sub(r"[\d,]+ bytes had arrived", "N bytes had arrived", text)
    text = re.sub(r"\d+(\.\d+)? (KB|MB|B) of export data", "SIZE of export data", text)
    # How much of a trickled export arrived before the budget depends on the machine's speed.
    text = re.sub(
        r"\d+(\.\d+)? (KB|MB|bytes) downloaded\), [\d,]+ lines\. \*\*Stopped",
        "SIZE downloaded), N lines. **Stopped",
        text,
    )
    text = re.sub(r"Stopped after \d+\.\d s, [\d.,]+ (bytes|KB|MB|GB) into", "Stopped after N s, SIZE into", text)
    text = re.sub(r"[\d,]+ lines", "N lines", text)
    text = re.sub(r"(start|end)=\d{13}", r"\1=MS", text)
    return re.sub(r"received \d+ bytes, expected \d+", "received N bytes, expected M", text)
