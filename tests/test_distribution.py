"""What ships around the server cannot drift from it: manifest.json, the README's tool list and set-up snippets."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from mcp_server import __version__
from mcp_server.__main__ import _parser, read_settings
from mcp_server.http_auth import check_exposure
from mcp_server.settings import PROCESS_OPTIONS, VARIABLES, Settings
from tests.conftest import OURS, connect

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")


async def live_tools() -> list[str]:
    async with connect(Settings()) as client:
        return [t.name for t in (await client.list_tools()).tools]


async def test_the_manifest_lists_exactly_the_live_tools() -> None:
    assert [t["name"] for t in MANIFEST["tools"]] == await live_tools()
    assert all(t["description"] for t in MANIFEST["tools"])


async def test_the_readme_tool_table_lists_exactly_the_live_tools() -> None:
    table = README.split("<!-- tools:start -->")[1].split("<!-- tools:end -->")[0]
    names = re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)
    assert sorted(names) == sorted(await live_tools())
    for name in names:
        assert f"### `{name}(" in README, f"the README has no section for {name}"


async def test_the_manifest_prompts_are_the_live_prompts() -> None:
    async with connect(Settings()) as client:
        prompts = (await client.list_prompts()).prompts
        filled = await client.get_prompt("investigate_user", {"user": "jane@acme.com", "question": "why?"})
        bare = await client.get_prompt("investigate_user", {"user": "u-1001"})
    assert [p.name for p in prompts] == [p["name"] for p in MANIFEST["prompts"]]
    assert [a.name for a in prompts[0].arguments or []] == MANIFEST["prompts"][0]["arguments"]
    # Claude Desktop fills the manifest's ${arguments.x} blanks (an argument left out with ""): the same text.
    template = MANIFEST["prompts"][0]["text"]
    for prompt, arguments in ((filled, {"user": "jane@acme.com", "question": "why?"}), (bare, {"user": "u-1001"})):
        host = template
        for name in ("user", "question", "since"):
            host = host.replace(f"${{arguments.{name}}}", arguments.get(name, ""))
        assert prompt.messages[0].content.text == host  # type: ignore[union-attr]
    # An empty question or time range never becomes an argument of a call (start='' fails validation).
    bare_text = bare.messages[0].content.text  # type: ignore[union-attr]
    assert "=''" not in bare_text and "How far back to look (if empty, the last 7 days): \n" in bare_text
    # The index first: the user's sessions, then reading them.
    filled_text = filled.messages[0].content.text  # type: ignore[union-attr]
    assert filled_text.index("Call find_sessions") < filled_text.index("read_session_export(session_id=")


def test_the_manifest_matches_the_package() -> None:
    assert MANIFEST["manifest_version"] == "0.4"
    assert MANIFEST["version"] == __version__
    config = MANIFEST["server"]["mcp_config"]
    assert config["command"] == "uv"
    assert config["args"][-2:] == ["session-replay-mcp", "serve"]
    # Claude Desktop installs the versions CI tested: the lock file, as it is.
    assert "--frozen" in config["args"] and (ROOT / "uv.lock").exists()
    assert (ROOT / MANIFEST["server"]["entry_point"]).exists()
    # Every variable passed to the server is one it reads, filled from a declared user setting.
    known = {v.name for v in VARIABLES}
    for var, value in config["env"].items():
        assert var in known, var
        key = re.fullmatch(r"\$\{user_config\.([a-z_]+)\}", value)
        assert key is not None and key.group(1) in MANIFEST["user_config"], value
    assert MANIFEST["user_config"]["logrocket_api_key"]["sensitive"] is True
    assert MANIFEST["user_config"]["read_only"]["default"] is True


def test_blank_manifest_settings_start_a_server_without_credentials() -> None:
    # Claude Desktop passes an empty string, or the template unexpanded, for settings left blank.
    env = dict.fromkeys(MANIFEST["server"]["mcp_config"]["env"], "")
    env["LOGROCKET_APP_ID"] = "${user_config.logrocket_app_id}"
    env["SESSION_REPLAY_MCP_READ_ONLY"] = "true"
    settings = Settings.from_env(env)
    assert settings.logrocket_api_key is None
    assert settings.read_only is True


def _json_blocks() -> list[dict[str, Any]]:
    blocks = re.findall(r"```json\n(.*?)```", README, flags=re.DOTALL)
    return [json.loads(b) for b in blocks]


def test_every_client_config_in_the_readme_is_valid_and_runs_a_real_command() -> None:
    servers: list[dict[str, Any]] = []
    for block in _json_blocks():
        for key in ("mcpServers", "servers"):
            servers += list(block.get(key, {}).values())
    assert len(servers) >= 3  # Claude Desktop, Cursor, VS Code
    parser = _parser()
    for server in servers:
        if "url" in server:
            # A remote server is a shared service: it lets in only callers with its token.
            assert server["url"].endswith("/mcp")
            assert server["headers"]["Authorization"].startswith("Bearer "), server
            continue
        assert server["command"].endswith("session-replay-mcp") or server["command"] == "uvx", server
        args = server["args"][server["args"].index("serve") :] if "serve" in server["args"] else server["args"]
        parser.parse_args(args)  # raises SystemExit on an option the CLI does not have


def test_the_claude_code_command_in_the_readme_parses() -> None:
    line = next(line for line in README.splitlines() if line.startswith("claude mcp add"))
    words = shlex.split(line)
    assert words[words.index("--") + 2 :][:1] == ["serve"]
    _parser().parse_args(words[words.index("--") + 2 :])


# A value of each kind that every setting of that kind accepts, unless it needs its own.
SAMPLES = {
    "text": "x-1",
    "number": "12.5",
    "whole": "8192",
    "duration": "90s",
    "names": "a.example,b.example",
    "name set": "list_exports",
}
OWN_SAMPLES = {
    "logrocket_app_id": "acme/web",
    "sync_concurrency": "8",
    "export_parse_workers": "0",
    "sync_every": "15m",
    "logrocket_api_url": "https://lr.example/v1",
    "highlight_public_graph_url": "https://hl.example/public",
    "highlight_app_url": "https://hl.example",
}


def test_every_setting_is_one_row_of_the_table_of_variables() -> None:
    settings = sorted(v.attr for v in VARIABLES if v.attr not in PROCESS_OPTIONS)
    assert settings == sorted(f.name for f in dataclasses.fields(Settings))
    assert len({v.name for v in VARIABLES}) == len({v.option for v in VARIABLES}) == len(VARIABLES)


def test_each_variable_but_the_caller_token_has_a_flag_of_the_same_meaning(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith(OURS)]:
        monkeypatch.delenv(var)
    assert [v.name for v in VARIABLES if v.option is None] == ["SESSION_REPLAY_MCP_AUTH_TOKEN"]
    parser = _parser()
    for variable in VARIABLES:
        if variable.option is None or variable.attr in PROCESS_OPTIONS:
            continue
        value = "true" if variable.switch else OWN_SAMPLES.get(variable.attr, SAMPLES[variable.kind])
        flag = [variable.option] if variable.switch else [variable.option, value]
        expected = Settings.from_env({variable.name: value})
        assert expected != Settings(), variable.name
        assert read_settings(parser.parse_args(["serve", *flag]))[0] == expected, variable.name
        if variable.scope == "tools":
            assert read_settings(parser.parse_args(["call", "list_exports", *flag]))[0] == expected, variable.name
        if not variable.switch:  # the flag wins over the variable
            with monkeypatch.context() as env:
                env.setenv(variable.name, OWN_SAMPLES.get(variable.attr, SAMPLES[variable.kind]) + "0")
                assert read_settings(parser.parse_args(["serve", *flag]))[0] == expected, variable.name
    # The process options: the sandbox (a switch, like the variable) and the log level (before the command).
    assert read_settings(parser.parse_args(["serve", "--sandbox"]))[1] is True
    assert read_settings(parser.parse_args(["serve"]))[1] is False
    monkeypatch.setenv("SESSION_REPLAY_MCP_SANDBOX", "true")
    assert read_settings(parser.parse_args(["serve"]))[1] is True
    assert parser.parse_args(["--log-level", "DEBUG", "serve"]).log_level == "DEBUG"
    monkeypatch.setenv("SESSION_REPLAY_MCP_LOG_LEVEL", "warning")
    assert _parser().parse_args(["serve"]).log_level == "WARNING"


def test_the_readme_lists_every_variable_with_its_flag() -> None:
    table = README.split("| variable | flag | default | meaning |\n|---|---|---|---|\n")[1].split("\n\n")[0]
    rows = [re.match(r"\| `([A-Z_]+)` \| (`(--[a-z-]+)`|\(none\)) \|", line) for line in table.splitlines()]
    assert all(rows), table
    assert [(r[1], r[3]) for r in rows if r] == [(v.name, v.option) for v in VARIABLES]


def test_the_readme_shared_service_starts_and_says_which_client_its_settings_are_for() -> None:
    block = README.split("<!-- shared-service -->\n```sh\n")[1].split("```")[0]
    lines = block.strip().splitlines()
    exports = [re.fullmatch(r"export (\w+)=(.*)", line) for line in lines[:-1]]
    env = {m[1]: m[2] for m in exports if m}
    assert len(env) == len(lines) - 1
    assert "SESSION_REPLAY_MCP_AUTH_TOKEN" in env
    env["SESSION_REPLAY_MCP_AUTH_TOKEN"] = "a-generated-token-0123456789"
    words = shlex.split(lines[-1])
    assert words[0] == "~/.session-replay-mcp/bin/session-replay-mcp"
    args = _parser().parse_args(words[1:])
    # What serve checks before it starts: this configuration is served, not refused (exit status 2).
    check_exposure(Settings.from_env(env), args.host, args.transport)
    after = README.split("<!-- shared-service -->")[1].split("The server also offers")[0]
    assert "For\nClaude Code" in after and "`.mcp.json`" in after


def test_the_inspector_examples_run_the_installed_script() -> None:
    """The install in "Using it from a client" puts no session-replay-mcp on PATH: the Inspector gets its path."""
    lines = [line for line in README.splitlines() if "inspector" in line and "session-replay-mcp serve" in line]
    assert len(lines) >= 2
    for line in lines:
        assert re.search(r"inspector (--cli )?~/\.session-replay-mcp/bin/session-replay-mcp serve", line), line
