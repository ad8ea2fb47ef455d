"""The one registry of focus kinds (the listings ``read_session_export`` can page through) and the
compact rows each listing file holds.

The index keeps one file per listing, each a JSON Lines file of arrays (``array_like`` structs): a
row costs a tuple's worth of bytes and is written in bulk, and a page decodes it back typed. The
``errors`` focus lists distinct errors (one row per group) unless a query or time window asks for
single occurrences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import msgspec

from mcp_server.exports.summary import Scalar

Focus = Literal["errors", "network", "console", "navigation", "custom", "user", "timeline", "other"]
FOCUSES: tuple[Focus, ...] = get_args(Focus)


# Rows hold no references to other objects that could form a cycle: not tracked by the cycle collector
# (cheaper to make and free, and there are millions).


class ErrorRow(msgspec.Struct, array_like=True, gc=False):
    t: int | None
    type: str
    message: str
    page: str | None
    stack: str | None


class ErrorGroupRow(msgspec.Struct, array_like=True, gc=False):
    type: str
    message: str
    count: int
    first_t: int | None
    last_t: int | None
    pages: list[str]


class NetworkRow(msgspec.Struct, array_like=True, gc=False):
    t: int | None
    method: str
    url: str
    status: int | None  # None: no response recorded
    duration: int | None
    page: str | None
    failed: bool


class ConsoleRow(msgspec.Struct, array_like=True, gc=False):
    t: int | None
    level: str
    message: str
    page: str | None


class NavigationRow(msgspec.Struct, array_like=True, gc=False):
    t: int | None
    href: str


class CustomRow(msgspec.Struct, array_like=True, gc=False):
    t: int | None
    name: str
    properties: dict[str, Scalar]


class UserRow(msgspec.Struct, array_like=True, gc=False):
    t: int | None
    kind: str  # identify or metadata
    user_id: str | None
    name: str | None
    email: str | None
    fields: dict[str, Scalar]  # traits, or the metadata's fields


class MomentRow(msgspec.Struct, array_like=True, gc=False):
    t: int | None
    kind: str
    text: str


class OtherRow(msgspec.Struct, array_like=True, gc=False):
    t: int | None
    type: str
    raw: str
    cut: bool


Row = ErrorRow | ErrorGroupRow | NetworkRow | ConsoleRow | NavigationRow | CustomRow | UserRow | MomentRow | OtherRow

# Listing files (name -> the rows it holds). "error_groups" is written once, when the read ends.
ROW_TYPES: dict[str, type[Row]] = {
    "errors": ErrorRow,
    "error_groups": ErrorGroupRow,
    "network": NetworkRow,
    "console": ConsoleRow,
    "navigation": NavigationRow,
    "custom": CustomRow,
    "user": UserRow,
    "timeline": MomentRow,
    "other": OtherRow,
}


@dataclass(frozen=True)
class FocusKind:
    name: Focus
    title: str  # the listing page's heading
    describes: str  # what the listing holds, for the tool's description
    heads: tuple[str, ...]  # table columns
    grouped_heads: tuple[str, ...] | None = None  # for a listing of groups (errors without filters)

    def listing_file(self, *, filtered: bool) -> str:
        """Which file a listing pages through: groups of errors, unless single occurrences are asked for."""
        return "error_groups" if self.grouped_heads is not None and not filtered else self.name


FOCUS_KINDS: dict[Focus, FocusKind] = {
    "errors": FocusKind(
        "errors",
        "Errors",
        "distinct errors with counts, first and last time and pages (with query, start or end: each occurrence, "
        "with its stack)",
        ("at", "type", "message", "page"),
        grouped_heads=("first at", "last at", "count", "error", "pages"),
    ),
    "network": FocusKind(
        "network",
        "Network requests",
        "every request in time order, failed ones marked",
        ("at", "method", "URL", "status", "duration"),
    ),
    "console": FocusKind("console", "Console messages", "console messages", ("at", "level", "message")),
    "navigation": FocusKind("navigation", "Page visits", "pages visited", ("at", "URL")),
    "custom": FocusKind("custom", "Custom events", "custom events and their properties", ("at", "event", "properties")),
    "user": FocusKind("user", "User and session metadata", "identify calls and metadata", ("at", "kind", "details")),
    "timeline": FocusKind("timeline", "Timeline", "important moments", ("at", "kind", "what")),
    "other": FocusKind("other", "Events of other types", "events of unrecognised types", ("at", "type", "line (raw)")),
}
assert tuple(FOCUS_KINDS) == FOCUSES, "every focus kind is registered, in order"
