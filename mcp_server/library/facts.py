"""SessionFacts from the export reader's typed summary (``mcp_server/exports/summary.py``).

This is the only module that knows the summary's layout: when the export engine's summary changes, only
this module changes with it.
"""

from __future__ import annotations

from collections import Counter

from mcp_server.exports.summary import SessionSummary
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


def facts_from_summary(summary: SessionSummary, *, app: str, session_id: str, export: ExportRef) -> SessionFacts:
    first, last = summary.first_ms, summary.last_ms
    if first is None or last is None:
        raise NoTimestamps("the export has no timestamped events")
    user = summary.user
    counts = summary.counts

    def text(value: object, limit: int) -> str | None:
        return cut(str(value), limit) if value not in (None, "") else None

    pages: list[str] = []
    seen: set[str] = set()
    for visit in summary.pages:
        href = cut(visit.href, URL_CHARS) or ""
        if href and href not in seen and len(pages) < MAX_PAGES:
            seen.add(href)
            pages.append(href)

    # Grouped again after cutting: two messages that differ only past the display size are one error here.
    errors: dict[tuple[str, str], ErrorFact] = {}
    for e in summary.errors:
        key = (cut(e.type or "Error", TYPE_CHARS) or "Error", cut(e.message or "", MESSAGE_CHARS) or "")
        known = errors.get(key)
        if known is not None:
            errors[key] = ErrorFact(
                known.error_type, known.message, known.count + e.count, known.first_offset_ms, known.page
            )
        elif len(errors) < MAX_ERRORS:
            errors[key] = ErrorFact(key[0], key[1], e.count, summary.offset(e.first_t), text(e.page, URL_CHARS))

    # Grouped by method, URL and status (regrouped after cutting the URL to its display size).
    failed: Counter[tuple[str, str, int]] = Counter()
    for g in summary.failed_groups:
        request = (cut(g.method or "?", 16) or "?", cut(g.url or "", URL_CHARS) or "", g.status or 0)
        if request in failed or len(failed) < MAX_REQUESTS:
            failed[request] += g.count

    names: Counter[str] = Counter()
    for n in summary.custom_names[:MAX_EVENTS]:
        names[cut(n.name, NAME_CHARS) or ""] += n.count

    user_id = (user.user_id if user else None) or summary.meta.get("user_id")
    reading = summary.reading
    return SessionFacts(
        app=app,
        session_id=session_id,
        export=export,
        started_ms=first,
        ended_ms=last,
        user_id=text(user_id, NAME_CHARS),
        user_name=text(user.name if user else None, NAME_CHARS),
        user_email=text(user.email if user else None, NAME_CHARS),
        traits={
            k[:100]: cut(v, TRAIT_CHARS) or "" for k, v in list((user.traits if user else {}).items())[:MAX_TRAITS]
        },
        device={k[:80]: cut(v, TRAIT_CHARS) or "" for k, v in list(summary.device.items())[:MAX_DEVICE]},
        pages=tuple(pages),
        pages_total=summary.pages_total or len(pages),
        events=reading.parsed or counts.total,
        errors=counts.error,
        failed_requests=summary.failed_total or counts.network_failed,
        console_errors=counts.console_error,
        console_warnings=counts.console_warn,
        custom_events=counts.custom,
        error_list=tuple(errors.values()),
        requests=tuple(RequestFact(m, u, s, n) for (m, u, s), n in failed.items()),
        custom=tuple(EventFact(name, n) for name, n in names.items()),
        complete=reading.complete,
    )


def names_user(summary: SessionSummary, who: str) -> bool:
    """Whether the summary's user has this id or email (case-folded), for forgetting a user's cached exports."""
    user = summary.user
    key = fold(who)
    user_id = (user.user_id if user else None) or summary.meta.get("user_id")
    return key in (fold(str(user_id or "")), fold(user.email if user else None))


def read_was_interrupted(summary: SessionSummary) -> str | None:
    """Why a read stopped early in a way a later attempt may get past (time, a broken transfer), if it did."""
    reading = summary.reading
    if reading.transfer_error:
        return f"the download broke off: {reading.transfer_error}"
    if reading.time_budget_hit:
        return "the read ran out of time"
    return None


def bytes_read(summary: SessionSummary) -> int:
    return summary.reading.bytes
