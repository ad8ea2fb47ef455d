"""What serve and call say when they cannot start: before any sandbox banner, and before claiming to serve."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from tests.conftest import Ran

CLI = Callable[..., Ran]
UNKNOWN_TOOL = (
    "session-replay-mcp: Unknown tool name(s) in the tool selection: list_export. Available: find_sessions, "
    "identify_user, list_exports, push_highlight_event, read_session_export, session_stats, "
    "summarize_user_sessions, sync_sessions."
)


@pytest.mark.parametrize("command", [("serve",), ("serve", "--transport", "sse"), ("call", "list_exports")])
def test_a_bad_tool_name_is_reported_before_the_sandbox_starts(
    cli: CLI, captured_logs: list[str], command: tuple[str, ...]
) -> None:
    done = cli(*command, "--sandbox", "--tools", "list_export,read_session_export")
    assert done.returncode == 2
    assert done.stderr.strip() == UNKNOWN_TOOL
    assert not [line for line in captured_logs if "sandbox" in line]


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_a_taken_port_is_reported_before_serving_is_claimed(cli: CLI, captured_logs: list[str], transport: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("serve", "--sandbox", "--transport", transport, "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"session-replay-mcp: cannot listen on 127.0.0.1 port {port}: Address already in use. Stop what is using it, "
        "or choose another port with --port."
    )
    assert not [line for line in captured_logs if "MCP over" in line or "sandbox" in line]
