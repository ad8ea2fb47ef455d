"""LogRocket is asked to POST a user's highlights only to hosts the operator allowed, never in read-only mode.

Once, summarize_user_sessions (available in read-only mode) accepted any webhook_url, so an injected agent
could have LogRocket send a user's highlights anywhere.
"""

from __future__ import annotations

import pytest

from mcp_server.sandbox.server import SandboxServer
from mcp_server.settings import Settings
from mcp_server.webhook import webhook_host
from tests.conftest import text_of
from tests.test_summarize_user_sessions import (
    JANE,
    highlights_calls,
    structured,
    summarize,
    world,  # noqa: F401  (autouse: the sandbox on a virtual clock)
)

pytestmark = pytest.mark.anyio
PREFIX = "Error executing tool summarize_user_sessions: "
HOOK = "https://hooks.acme.example/galileo?ticket=42"


async def test_no_webhook_is_sent_unless_its_host_is_configured(settings: Settings, sandbox: SandboxServer) -> None:
    result = await summarize(settings, user_email=JANE, webhook_url=HOOK, wait_seconds=0)
    assert result.is_error
    assert text_of(result) == PREFIX + (
        "webhook_url points to hooks.acme.example, which is not a webhook host this server allows (its operator "
        "lists them in SESSION_REPLAY_MCP_WEBHOOK_ALLOWED_HOSTS; none are allowed by default). Call again without "
        "webhook_url: the highlights come back in the answer."
    )
    assert not highlights_calls(sandbox, "POST")


async def test_read_only_mode_refuses_webhooks_even_to_allowed_hosts(
    settings: Settings, sandbox: SandboxServer
) -> None:
    read_only = settings.with_overrides(read_only=True, webhook_allowed_hosts=("hooks.acme.example",))
    result = await summarize(read_only, user_email=JANE, webhook_url=HOOK, wait_seconds=0)
    assert result.is_error
    assert text_of(result).startswith(PREFIX + "webhook_url is refused: this server runs read-only")
    assert not highlights_calls(sandbox, "POST")
    # Without a webhook the tool works as before in read-only mode.
    assert structured(await summarize(read_only, user_email=JANE, wait_seconds=0))["status"] == "PENDING"


async def test_an_allowed_host_is_passed_on(settings: Settings, sandbox: SandboxServer) -> None:
    allowed = settings.with_overrides(webhook_allowed_hosts=("Hooks.Acme.Example",))
    out = structured(await summarize(allowed, user_email=JANE, webhook_url=HOOK, wait_seconds=0))
    assert out["resume"]["webhook_url"] == HOOK
    assert len(highlights_calls(sandbox, "POST")) == 1


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://hooks.acme.example/x", "hooks.acme.example"),
        ("https://HOOKS.acme.example:8443/x", "hooks.acme.example:8443"),
        ("http://[2001:db8::1]:80/x", "[2001:db8::1]:80"),
        # Parsers disagree about these; none of them is guessed at.
        ("https://hooks.acme.example@evil.example/", None),
        ("https://evil.example\\@hooks.acme.example/", None),
        ("https://evil.example%2F@hooks.acme.example/", None),
        ("https://hooks.acme.example%2eevil.example/", None),
        ("https://hooks.acme.example\u3002evil.example/", None),
        ("https://hooks.acme.example /", None),
        ("javascript://hooks.acme.example/%0aalert(1)", None),
        ("https://-evil/", None),
    ],
)
def test_webhook_hosts_are_read_strictly(url: str, host: str | None) -> None:
    assert webhook_host(url) == host


async def test_a_lookalike_url_of_an_allowed_host_is_refused(settings: Settings, sandbox: SandboxServer) -> None:
    allowed = settings.with_overrides(webhook_allowed_hosts=("hooks.acme.example",))
    for url in ("https://hooks.acme.example@evil.example/", "https://hooks.acme.example.evil.example/"):
        result = await summarize(allowed, user_email=JANE, webhook_url=url, wait_seconds=0)
        assert result.is_error, url
    assert not highlights_calls(sandbox, "POST")


def test_the_setting_is_read_from_the_environment() -> None:
    env = {"SESSION_REPLAY_MCP_WEBHOOK_ALLOWED_HOSTS": " hooks.acme.example, ci.acme.example:8443 "}
    settings = Settings.from_env(env)
    assert settings.webhook_allowed_hosts == ("hooks.acme.example", "ci.acme.example:8443")
    assert Settings.from_env(settings.to_env()) == settings
    assert Settings().webhook_allowed_hosts == ()
