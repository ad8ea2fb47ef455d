"""session_stats' answer: ranked groups of what happened across the indexed sessions, and what the index covers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mcp_server.library.store import DAY_MS, GroupBy, SessionQuery, StatRow
from mcp_server.render.budget import Budget
from mcp_server.render.markdown import Markup, code, table_head, table_row
from mcp_server.results.base import JsonObject, MarkdownOnly, ToolResult
from mcp_server.results.session_index import CoverageOut, call, coverage_markdown, filters_text, replay_url, who
from mcp_server.timeparse import iso

MAX_CHARS = 24_000


class StatGroup(BaseModel):
    key: JsonObject = Field(
        description="What the group is: errors {type, message}; requests {method, url_pattern, status (0: no "
        "response)}; pages {page}; events {event}; users {user_id, email, name}; days {day}."
    )
    sessions: int = Field(description="Sessions affected.")
    users: int = Field(description="Distinct users affected (by user id, else email, else name).")
    occurrences: int = Field(description="Times it happened (errors, failed requests, events); sessions otherwise.")
    errors: int = Field(description="users and days: errors in those sessions.")
    failed_requests: int = Field(description="users and days: failed requests in those sessions.")
    first_seen: str = Field(description="Start of the earliest session in the group.")
    last_seen: str = Field(description="Start of the latest session in the group.")
    example_session_id: str | None = Field(description="The latest session in the group, for read_session_export.")
    example_replay_url: str | None


class SessionStatsOutput(ToolResult):
    group_by: str
    groups: list[StatGroup] = Field(
        description="Ranked by sessions, then users, then occurrences (days: newest first)."
    )
    filters: str
    coverage: CoverageOut
    # Groups left out to stay under MAX_CHARS; the filters as the call gave them (for the call that shows the top
    # ones alone); the limit asked for; when the answer was made.
    left_out: MarkdownOnly[int] = 0
    arguments: MarkdownOnly[dict[str, Any]] = Field(default_factory=dict)
    limit: MarkdownOnly[int] = 0
    now_ms: MarkdownOnly[int] = 0

    def render(self) -> str:
        text, _ = self._markdown()
        return text

    def _markdown(self) -> tuple[str, int]:
        """The Markdown, and how many of the groups fit in it."""
        cover = coverage_markdown(self.coverage, self.now_ms)
        scope = f" in sessions matching {self.filters}" if self.filters else " across all indexed sessions"
        what = _WHAT[self.group_by]
        if not self.groups:
            return f"No {what} found{scope}.\n\n{cover}", 0
        total = len(self.groups) + self.left_out
        order = {
            "days": "newest first",
            "users": "ranked by sessions, then errors, then failed requests",
        }.get(self.group_by, "ranked by sessions affected, then users, then occurrences")
        budget = Budget(MAX_CHARS, reserve=len(cover) + 800)
        budget.add(f"**Top {total} {what}**{scope}, {order}.")
        budget.add("")
        budget.add(table_head(_COLUMNS[self.group_by]))
        shown = 0
        for g in self.groups:
            if not budget.add(table_row(_cells(self.group_by, g))):
                break
            shown += 1
        notes = []
        if shown < total:
            given = {k: v for k, v in self.arguments.items() if v is not None}
            top = call("session_stats", group_by=self.group_by, **given, limit=shown)
            notes.append(
                f"{total - shown} more groups were left out to stay under {MAX_CHARS:,} characters; to see the "
                f"top ones alone, call {code(top, None)}."
            )
        if self.group_by != "days" and total == self.limit:
            notes.append(f"Only the top {self.limit} are shown; pass a larger limit (up to 100) for more.")
        notes.append("Find the sessions behind a group with find_sessions (same filters), then read_session_export.")
        return budget.close("\n" + "\n".join(notes) + "\n\n" + cover), shown


_COLUMNS: dict[str, list[str]] = {
    "errors": ["error", "sessions", "users", "occurrences", "first seen", "last seen", "example session"],
    "requests": ["request", "status", "sessions", "users", "occurrences", "last seen", "example session"],
    "pages": ["page", "sessions", "users", "last seen", "example session"],
    "events": ["event", "sessions", "users", "occurrences", "last seen", "example session"],
    "users": ["user", "sessions", "errors", "failed requests", "first seen", "last seen", "latest session"],
    "days": ["day (UTC)", "sessions", "users", "errors", "failed requests"],
}

_WHAT = {
    "errors": "distinct errors",
    "requests": "failing requests",
    "pages": "pages",
    "events": "custom events",
    "users": "users",
    "days": "days",
}


def _cells(group_by: str, g: StatGroup) -> list[str]:
    k = g.key
    example = code(g.example_session_id, 80) if g.example_session_id else "?"
    if group_by == "errors":
        label = Markup(f"{code(k['type'], 80)} {code(k['message'], 200)}")
        return [label, str(g.sessions), str(g.users), str(g.occurrences), g.first_seen, g.last_seen, example]
    if group_by == "requests":
        status = str(k["status"]) if k["status"] else "no response"
        label = code(f"{k['method']} {k['url_pattern']}", 200)
        return [label, status, str(g.sessions), str(g.users), str(g.occurrences), g.last_seen, example]
    if group_by == "pages":
        return [code(k["page"], 200), str(g.sessions), str(g.users), g.last_seen, example]
    if group_by == "events":
        return [code(k["event"], 120), str(g.sessions), str(g.users), str(g.occurrences), g.last_seen, example]
    if group_by == "users":
        person = who(k["user_id"], k["email"], k["name"])
        return [person, str(g.sessions), str(g.errors), str(g.failed_requests), g.first_seen, g.last_seen, example]
    return [k["day"], str(g.sessions), str(g.users), str(g.errors), str(g.failed_requests)]


def _key(group_by: GroupBy, key: tuple[Any, ...]) -> dict[str, Any]:
    if group_by == "errors":
        return {"type": key[0], "message": key[1]}
    if group_by == "requests":
        return {"method": key[0], "url_pattern": key[1], "status": key[2]}
    if group_by == "pages":
        return {"page": key[0]}
    if group_by == "events":
        return {"event": key[1]}
    if group_by == "users":
        return {"user_id": key[1], "email": key[2], "name": key[3]}
    return {"day": iso(int(key[0]) * DAY_MS)[:10]}


def stat_group(group_by: GroupBy, r: StatRow) -> StatGroup:
    example = r.example
    return StatGroup(
        key=_key(group_by, r.key),
        sessions=r.sessions,
        users=r.users,
        occurrences=r.occurrences,
        errors=r.errors,
        failed_requests=r.failed_requests,
        first_seen=iso(r.first_ms),
        last_seen=iso(r.last_ms),
        example_session_id=example[1] if example else None,
        example_replay_url=replay_url(*example) if example else None,
    )


def session_stats_result(
    group_by: GroupBy,
    rows: list[StatRow],
    *,
    query: SessionQuery,
    arguments: dict[str, Any],
    limit: int,
    coverage: CoverageOut,
    now: int,
) -> SessionStatsOutput:
    """The answer: the ranked groups that fit the size budget."""
    whole = SessionStatsOutput(
        group_by=group_by,
        groups=[stat_group(group_by, r) for r in rows],
        filters=filters_text(query),
        coverage=coverage,
        arguments=arguments,
        limit=limit,
        now_ms=now,
    )
    _, shown = whole._markdown()
    return whole.model_copy(update={"groups": whole.groups[:shown], "left_out": len(rows) - shown})
