"""session-replay-mcp doctor: what it finds, what it says to fix, and that it asks each upstream once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mcp_server.doctor import CHECKS, Finding, run_checks
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.world import DEFAULT_APP
from mcp_server.settings import Settings
from tests.conftest import Ran

CLI = Callable[..., Ran]


def sandbox_env(sandbox: SandboxServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The variables of a server pointed at the shared sandbox (as a user would set them), plus ``extra``."""
    return {
        "LOGROCKET_API_URL": sandbox.api_url,
        "LOGROCKET_API_KEY": DEFAULT_APP.api_key,
        "HIGHLIGHT_PUBLIC_GRAPH_URL": sandbox.highlight_url,
        "HIGHLIGHT_PROJECT_ID": "sandbox1",
        "SESSION_REPLAY_MCP_CACHE_DIR": str(tmp_path / "cache"),
        "SESSION_REPLAY_MCP_INDEX_URL": str(tmp_path / "index.db"),
        **extra,
    }


def test_a_working_configuration_passes_every_check(cli: CLI) -> None:
    done = cli("doctor", "--sandbox")
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "ok       LogRocket settings",
        "ok       Highlight settings",
        "ok       LogRocket API",
        "ok       Highlight endpoint",
        "ok       Export cache",
        "ok       Session index",
    ]
    assert lines[-1] == "Everything checked works."


def test_each_upstream_is_asked_once_and_a_refused_key_says_what_to_fix(
    cli: CLI, sandbox: SandboxServer, tmp_path: Path
) -> None:
    done = cli("doctor", env=sandbox_env(sandbox, tmp_path, LOGROCKET_API_KEY="acme:web:not-the-key"))
    assert done.returncode == 1
    assert "PROBLEM  LogRocket API: the API key was refused (" in done.stdout
    assert (
        "Fix: check LOGROCKET_API_KEY (LogRocket: Settings > API Keys) and that it belongs to acme/web." in done.stdout
    )
    assert "not-the-key" not in done.stdout
    assert done.stdout.endswith("1 problem(s) to fix.\n")
    asked = [(r.method, r.path) for r in sandbox.sandbox.requests.items()]
    assert asked == [("GET", "/v1/orgs/acme/apps/web/data-export/"), ("POST", "/highlight/public")]


def test_an_unknown_app_an_unwritable_cache_and_index_are_named(
    cli: CLI, sandbox: SandboxServer, tmp_path: Path
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")
    env = sandbox_env(
        sandbox,
        tmp_path,
        LOGROCKET_APP_ID="acme/nope",
        SESSION_REPLAY_MCP_CACHE_DIR=str(not_a_directory),
        SESSION_REPLAY_MCP_INDEX_URL=str(not_a_directory / "index.db"),
    )
    done = cli("doctor", env=env)
    assert done.returncode == 1
    assert "PROBLEM  LogRocket API:" in done.stdout
    assert "Fix: set LOGROCKET_APP_ID to the App ID LogRocket shows (org/app)." in done.stdout
    assert f"PROBLEM  Export cache: {not_a_directory} is not writable" in done.stdout
    assert "PROBLEM  Session index: " in done.stdout and "SESSION_REPLAY_MCP_INDEX_URL" in done.stdout


def test_missing_settings_and_an_endpoint_that_does_not_answer(
    cli: CLI, sandbox: SandboxServer, tmp_path: Path
) -> None:
    env = sandbox_env(sandbox, tmp_path, HIGHLIGHT_PUBLIC_GRAPH_URL="http://127.0.0.1:9/public")
    del env["LOGROCKET_API_KEY"], env["HIGHLIGHT_PROJECT_ID"]
    done = cli("doctor", env=env)
    assert done.returncode == 1
    assert done.stdout.splitlines()[:2] == [
        "PROBLEM  LogRocket settings: LOGROCKET_API_KEY is not set.",
        "         Fix: Set it to the API key from LogRocket (Settings > API Keys) in the server's environment or in "
        "the extension settings, then retry. To try the tools without an account, start the server with --sandbox.",
    ]
    assert "WARNING  Highlight settings: HIGHLIGHT_PROJECT_ID is not set" in done.stdout
    assert "WARNING  LogRocket API: not checked: the settings above are incomplete." in done.stdout
    assert "PROBLEM  Highlight endpoint: Could not connect to Highlight at 127.0.0.1:9" in done.stdout
    assert not sandbox.sandbox.requests.items()  # LogRocket was not asked without a key


@pytest.mark.anyio
async def test_a_check_is_one_more_function_in_the_list(settings: Settings) -> None:
    async def index(_: Settings) -> list[Finding]:
        return [Finding("ok", "Session index", "reachable")]

    found = await run_checks(settings, [*CHECKS[:1], index])
    assert [f.subject for f in found][-1] == "Session index"
