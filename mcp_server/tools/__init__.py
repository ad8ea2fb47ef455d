"""The server's tools: one module per tool (validate, call an adapter, render), each ending in its TOOL."""

from __future__ import annotations

from mcp_server.tools import (
    find_sessions,
    identify_user,
    list_exports,
    push_highlight_event,
    read_session_export,
    session_stats,
    summarize_user_sessions,
    sync_sessions,
)
from mcp_server.tools.spec import ToolSpec

# In the order the server lists them (and the instructions describe them).
ALL_TOOLS: tuple[ToolSpec, ...] = (
    list_exports.TOOL,
    read_session_export.TOOL,
    find_sessions.TOOL,
    session_stats.TOOL,
    sync_sessions.TOOL,
    identify_user.TOOL,
    push_highlight_event.TOOL,
    summarize_user_sessions.TOOL,
)
TOOL_NAMES = frozenset(t.name for t in ALL_TOOLS)
