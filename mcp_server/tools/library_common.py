"""What the session index tools share: their filters, and reading the coverage every answer states."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from mcp_server.errors import InputError
from mcp_server.library.store import Coverage, SessionQuery
from mcp_server.library.sync import in_thread
from mcp_server.results.session_index import CoverageOut, coverage_out
from mcp_server.timeparse import iso, now_ms, parse_instant
from mcp_server.tools.runtime import ToolContext, runtime

Search = Annotated[str, StringConstraints(min_length=1, max_length=200)]

USER = Field(
    description="A user id or email (exact) or part of a name; case-insensitive with full Unicode case folding."
)
ERROR = Field(description="Part of an error's type or message, e.g. PaymentDeclined or 'reading id'.")
URL = Field(
    description="Part of a visited page's URL or of a failed request's URL (as recorded or generalised, e.g. "
    "/orders/{id}); successful requests never match."
)
EVENT = Field(description="A custom event name (exact, case-insensitive), e.g. CheckoutStarted.")
TEXT = Field(description="Matches any of user, error, url and event.")
SINCE = Field(
    description="Sessions that started at or after this time: epoch ms, an ISO-8601 date or time (UTC unless it "
    "has an offset; days are UTC), 'today', 'yesterday', or an age such as 24h or 7d."
)
UNTIL = Field(description="Sessions that started before this time (exclusive); same forms as since.")


def clean_search(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text or any(ord(ch) < 32 for ch in text):
        raise InputError(f"{name} must be some text on one line (no line breaks or control characters).")
    return text


def build_query(
    *,
    user: str | None,
    error: str | None,
    url: str | None,
    event: str | None,
    text: str | None,
    since: str | int | None,
    until: str | int | None,
) -> SessionQuery:
    since_ms = parse_instant(since, field="since") if since is not None else None
    until_ms = parse_instant(until, field="until") if until is not None else None
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise InputError(f"since ({iso(since_ms)}) must be before until ({iso(until_ms)}); swap them or drop one.")
    return SessionQuery(
        user=clean_search("user", user),
        error=clean_search("error", error),
        url=clean_search("url", url),
        event=clean_search("event", event),
        text=clean_search("text", text),
        since_ms=since_ms,
        until_ms=until_ms,
    )


def pinned_arguments(arguments: dict[str, Any], query: SessionQuery) -> dict[str, Any]:
    """``arguments`` with since and until as the instants they resolved to: a relative time ("7d") means
    another instant on the next call, so a printed continuing call must carry the resolved one to mean the
    same listing (and for find_sessions, to match its cursor)."""
    pinned = dict(arguments)
    if arguments.get("since") is not None and query.since_ms is not None:
        pinned["since"] = iso(query.since_ms)
    if arguments.get("until") is not None and query.until_ms is not None:
        pinned["until"] = iso(query.until_ms)
    return pinned


async def load_coverage(ctx: ToolContext, query: SessionQuery) -> CoverageOut:
    store = await runtime(ctx).library.open()
    coverage: Coverage = await in_thread(store.coverage)
    return coverage_out(coverage, query, now_ms())
