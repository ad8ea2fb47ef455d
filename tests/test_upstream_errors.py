"""What the agent sees when LogRocket fails: exact messages, the right retries, and never the key."""

from __future__ import annotations

import socket

import pytest

from mcp_server.sandbox.faults import Fault
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.world import DEFAULT_APP
from mcp_server.settings import Settings
from tests.conftest import connect, text_of

pytestmark = pytest.mark.anyio

KEY = DEFAULT_APP.api_key
SECRET = KEY.rsplit(":", 1)[-1]


def export_requests(sandbox: SandboxServer) -> int:
    return sum(r.path.endswith("/data-export/") for r in sandbox.sandbox.requests.items())


async def call(settings: Settings, tool: str = "list_exports", **arguments: object) -> tuple[bool, str]:
    async with connect(settings) as client:
        result = await client.call_tool(tool, arguments)
    return bool(result.is_error), text_of(result)


async def test_a_wrong_key_is_reported_with_the_setting_to_fix(settings: Settings, captured_logs: list[str]) -> None:
    wrong = "acme:web:not-the-right-secret"
    error, text = await call(settings.with_overrides(logrocket_api_key=wrong))
    assert error
    assert text == (
        "Error executing tool list_exports: LogRocket rejected the API key for app acme/web (HTTP 403: token "
        "signature is invalid): check LOGROCKET_API_KEY. It must be an API key of this app (LogRocket: Settings > "
        "API Keys); a key only works for the project it was created for."
    )
    everything = text + "\n".join(captured_logs)
    assert "not-the-right-secret" not in everything


async def test_a_key_of_another_app_is_named_as_such(settings: Settings, sandbox: SandboxServer) -> None:
    other = sandbox.world.app("acme", "mobile")
    assert other is not None
    error, text = await call(settings.with_overrides(logrocket_api_key=other.spec.api_key))
    assert error
    assert text.endswith("This key looks like it belongs to app acme/mobile, not acme/web.")
    assert other.spec.api_key.rsplit(":", 1)[-1] not in text


async def test_an_unknown_app_is_a_clear_not_found(settings: Settings) -> None:
    error, text = await call(settings.with_overrides(logrocket_app_id="acme/nope"))
    assert error
    assert text == (
        "Error executing tool list_exports: LogRocket says org or app not found: acme/nope (HTTP 404: Not found.). "
        "Check LOGROCKET_APP_ID: it is the App ID LogRocket shows for the project, in the form org/app."
    )


async def test_missing_settings_are_named_when_a_tool_needs_them() -> None:
    error, text = await call(Settings())
    assert error
    assert text.startswith("Error executing tool list_exports: LOGROCKET_API_KEY is not set.")
    error, text = await call(Settings(logrocket_api_key="just-a-secret-value"), "identify_user", user_id="u", name="n")
    assert error
    assert text == (
        "Error executing tool identify_user: LOGROCKET_APP_ID is not set. Set it to the App ID LogRocket shows for "
        "your project, in the form org/app (for example acme/web), then retry."
    )


async def test_429_then_success_is_retried_transparently(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.sandbox.faults.add(Fault(status=429, path="/data-export/", times=2, retry_after="0"))
    error, text = await call(settings, limit=1)
    assert not error, text
    assert "**1 exported session**" in text
    assert export_requests(sandbox) == 3


async def test_429_that_persists_says_so_and_when_to_retry(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.sandbox.faults.add(Fault(status=429, path="/data-export/", times=10, retry_after="0"))
    error, text = await call(settings)
    assert error
    assert text.startswith(
        "Error executing tool list_exports: LogRocket is rate-limiting this API key (HTTP 429) while listing "
        "exported sessions; still limited after 4 attempts over "
    )
    assert text.endswith("Wait 0 s and try again.")
    assert export_requests(sandbox) == 4  # the first try and 3 retries


async def test_a_retry_after_longer_than_we_can_wait_ends_the_call_at_once(
    settings: Settings, sandbox: SandboxServer
) -> None:
    sandbox.sandbox.faults.add(Fault(status=429, path="/data-export/", times=10, retry_after="3600"))
    error, text = await call(settings)
    assert error
    assert "still limited after 1 attempt over" in text and text.endswith("Wait 3600 s and try again.")
    assert export_requests(sandbox) == 1


async def test_500_exhausted(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.sandbox.faults.add(Fault(status=500, path="/data-export/", times=10))
    error, text = await call(settings)
    assert error
    assert text.startswith(
        "Error executing tool list_exports: LogRocket had a server error (HTTP 500: Internal Server Error) while "
        "listing exported sessions; still failing after 4 attempts over "
    )
    assert text.endswith("The problem is on LogRocket's side: try again in a few minutes.")
    assert export_requests(sandbox) == 4


async def test_a_503_once_is_invisible(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.sandbox.faults.add(Fault(status=503, path="/data-export/", times=1))
    error, _ = await call(settings, limit=2)
    assert not error
    assert export_requests(sandbox) == 2


async def test_timeout(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.sandbox.faults.add(Fault(kind="stall", seconds=1.0, path="/data-export/", times=10))
    error, text = await call(settings.with_overrides(read_timeout=0.2, max_retries=1))
    assert error
    assert text.startswith(
        "Error executing tool list_exports: LogRocket did not answer within 0.2 s while listing exported sessions "
        "(2 attempts over "
    )
    assert text.endswith("Try again; if it keeps happening, raise SESSION_REPLAY_MCP_READ_TIMEOUT.")


async def test_a_connection_cut_mid_answer_is_retried_then_reported(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.sandbox.faults.add(Fault(kind="truncate", path="/data-export/", times=10))
    error, text = await call(settings.with_overrides(max_retries=1))
    assert error
    assert text.startswith("Error executing tool list_exports: The connection to LogRocket at 127.0.0.1:")
    assert "dropped while listing exported sessions (RemoteProtocolError" in text
    assert export_requests(sandbox) == 2


async def test_a_body_that_is_not_json(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.sandbox.faults.add(Fault(kind="malformed", path="/data-export/"))
    error, text = await call(settings)
    assert error
    assert text.startswith(
        "Error executing tool list_exports: LogRocket answered listing exported sessions for app acme/web with "
        'HTTP 200 but the body is not JSON (\'{"cursor": 17, "sessions": [{"url":\'). Check LOGROCKET_API_URL'
    )


async def test_nothing_listening(settings: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error, text = await call(settings.with_overrides(logrocket_api_url=f"http://127.0.0.1:{port}/v1", max_retries=1))
    assert error
    assert text.startswith(
        f"Error executing tool list_exports: Could not connect to LogRocket at 127.0.0.1:{port} while listing "
        "exported sessions (ConnectError"
    )
    assert text.endswith(f"Check the network and LOGROCKET_API_URL (now http://127.0.0.1:{port}/v1).")


async def test_the_key_is_sent_as_documented_and_never_shown(
    settings: Settings, sandbox: SandboxServer, captured_logs: list[str]
) -> None:
    # Upstream echoes the key back in its error: it must still never reach the agent or the log.
    sandbox.sandbox.faults.add(Fault(status=400, path="/data-export/", detail=f"bad key {KEY} ({SECRET})"))
    error, text = await call(settings)
    assert error
    assert "[redacted]" in text
    assert SECRET not in text and SECRET not in "\n".join(captured_logs)
    sent = sandbox.sandbox.requests.items()[-1]
    assert sent.headers["authorization"] == f"token {KEY}"
