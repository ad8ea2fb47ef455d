"""The command line as a person uses it: session-replay-mcp call / --version.

Two checks start the real console script; the rest run its main() in process (the ``cli`` fixture), which is
the same code without the cost of starting Python each time.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable

import pytest

from tests.clocks import VirtualClock
from tests.conftest import Ran
from tests.test_transports import CLEAN_ENV, SCRIPT

CLI = Callable[..., Ran]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=60, env=CLEAN_ENV, check=False)


def test_version() -> None:
    from mcp_server import __version__

    done = run("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"session-replay-mcp {__version__}"


def test_call_prints_the_markdown_answer() -> None:
    done = run("call", "list_exports", "--sandbox", "limit=2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("**2 exported sessions** for app `acme/web`, oldest first.")


def test_call_structured_and_typed_key_value_pairs(cli: CLI) -> None:
    # user_id=1001 stays text (the tool takes a string); seats=3 inside JSON stays a number.
    done = cli("call", "identify_user", "--sandbox", "--structured", "user_id=1001", 'traits={"seats": 3}')
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["user"]["userID"] == "1001" and data["user"]["traits"] == {"seats": "3"}


def test_call_json_arguments(cli: CLI) -> None:
    done = cli("call", "list_exports", "--sandbox", "--json", '{"limit": 1, "since": "2020-01-01"}')
    assert done.returncode == 0, done.stderr
    assert "from 2020-01-01T00:00:00Z" in done.stdout


def test_call_shows_progress_on_stderr_and_the_answer_on_stdout(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    # The wait runs in virtual time (the sandbox's Galileo takes 5 real seconds, so it stays pending).
    monkeypatch.setattr("mcp_server.server.REAL_CLOCK", VirtualClock())
    done = cli("call", "summarize_user_sessions", "--sandbox", "user_email=jane@acme.com", "wait_seconds=3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("**Galileo is still working** on the highlights for `jane@acme.com`")
    assert re.search(r"^Galileo is still working: \d s elapsed, typically 1 to 3 minutes$", done.stderr, re.M)


def test_a_tool_error_exits_non_zero_with_the_message_on_stderr(cli: CLI) -> None:
    done = cli("call", "list_exports", "limit=500", "--sandbox")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "Error executing tool list_exports: invalid arguments: limit should be less than or equal to 100 (got 500). "
        "Fix them and call again."
    )


def test_missing_key_without_sandbox_names_the_variable(cli: CLI) -> None:
    done = cli("call", "list_exports")
    assert done.returncode == 1
    assert "LOGROCKET_API_KEY is not set" in done.stderr


def test_unknown_tool_lists_the_available_ones(cli: CLI) -> None:
    done = cli("call", "list_export", "--read-only")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "Unknown tool 'list_export'. Available: find_sessions, list_exports, read_session_export, session_stats, "
        "summarize_user_sessions, sync_sessions."
    )


def test_bad_settings_are_reported_without_a_traceback(cli: CLI) -> None:
    done = cli("serve", env={"LOGROCKET_API_URL": "ftp://example.com"})
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "session-replay-mcp: LOGROCKET_API_URL must be an http(s) URL, got 'ftp://example.com'"
    )
