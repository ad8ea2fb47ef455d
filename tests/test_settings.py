"""Settings from the environment, as Claude Desktop and shells provide it."""

from __future__ import annotations

import logging

import pytest

from mcp_server.errors import ConfigError
from mcp_server.settings import AppRef, Settings, parse_app_id


def test_blank_and_unexpanded_template_values_count_as_unset() -> None:
    settings = Settings.from_env(
        {
            "LOGROCKET_API_KEY": "${user_config.logrocket_api_key}",
            "LOGROCKET_APP_ID": "  ",
            "LOGROCKET_API_URL": "",
            "HIGHLIGHT_PROJECT_ID": "${user_config.highlight_project_id}",
        }
    )
    assert settings.logrocket_api_key is None
    assert settings.logrocket_app_id is None
    assert settings.logrocket_api_url == "https://api.logrocket.com/v1"
    assert settings.highlight_project_id is None


def test_values_are_read_and_converted() -> None:
    settings = Settings.from_env(
        {
            "LOGROCKET_API_KEY": "acme:web:s3cret-value",
            "LOGROCKET_APP_ID": "acme/web",
            "SESSION_REPLAY_MCP_READ_ONLY": "yes",
            "SESSION_REPLAY_MCP_TOOLS": "list_exports, identify_user",
            "SESSION_REPLAY_MCP_READ_TIMEOUT": "12.5",
            "SESSION_REPLAY_MCP_MAX_RETRIES": "1",
        }
    )
    assert settings.read_only is True
    assert settings.enabled_tools == frozenset({"list_exports", "identify_user"})
    assert settings.read_timeout == 12.5 and settings.max_retries == 1
    assert settings.logrocket_credentials() == ("acme:web:s3cret-value", AppRef("acme", "web"))
    assert "s3cret" not in repr(settings)


def test_an_unreadable_read_only_value_fails_safe(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        settings = Settings.from_env({"SESSION_REPLAY_MCP_READ_ONLY": "maybe"})
    assert settings.read_only is True
    assert "SESSION_REPLAY_MCP_READ_ONLY='maybe' is not a yes/no value; using True" in caplog.text


def test_the_app_comes_from_the_key_when_not_set() -> None:
    assert Settings(logrocket_api_key="acme:web:secret").logrocket_credentials()[1] == AppRef("acme", "web")
    assert Settings(logrocket_api_key="pat:acme:web:secret").logrocket_credentials()[1] == AppRef("acme", "web")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("acme/web", AppRef("acme", "web")),
        (" acme/web/ ", AppRef("acme", "web")),
        ("https://app.logrocket.com/acme/web/sessions?x=1", AppRef("acme", "web")),
    ],
)
def test_app_id_forms(value: str, expected: AppRef) -> None:
    assert parse_app_id(value) == expected


@pytest.mark.parametrize("value", ["acme", "acme web", "/web", "a/b c"])
def test_bad_app_ids_say_what_is_expected(value: str) -> None:
    with pytest.raises(ConfigError, match="in the form org/app"):
        parse_app_id(value)


def test_numbers_must_be_numbers() -> None:
    with pytest.raises(ConfigError, match="SESSION_REPLAY_MCP_MAX_RETRIES must be a whole number, got 'x'"):
        Settings.from_env({"SESSION_REPLAY_MCP_MAX_RETRIES": "x"})


def test_the_longest_tool_wait_is_configurable_within_bounds() -> None:
    assert Settings().max_wait_seconds == 300
    assert Settings.from_env({"SESSION_REPLAY_MCP_MAX_WAIT_SECONDS": "120"}).max_wait_seconds == 120.0
    for bad in ("0", "-5", "3601"):
        with pytest.raises(ConfigError, match=r"SESSION_REPLAY_MCP_MAX_WAIT_SECONDS must be more than 0 and at most"):
            Settings.from_env({"SESSION_REPLAY_MCP_MAX_WAIT_SECONDS": bad})
    with pytest.raises(ConfigError, match="SESSION_REPLAY_MCP_MAX_WAIT_SECONDS must be a number of seconds, got 'x'"):
        Settings.from_env({"SESSION_REPLAY_MCP_MAX_WAIT_SECONDS": "x"})


def test_the_parse_worker_is_on_by_default_and_can_be_turned_off() -> None:
    assert Settings().export_parse_workers == 1
    assert Settings.from_env({"SESSION_REPLAY_MCP_EXPORT_PARSE_WORKERS": "0"}).export_parse_workers == 0
    for bad in ("2", "-1"):
        with pytest.raises(ConfigError, match=f"SESSION_REPLAY_MCP_EXPORT_PARSE_WORKERS must be 0 or 1, got {bad}"):
            Settings.from_env({"SESSION_REPLAY_MCP_EXPORT_PARSE_WORKERS": bad})
