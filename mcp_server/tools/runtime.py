"""What a tool call can reach: the settings and the shared adapters owned by the server's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context

from mcp_server.adapters.highlight import HighlightClient
from mcp_server.adapters.logrocket import LogRocketClient
from mcp_server.clock import REAL_CLOCK, Clock
from mcp_server.exports.reader import ExportReader
from mcp_server.library.service import Library
from mcp_server.settings import Settings

# What tool functions declare to receive the request context.
ToolContext = Context[Any, Any]


@dataclass
class Runtime:
    settings: Settings
    logrocket: LogRocketClient
    exports: ExportReader
    highlight: HighlightClient
    library: Library
    clock: Clock = REAL_CLOCK  # what waiting tools sleep on; tests and benchmarks run it faster


def runtime(ctx: ToolContext) -> Runtime:
    state = ctx.request_context.lifespan_context
    assert isinstance(state, Runtime), "the server's lifespan provides the Runtime"
    return state
