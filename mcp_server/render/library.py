"""Markdown for the session index: what it covers, and its tables of sessions and aggregates.

Every recorded value (names, emails, messages, URLs) goes through ``code``: it is data. Cells built of
several code spans are ``Markup``, so a table places them as they are.
"""

from __future__ import annotations

import json
from typing import Any

from mcp_server.render.markdown import Markup, code
from mcp_server.timeparse import iso


def when(ms: int | None) -> str:
    return iso(ms) if ms is not None else "?"


def ago(ms: int, now: int) -> str:
    seconds = max(0, (now - ms) // 1000)
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    if seconds < 172_800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def duration(ms: int) -> str:
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {(seconds % 3600) // 60:02d} min"


def call(tool: str, **arguments: Any) -> str:
    """A tool call as an agent would write it, arguments as JSON values (None left out)."""
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items() if v is not None)
    return f"{tool}({args})"


def who(user_id: str | None, email: str | None, name: str | None) -> Markup:
    parts = []
    if name:
        parts.append(code(name, 60))
    if email:
        parts.append(code(email, 80))
    elif user_id:
        parts.append(code(user_id, 80))
    return Markup(" ".join(parts) if parts else "anonymous")


def coverage_markdown(coverage: dict[str, Any], now: int) -> list[str]:
    """The coverage block (from the structured coverage): apps, window, sessions, last sync, gaps."""
    lines: list[str] = []
    if not coverage["apps"]:
        lines.append(
            "**Index coverage:** the session index is empty: no exports have been synced into it yet. "
            + (f"To fill it, call {code(coverage['gaps'][0]['call'], None)}" if coverage["gaps"] else "")
            + " (or run `session-replay-mcp sync --since 7d` in a terminal)."
        )
        return lines
    parts = []
    for a in coverage["apps"]:
        text = f"{code(a['app'], 80)}: {a['sessions']} session{'s' if a['sessions'] != 1 else ''}"
        if a["first_session_at"]:
            text += f" started {a['first_session_at']} to {a['last_session_at']}"
        text += f"; synced from {a['synced_from'] or '?'}"
        text += (
            f" through {a['synced_through']}" if a["synced_through"] else " (the listing was not read to its end yet)"
        )
        if a["last_synced_at"]:
            text += f"; last synced {a['last_synced_at']} ({ago(a['last_synced_ms'], now)})"
        if a["sync_running"]:
            text += "; a sync is running now"
        if a["failed_exports"]:
            n = a["failed_exports"]
            text += f"; {n} export{'s' if n != 1 else ''} could not be read and will be retried by the next sync"
        parts.append(text)
    lines.append("**Index coverage:** " + " | ".join(parts) + ".")
    for gap in coverage["gaps"]:
        lines.append(f"- Not in the index: {gap['what']}. To add it, call {code(gap['call'], None)}.")
    return lines
