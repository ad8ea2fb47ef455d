"""The server's tools: one module per tool (validate, call an adapter, render), listed here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp_types import ToolAnnotations

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


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    fn: Callable[..., Any]
    annotations: ToolAnnotations

    @property
    def writes(self) -> bool:
        """Write tools are never registered in read-only mode."""
        return self.annotations.read_only_hint is not True


ALL_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(list_exports.NAME, list_exports.TITLE, list_exports.list_exports, list_exports.ANNOTATIONS),
    ToolSpec(
        read_session_export.NAME,
        read_session_export.TITLE,
        read_session_export.read_session_export,
        read_session_export.ANNOTATIONS,
    ),
    ToolSpec(find_sessions.NAME, find_sessions.TITLE, find_sessions.find_sessions, find_sessions.ANNOTATIONS),
    ToolSpec(session_stats.NAME, session_stats.TITLE, session_stats.session_stats, session_stats.ANNOTATIONS),
    ToolSpec(sync_sessions.NAME, sync_sessions.TITLE, sync_sessions.sync_sessions, sync_sessions.ANNOTATIONS),
    ToolSpec(identify_user.NAME, identify_user.TITLE, identify_user.identify_user, identify_user.ANNOTATIONS),
    ToolSpec(
        push_highlight_event.NAME,
        push_highlight_event.TITLE,
        push_highlight_event.push_highlight_event,
        push_highlight_event.ANNOTATIONS,
    ),
    ToolSpec(
        summarize_user_sessions.NAME,
        summarize_user_sessions.TITLE,
        summarize_user_sessions.summarize_user_sessions,
        summarize_user_sessions.ANNOTATIONS,
    ),
)
TOOL_NAMES = frozenset(t.name for t in ALL_TOOLS)
