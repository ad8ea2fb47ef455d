"""The rules behind the HTTP service's refusals, and how settings travel to worker processes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from mcp_server.errors import ConfigError
from mcp_server.http_app import OPTIONS_VAR, HttpOptions, check_options, create_app, worker_environment
from mcp_server.http_auth import check_exposure, is_loopback
from mcp_server.settings import ENV_VARS, Settings
from tests.conftest import Ran

TOKEN = "0123456789abcdef-token"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.0.0.5", False),
        ("192.168.1.2", False),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.5", False),
        ("mcp.example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_loopback_needs_no_token() -> None:
    check_exposure(Settings(), "127.0.0.1", "streamable-http")
    check_exposure(Settings(), "localhost", "sse")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "mcp.example.com"])
def test_other_addresses_need_a_token_or_the_opt_out(host: str, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigError, match=f"^refusing to serve sse on {re.escape(host)} without a caller token"):
        check_exposure(Settings(), host, "sse")
    check_exposure(Settings(auth_token=TOKEN), host, "sse")
    assert not caplog.records
    check_exposure(Settings.from_env({ENV_VARS["allow_unauthenticated"]: "true"}), host, "sse")
    assert [r.getMessage() for r in caplog.records] == [
        f"Serving sse on {host} WITHOUT a caller token (--allow-unauthenticated): anyone who can reach this "
        "address can use the tools."
    ]


def test_the_token_is_a_secret_of_the_settings() -> None:
    settings = Settings.from_env({ENV_VARS["auth_token"]: TOKEN})
    assert TOKEN in settings.secrets
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize(
    ("options", "workers", "problem"),
    [
        (HttpOptions("streamable-http", stateless=True), 4, None),
        (HttpOptions("streamable-http", stateless=True), 1, None),
        (HttpOptions("streamable-http"), 1, None),
        (HttpOptions("sse"), 1, None),
        (
            HttpOptions("streamable-http"),
            2,
            "--workers 2 needs --transport streamable-http --stateless: an MCP session lives in the memory of the "
            "worker that opened it, so another worker could not answer its next request",
        ),
        (HttpOptions("sse"), 2, "--workers 2 needs --transport streamable-http --stateless"),
        (HttpOptions("sse", stateless=True), 1, "--stateless applies to --transport streamable-http only"),
        (HttpOptions("streamable-http", stateless=True), 0, "--workers must be 1 or more, got 0"),
    ],
)
def test_transport_options_that_would_lose_sessions_are_refused(
    options: HttpOptions, workers: int, problem: str | None
) -> None:
    if problem is None:
        check_options(options, workers)
        return
    with pytest.raises(ConfigError) as caught:
        check_options(options, workers)
    assert str(caught.value).startswith(problem)


def test_cli_refuses_workers_without_stateless_before_starting_anything(
    cli: Callable[..., Ran], captured_logs: list[str]
) -> None:
    done = cli("serve", "--sandbox", "--transport", "streamable-http", "--workers", "2", "--port", "1")
    assert done.returncode == 2
    assert done.stderr.startswith("session-replay-mcp: --workers 2 needs --transport streamable-http --stateless")
    assert not any("sandbox" in line for line in captured_logs)  # refused before the sandbox started


def test_cli_refuses_stateless_on_stdio(cli: Callable[..., Ran]) -> None:
    done = cli("serve", "--stateless")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "session-replay-mcp: --stateless and --workers apply to --transport streamable-http only"
    )


def test_settings_survive_the_trip_through_the_environment() -> None:
    settings = Settings(
        logrocket_api_key="acme:web:key-123456",
        logrocket_app_id="acme/web",
        logrocket_api_url="http://127.0.0.1:9/v1",
        highlight_project_id="sandbox1",
        read_only=True,
        enabled_tools=frozenset({"list_exports", "read_session_export"}),
        read_timeout=2.5,
        retry_base_delay=0.01,
        max_retries=0,
        allowed_hosts=("mcp.example.com", "[::1]:8000"),
        export_allowed_hosts=("127.0.0.1:9",),
        cache_dir="/tmp/cache dir",
        auth_token=TOKEN,
        allow_unauthenticated=True,
        max_request_bytes=65536,
    )
    assert Settings.from_env(settings.to_env()) == settings
    assert Settings.from_env(Settings().to_env()) == Settings()
    # An empty tool selection means no tools, not all of them.
    assert Settings.from_env(Settings(enabled_tools=frozenset()).to_env()).enabled_tools == frozenset()


def test_workers_get_the_parents_settings_and_not_its_stale_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGROCKET_API_KEY", "stale:key:from-the-shell")
    monkeypatch.setenv("HIGHLIGHT_APP_URL", "https://stale.example")
    settings = Settings(logrocket_api_key="acme:web:sandbox-key", auth_token=TOKEN)
    env = worker_environment(settings, HttpOptions("streamable-http", "0.0.0.0", stateless=True), "DEBUG")
    assert env["LOGROCKET_API_KEY"] == "acme:web:sandbox-key"
    assert "HIGHLIGHT_APP_URL" not in env
    assert json.loads(env[OPTIONS_VAR]) == {"transport": "streamable-http", "host": "0.0.0.0", "stateless": True}
    assert env["SESSION_REPLAY_MCP_LOG_LEVEL"] == "DEBUG"
    assert Settings.from_env(env) == settings


def test_the_worker_factory_only_runs_under_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(OPTIONS_VAR, raising=False)
    with pytest.raises(ConfigError, match="runs inside `session-replay-mcp serve --workers N`"):
        create_app()


def test_a_worker_never_runs_looser_than_its_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mcp_server.http_app.configure_logging", lambda *a, **k: None)  # keep pytest's handlers
    monkeypatch.setenv(OPTIONS_VAR, json.dumps({"transport": "streamable-http", "host": "0.0.0.0", "stateless": True}))
    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match=r"^refusing to serve streamable-http on 0\.0\.0\.0 without a caller token"):
        create_app()
