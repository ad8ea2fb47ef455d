"""The transport's floor for bench/exports.py: a stdio MCP server that answers calls of one tool with answers
recorded from the real server, doing nothing else.

    python bench/replay_server.py recorded.json

``recorded.json`` holds ``{"tool": <the Tool as tools/list gave it>, "answers": {<focus>: <CallToolResult>}}``;
a call gets the answer recorded for its ``focus`` argument. What a client waits for here is what the SDK alone
costs to carry the same answers (both ends' framing, parsing and checking against the same output schema).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp.server.stdio
import mcp_types as types
from mcp.server.lowlevel import Server


def build(recorded: dict[str, Any]) -> Server[Any]:
    tool = types.Tool.model_validate(recorded["tool"])
    answers = {focus: types.CallToolResult.model_validate(a) for focus, a in recorded["answers"].items()}

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return answers[str((params.arguments or {}).get("focus"))]

    return Server("replay", on_list_tools=list_tools, on_call_tool=call_tool)


async def serve(server: Server[Any]) -> None:
    async with mcp.server.stdio.stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(serve, build(json.loads(Path(sys.argv[1]).read_text())))
