"""SessionFacts from the export reader's summary.

This is the only module that knows the summary's layout (``mcp_server/exports/index.py``): when the
export engine's summary changes, only this module changes with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from mcp_server.library.model import (
    MAX_DEVICE,
    MAX_ERRORS,
    MAX_EVENTS,
    MAX_PAGES,
    MAX_REQUESTS,
    MAX_TRAITS,
    MESSAGE_CHARS,
    NAME_CHARS,
    TRAIT_CHARS,
    TYPE_CHARS,
    URL_CHARS,
    ErrorFact,
    EventFact,
    ExportRef,
    RequestFact,
    SessionFacts,
    cut,
    fold,
)


class NoTimestamps(ValueError):
    """The export has no event with a readable time, so the session cannot be placed in time."""


def facts_from_summary(summary: dict[str, Any], *, app: str, session_id: str, export: ExportRef) -> SessionFacts:
    first, last = summary.get("first_ms"), summary.get("last_ms")
    if not isinstance(first, int) or not isinstance(last, int):
        raise NoTimestamps("the export has no timestamped events")
    user = summary.get("user") or {}
    meta = summary.get("meta") or {}
    counts = summary.get("counts") or {}
    reading = summary.get("reading") or {}

    def text(value: Any, limit: int) -> str | None:
        return cut(str(value), limit) if value not in (None, "") else None

    pages: list[str] = []
    seen: set[str] = set()
    for _, href in summary.get("pages") or []:
        href = cut(str(href), URL_CHARS) or ""
        if href and href not in seen and len(pages) < MAX_PAGES:
            seen.add(href)
            pages.append(href)

    # Grouped again after cutting: two messages that differ only past the display size are one error here.
    grouped: dict[tuple[str, str], ErrorFact] = {}
    for e in summary.get("errors") or []:
        error_type = cut(str(e.get("type") or "Error"), TYPE_CHARS) or "Error"
        message = cut(str(e.get("message") or ""), MESSAGE_CHARS) or ""
        count = int(e.get("count") or 1)
        known = grouped.get((error_type, message))
        if known is not None:
            grouped[(error_type, message)] = replace(known, count=known.count + count)
        elif len(grouped) < MAX_ERRORS:
            grouped[(error_type, message)] = ErrorFact(
                error_type=error_type,
                message=message,
                count=count,
                first_offset_ms=e["first_t"] - first if isinstance(e.get("first_t"), int) else None,
                page=text(e.get("page"), URL_CHARS),
            )
    errors = list(grouped.values())
    # The summary keeps each failed request; the index keeps them grouped by method, URL and status.
    failed: Counter[tuple[str, str, int]] = Counter()
    for r in summary.get("failed_requests") or []:
        key = (
            cut(str(r.get("method") or "?"), 16) or "?",
            cut(str(r.get("url") or ""), URL_CHARS) or "",
            int(r.get("status") or 0),
        )
        if key in failed or len(failed) < MAX_REQUESTS:
            failed[key] += 1
    requests = [RequestFact(m, u, s, n) for (m, u, s), n in failed.items()]
    names: Counter[str] = Counter()
    for name, n in list((summary.get("custom_names") or {}).items())[:MAX_EVENTS]:
        names[cut(str(name), NAME_CHARS) or ""] += int(n)
    custom = [EventFact(name, n) for name, n in names.items()]
    traits = {
        str(k)[:100]: cut(str(v), TRAIT_CHARS) or "" for k, v in list((user.get("traits") or {}).items())[:MAX_TRAITS]
    }
    device = {
        str(k)[:80]: cut(str(v), TRAIT_CHARS) or ""
        for k, v in list(meta.items())[:MAX_DEVICE]
        if k not in ("user_id", "session_id", "app_id", "app_name", "tab_id")
    }
    return SessionFacts(
        app=app,
        session_id=session_id,
        export=export,
        started_ms=first,
        ended_ms=last,
        user_id=text(user.get("user_id") or meta.get("user_id"), NAME_CHARS),
        user_name=text(user.get("name"), NAME_CHARS),
        user_email=text(user.get("email"), NAME_CHARS),
        traits=traits,
        device=device,
        pages=tuple(pages),
        pages_total=int(summary.get("pages_total") or len(pages)),
        events=int(reading.get("parsed") or sum(v for k, v in counts.items() if k in _EVENT_KINDS)),
        errors=int(counts.get("error", 0)),
        failed_requests=int(summary.get("failed_total") or counts.get("network_failed", 0)),
        console_errors=int(counts.get("console_error", 0)),
        console_warnings=int(counts.get("console_warn", 0)),
        custom_events=int(counts.get("custom", 0)),
        error_list=tuple(errors),
        requests=tuple(requests),
        custom=tuple(custom),
        complete=not (reading.get("byte_cap_hit") or reading.get("time_budget_hit") or reading.get("transfer_error")),
    )


def names_user(summary: dict[str, Any], who: str) -> bool:
    """Whether the summary's user has this id or email (case-folded), for forgetting a user's cached exports."""
    user = summary.get("user") or {}
    meta = summary.get("meta") or {}
    key = fold(who)
    return key in (fold(str(user.get("user_id") or meta.get("user_id") or "")), fold(str(user.get("email") or "")))


def read_was_interrupted(summary: dict[str, Any]) -> str | None:
    """Why a read stopped early in a way a later attempt may get past (time, a broken transfer), if it did."""
    reading = summary.get("reading") or {}
    if reading.get("transfer_error"):
        return f"the download broke off: {reading['transfer_error']}"
    if reading.get("time_budget_hit"):
        return "the read ran out of time"
    return None


_EVENT_KINDS = ("meta", "identify", "navigation", "click", "input", "redux", "console", "network", "error", "custom")
