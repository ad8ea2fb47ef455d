"""read_session_export's answer: the digest of one session, or one page of a focused listing.

The Markdown is written from the export's typed summary (or the listing page) the result carries; the
structured content is its bounded view: lists capped, long strings cut, times as offsets from the start.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from pydantic import BaseModel, Field

from mcp_server.exports.focus import Row
from mcp_server.exports.index import TIMELINE_SIZE
from mcp_server.exports.reader import Opened, Page
from mcp_server.exports.summary import SessionSummary
from mcp_server.exports.urlinfo import inspect_export_url
from mcp_server.render.markdown import code
from mcp_server.results.base import JsonObject, MarkdownOnly, ToolResult
from mcp_server.results.session_markdown import digest_markdown, page_markdown
from mcp_server.timeparse import iso

DEFAULT_CHARS = 20_000
MAX_CHARS = 24_000  # about 6k tokens of ASCII; well under hosts' 25k-token cut even for dense scripts
_STRUCTURED_LIST = 20
_STRUCTURED_TEXT = 500


class Reading(BaseModel):
    bytes: int = Field(description="Export data read (after decompression).")
    wire_bytes: int
    lines: int
    parsed: int = Field(description="Lines read as events.")
    invalid_json: int
    not_utf8: int
    too_long: int
    compression: str | None
    complete: bool = Field(description="False when the read stopped early (cap, time budget, broken transfer).")
    byte_cap_hit: bool
    time_budget_hit: bool
    transfer_error: str | None
    damaged: str | None = Field(description="Set when the file's compressed data is damaged (read up to there).")
    from_cache: bool
    seconds: float = Field(description="Time this call spent reading or looking up the export.")


class Digest(BaseModel):
    user: JsonObject | None = Field(description="user_id, name, email and traits, as identified.")
    started_at: str | None
    ended_at: str | None
    duration_ms: int | None
    device: JsonObject
    counts: dict[str, int] = Field(description="Events by kind (network_failed, console_error... are subsets).")
    other_types: dict[str, int] = Field(description="Events of unrecognised types, by type.")
    pages: list[JsonObject] = Field(description="Pages in order: offset_ms, href.")
    errors: list[JsonObject] = Field(description="Distinct errors: type, message, count, first_offset_ms, page.")
    failed_requests: list[JsonObject] = Field(description="offset_ms, method, url, status, duration_ms.")
    console: list[JsonObject] = Field(description="Console errors and warnings: level, message, count.")
    custom_events: list[JsonObject] = Field(description="offset_ms, name, properties.")
    timeline: list[JsonObject] = Field(description="The most important moments: offset_ms, kind, text.")
    omitted: dict[str, int] = Field(description="Items beyond these lists, by list; use focus to get them.")


class Listing(BaseModel):
    focus: str
    grouped: bool = Field(description="True when each item is one distinct error (focus errors without filters).")
    items: list[JsonObject] = Field(description="The items on this page (times as offsets from the start).")
    first_number: int
    total: int | None = Field(description="Items of this kind in the session (unknown when filtered).")
    next_cursor: str | None = Field(description="Pass as cursor, with the same focus and filters, for the next page.")


class ReadSessionExportOutput(ToolResult):
    session_id: str | None
    digest: Digest | None
    listing: Listing | None
    reading: Reading
    # What the Markdown is written from: the export's URL (every "more" call names it), the answer's size and the
    # export's typed summary (a digest); a listing's Markdown is written with it (listing_result), since writing it is
    # how the rows that fit are found.
    url: MarkdownOnly[str] = ""
    max_chars: MarkdownOnly[int] = DEFAULT_CHARS
    summary: MarkdownOnly[SessionSummary | None] = None
    listing_markdown: MarkdownOnly[str | None] = None

    def render(self) -> str:
        if self.listing_markdown is not None:
            return self.listing_markdown
        assert self.summary is not None
        return digest_markdown(
            self.summary, self.url, self.session_id, self.max_chars, from_cache=self.reading.from_cache
        )


def digest_result(
    opened: Opened, url: str, max_chars: int, *, session_id: str | None = None
) -> ReadSessionExportOutput:
    """The digest; ``session_id`` as the caller named it (read through the index), else the URL's or the file's."""
    summary = opened.summary
    # Built without validation: its parts were validated as they were made, and the summary and page are
    # domain objects to be kept as they are (the SDK checks the structured content against the schema).
    return ReadSessionExportOutput.model_construct(
        session_id=session_id or inspect_export_url(url).session_id or summary.session_id,
        digest=_digest(summary),
        listing=None,
        reading=_reading(opened),
        url=url,
        max_chars=max_chars,
        summary=summary,
    )


def listing_result(
    page: Page, url: str, call_arguments: dict[str, Any], max_chars: int, *, session_id: str | None = None
) -> ReadSessionExportOutput:
    """A listing page: the rows that fit ``max_chars`` are both what the Markdown shows and the items."""
    summary = page.opened.summary
    session_id = session_id or inspect_export_url(url).session_id or summary.session_id
    markdown, shown = page_markdown(
        page,
        url=url,
        call_arguments=call_arguments,
        filters_text=_filters_text(call_arguments.get("query"), call_arguments.get("start"), call_arguments.get("end")),
        session_id=session_id,
        max_chars=max_chars,
    )
    more = shown < len(page.rows) or page.more_after
    listing = Listing(
        focus=call_arguments["focus"],
        grouped=page.grouped,
        items=[_structured_row(row, summary) for row, _ in page.rows[:shown]],
        first_number=page.start.shown + 1,
        total=page.total,
        next_cursor=page.cursor(page.rows[shown - 1][1] if shown else None) if more else None,
    )
    # Built without validation: its parts were validated as they were made, and the summary and page are
    # domain objects to be kept as they are (the SDK checks the structured content against the schema).
    return ReadSessionExportOutput.model_construct(
        session_id=session_id,
        digest=None,
        listing=listing,
        reading=_reading(page.opened),
        url=url,
        max_chars=max_chars,
        listing_markdown=markdown,
    )


def _filters_text(query: str | None, start: str | int | None, end: str | int | None) -> str:
    parts = []
    if query is not None:
        parts.append(f"matching {code(query, 60)}")
    if start is not None:
        parts.append(f"from {code(str(start), 40)}")
    if end is not None:
        parts.append(f"to {code(str(end), 40)}")
    return (" (" + ", ".join(parts) + ")") if parts else ""


def _reading(opened: Opened) -> Reading:
    r = opened.summary.reading
    return Reading(
        bytes=r.bytes,
        wire_bytes=r.wire_bytes,
        lines=r.lines,
        parsed=r.parsed,
        invalid_json=r.invalid_json,
        not_utf8=r.not_utf8,
        too_long=r.too_long,
        compression=r.compression,
        complete=r.complete,
        byte_cap_hit=r.byte_cap_hit,
        time_budget_hit=r.time_budget_hit,
        transfer_error=r.transfer_error,
        damaged=r.damaged,
        from_cache=opened.from_cache,
        seconds=round(opened.seconds, 3),
    )


def _cut(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= _STRUCTURED_TEXT else value[:_STRUCTURED_TEXT] + "…"
    if isinstance(value, dict):
        return {k: _cut(v) for k, v in list(value.items())[:50]}
    if isinstance(value, list):
        return [_cut(v) for v in value[:50]]
    return value


def _structured_row(row: Row, summary: SessionSummary) -> dict[str, Any]:
    """A listing row as structured output: its fields, with times as offsets from the session start."""
    out: dict[str, Any] = {}
    for name, key, is_time in _row_fields(type(row)):
        value = getattr(row, name)
        out[key] = summary.offset(value) if is_time else _cut(value)
    return out


@functools.cache
def _row_fields(row_type: type[Row]) -> tuple[tuple[str, str, bool], ...]:
    """(field, key in the structured row, whether it is a time) for each field of a row type, in order."""
    fields = []
    for field in msgspec.structs.fields(row_type):
        name = field.name
        if name == "t":
            fields.append((name, "offset_ms", True))
        elif name.endswith("_t"):
            fields.append((name, name.removesuffix("_t") + "_offset_ms", True))
        else:
            fields.append((name, name, False))
    return tuple(fields)


def _digest(summary: SessionSummary) -> Digest:
    at = summary.offset
    omitted: dict[str, int] = {}

    def capped(name: str, rows: list[dict[str, Any]], total: int, room: int = _STRUCTURED_LIST) -> list[dict[str, Any]]:
        if total > min(len(rows), room):
            omitted[name] = total - min(len(rows), room)
        return [_cut(r) for r in rows[:room]]

    counts = summary.counts
    pages = [{"offset_ms": at(p.t), "href": p.href} for p in summary.pages]
    errors = [
        {
            "type": e.type,
            "message": e.message,
            "count": e.count,
            "first_offset_ms": at(e.first_t),
            "last_offset_ms": at(e.last_t),
            "page": e.page,
        }
        for e in summary.errors
    ]
    failed = [
        {"offset_ms": at(r.t), "method": r.method, "url": r.url, "status": r.status, "duration_ms": r.duration}
        for r in summary.failed_requests
    ]
    console = [
        {"level": c.level, "message": c.message, "count": c.count, "first_offset_ms": at(c.first_t)}
        for c in summary.console
    ]
    custom = [{"offset_ms": at(c.t), "name": c.name, "properties": c.properties} for c in summary.custom_events]
    timeline = [{"offset_ms": at(m.t), "kind": m.kind, "text": m.text} for m in summary.timeline]
    user = msgspec.structs.asdict(summary.user) if summary.user is not None else None
    return Digest(
        user=_cut({k: v for k, v in user.items() if v}) if user else None,
        started_at=iso(summary.first_ms) if summary.first_ms is not None else None,
        ended_at=iso(summary.last_ms) if summary.last_ms is not None else None,
        duration_ms=summary.duration_ms,
        device=_cut(summary.meta),
        counts={k: v for k, v in msgspec.structs.asdict(counts).items() if v},
        other_types={o.name: o.count for o in summary.other_types[:50]},
        pages=capped("pages", pages, summary.pages_total),
        errors=capped("errors", errors, summary.errors_distinct),
        failed_requests=capped("failed_requests", failed, summary.failed_total),
        console=capped("console", console, summary.console_distinct),
        custom_events=capped("custom_events", custom, counts.custom),
        timeline=capped("timeline", timeline, len(timeline), room=TIMELINE_SIZE),  # already the best few
        omitted=omitted,
    )
