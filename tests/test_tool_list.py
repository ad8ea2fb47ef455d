"""The tool list is a reviewed contract: names, schemas, annotations; read-only and selection filters."""

from __future__ import annotations

import importlib
import json
import re

import pytest

from mcp_server.errors import ConfigError
from mcp_server.server import build_server
from mcp_server.settings import Settings
from mcp_server.tools import ALL_TOOLS
from mcp_server.tools.spec import ToolSpec
from tests.conftest import check_snapshot, connect

pytestmark = pytest.mark.anyio


async def test_tools_list_matches_the_reviewed_snapshot() -> None:
    async with connect(Settings()) as client:
        tools = (await client.list_tools()).tools
    listing = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
    check_snapshot("tools_list.json", json.dumps(listing, indent=2, ensure_ascii=False) + "\n")


async def test_every_tool_declares_all_four_annotations_and_bounded_described_parameters() -> None:
    async with connect(Settings()) as client:
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == {spec.name for spec in ALL_TOOLS}
    for tool in tools:
        a = tool.annotations
        assert a is not None, tool.name
        for hint in ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"):
            assert isinstance(getattr(a, hint), bool), f"{tool.name} does not declare {hint}"
        assert tool.title and tool.description and len(tool.description) > 200, tool.name
        assert tool.output_schema is not None, f"{tool.name} has no structured output"
        assert tool.input_schema.get("additionalProperties") is False
        for name, prop in tool.input_schema["properties"].items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"


async def test_read_only_mode_does_not_register_write_tools_at_all() -> None:
    async with connect(Settings(read_only=True)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("identify_user", {"user_id": "u", "name": "n"})
    # summarize_user_sessions only asks LogRocket to compute a summary: it stays (see its annotations).
    # The index tools only read LogRocket and fill the server's own index: they stay too.
    assert names == {
        "list_exports",
        "read_session_export",
        "summarize_user_sessions",
        "find_sessions",
        "session_stats",
        "sync_sessions",
    }
    assert result.is_error
    assert "Unknown tool" in result.content[0].text  # type: ignore[union-attr]


async def test_read_only_wins_over_an_explicit_selection() -> None:
    async with connect(Settings(read_only=True, enabled_tools=frozenset({"identify_user", "list_exports"}))) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == {"list_exports"}


async def test_a_selection_enables_only_those_tools_and_the_instructions_say_so() -> None:
    server = build_server(Settings(enabled_tools=frozenset({"identify_user"})))
    async with connect(Settings(enabled_tools=frozenset({"identify_user"}))) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert names == {"identify_user"}
    assert "Only these tools are enabled: identify_user." in (server.instructions or "")


def test_an_unknown_tool_in_the_selection_is_a_startup_error() -> None:
    with pytest.raises(
        ConfigError,
        match=r"Unknown tool name.*: list_export\. Available: find_sessions, identify_user, list_exports, "
        r"push_highlight_event, read_session_export",
    ):
        build_server(Settings(enabled_tools=frozenset({"list_export"})))


def test_read_only_is_in_the_instructions() -> None:
    assert "Read-only mode is on" in (build_server(Settings(read_only=True)).instructions or "")


@pytest.mark.parametrize(
    "selection",
    [None, *[frozenset({spec.name}) for spec in ALL_TOOLS], frozenset({"list_exports", "read_session_export"})],
    ids=lambda s: "all" if s is None else ",".join(sorted(s)),
)
async def test_the_instructions_describe_every_enabled_tool_and_no_other(selection: frozenset[str] | None) -> None:
    async with connect(Settings(enabled_tools=selection)) as client:
        enabled = [t.name for t in (await client.list_tools()).tools]
        instructions = client.instructions or ""
    described = re.findall(r"^- ([a-z_]+): ", instructions, flags=re.MULTILINE)
    assert described == enabled
    for spec in ALL_TOOLS:
        assert (spec.instructions in instructions.splitlines()) is (spec.name in enabled), spec.name


def test_a_tool_module_says_everything_about_itself() -> None:
    modules = {spec.fn.__module__ for spec in ALL_TOOLS}
    assert len(modules) == len(ALL_TOOLS)
    for spec in ALL_TOOLS:
        module = importlib.import_module(spec.fn.__module__)
        assert module.TOOL is spec
        assert (
            spec.name,
            spec.title,
            spec.annotations,
            spec.instructions,
        ) == (module.NAME, module.TITLE, module.ANNOTATIONS, module.INSTRUCTIONS)
    with pytest.raises(ValueError, match="must start with '- list_exports: '"):
        ToolSpec("list_exports", "t", lambda: None, ALL_TOOLS[0].annotations, "lists exports")


def test_every_tool_answers_with_one_typed_result_that_renders_itself() -> None:
    import typing

    from mcp_server.results.base import ToolResult

    for spec in ALL_TOOLS:
        returns = typing.get_type_hints(spec.fn, include_extras=True)["return"]
        output = typing.get_args(returns)[1]  # Annotated[CallToolResult, <its result model>]
        assert issubclass(output, ToolResult), spec.name
        assert output.render is not ToolResult.render, spec.name
        assert output.__module__ == f"mcp_server.results.{spec.name}", spec.name
