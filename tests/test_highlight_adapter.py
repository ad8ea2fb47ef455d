"""The Highlight adapter's own rules: secure ids, value formatting, links and the endpoint settings."""

from __future__ import annotations

import re

import pytest

from mcp_server.adapters.highlight import HighlightClient, as_text, new_secure_id
from mcp_server.errors import ConfigError
from mcp_server.settings import Settings

pytestmark = pytest.mark.anyio


def test_secure_ids_look_like_the_browser_sdks_and_do_not_repeat() -> None:
    ids = {new_secure_id() for _ in range(500)}
    assert len(ids) == 500
    assert all(re.fullmatch(r"[A-Za-z0-9]{28}", i) for i in ids)


def test_values_are_sent_as_the_sdk_sends_them_in_user_and_session_objects() -> None:
    assert [as_text(v) for v in ("pro", 12, 4.5, True, False)] == ["pro", "12", "4.5", "true", "false"]


async def test_links_point_at_the_hosted_app_only_for_the_hosted_endpoint() -> None:
    hosted = HighlightClient(Settings())
    self_hosted = HighlightClient(Settings(highlight_public_graph_url="http://localhost:8082/public"))
    configured = HighlightClient(
        Settings(highlight_public_graph_url="http://localhost:8082/public", highlight_app_url="https://hl.acme.test/")
    )
    try:
        assert hosted.session_url("7", "abc") == "https://app.highlight.io/7/sessions/abc"
        assert hosted.session_url(None, "abc") is None
        assert self_hosted.session_url("7", "abc") is None
        assert configured.session_url("7", "abc") == "https://hl.acme.test/7/sessions/abc"
        assert hosted.project_number("12") == "12" and hosted.project_number("ng2zox7e") is None
    finally:
        for client in (hosted, self_hosted, configured):
            await client.aclose()


def test_the_app_url_setting_must_be_a_web_address() -> None:
    with pytest.raises(ConfigError, match=r"HIGHLIGHT_APP_URL must be an http\(s\) URL, got 'app.highlight.io'"):
        Settings.from_env({"HIGHLIGHT_APP_URL": "app.highlight.io"})
    assert Settings.from_env({"HIGHLIGHT_APP_URL": "https://hl.acme.test"}).highlight_app_url == "https://hl.acme.test"
    assert Settings.from_env({}).highlight_public_graph_url == "https://pub.highlight.io"
