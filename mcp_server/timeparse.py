"""Points in time as agents write them: epoch milliseconds, ISO-8601, or a relative age ("24h", "7d")."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

from mcp_server.errors import InputError
from mcp_server.text import clean_text

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?|w|weeks?)(?:\s+ago)?$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
# Epoch values below this are seconds, not milliseconds (1e11 ms is March 1973; 1e11 s is year 5138).
_SECONDS_CEILING = 10**11
_MS_CEILING = 10**14

FORMS = (
    "epoch milliseconds (1795132800000), an ISO-8601 date or date-time (2026-11-20, 2026-11-20T14:30:00Z), "
    "or an age such as 90m, 24h or 7d"
)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_instant(value: str | int, *, field: str, now: int | None = None) -> int:
    """Epoch milliseconds for ``value``; an InputError that shows the accepted forms otherwise."""
    current = now_ms() if now is None else now
    if isinstance(value, bool):
        raise InputError(f"{field} must be a time, not a boolean; use {FORMS}.")
    if isinstance(value, int):
        return _from_epoch(value, field)
    text = value.strip()
    if not text:
        raise InputError(f"{field} is empty; use {FORMS}.")
    if re.fullmatch(r"-?\d+", text):
        return _from_epoch(int(text), field)
    lowered = text.lower()
    if lowered == "now":
        return current
    if lowered in ("today", "yesterday"):
        day = datetime.fromtimestamp(current / 1000, UTC).date()
        if lowered == "yesterday":
            day -= timedelta(days=1)
        return _ms(datetime(day.year, day.month, day.day, tzinfo=UTC))
    match = _RELATIVE.match(lowered)
    if match:
        amount = float(match.group(1))
        seconds = amount * _UNIT_SECONDS[match.group(2)[0]]
        return _in_range(current - round(seconds * 1000), field, text)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return _in_range(_ms(datetime(day.year, day.month, day.day, tzinfo=UTC)), field, text)
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise InputError(f"{field}={clean_text(text, 60)!r} is not a time I can read; use {FORMS}.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # documented: no offset means UTC
    return _in_range(_ms(moment), field, text)


def iso(ms: int, *, milliseconds: bool = False) -> str:
    """``2026-11-20T14:30:00Z``, the one way this server writes a time: UTC, milliseconds shown when present
    (always with ``milliseconds``, for answers that should keep one shape).

    Times also come from recorded sessions and upstream answers, which may hold anything: one beyond what a
    datetime can show (before year 1, after 9999) is shown as the number it is.
    """
    try:
        moment = datetime.fromtimestamp(ms / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return f"{ms} ms since 1970 (out of the calendar's range)"
    text = moment.isoformat(timespec="milliseconds" if milliseconds or ms % 1000 else "seconds")
    return text.replace("+00:00", "Z")


def duration(seconds: float, *, fine: bool = False) -> str:
    """How long something took, the one way this server says it: ``40 s``, ``2 min 5 s``, ``1 h 2 min``.

    With ``fine`` (a network request's time), short ones keep their precision: ``850 ms``, ``4.2 s``.
    """
    if fine and seconds < 1:
        return f"{max(0, round(seconds * 1000))} ms"
    if fine and seconds < 60:
        return f"{seconds:.1f} s"
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _from_epoch(value: int, field: str) -> int:
    if value < 0:
        raise InputError(f"{field} must not be negative; use {FORMS}.")
    if 0 < value < _SECONDS_CEILING:
        raise InputError(
            f"{field}={value} looks like seconds since the epoch, but LogRocket wants milliseconds: "
            f"use {value * 1000} (or an ISO-8601 date such as {iso(value * 1000)})."
        )
    if value >= _MS_CEILING:
        raise InputError(f"{field}={value} is too large for epoch milliseconds (microseconds?); use {FORMS}.")
    return value


def _in_range(ms: int, field: str, text: str) -> int:
    """Session data exists from 1970 on; a time before it (say "1000000d" ago) is a mistake, not a query."""
    if ms < 0:
        raise InputError(
            f"{field}={clean_text(text, 60)!r} is before 1970, earlier than any recorded session; use {FORMS}."
        )
    if ms >= _MS_CEILING:
        raise InputError(f"{field}={clean_text(text, 60)!r} is too far in the future; use {FORMS}.")
    return ms


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


_OFFSET_UNITS = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|h|m|s)")
_CLOCK = re.compile(r"^\+?(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")
OFFSET_FORMS = (
    "an offset from the session start such as 90s, 5m, 1h2m or 12:30 (mm:ss), or a time: epoch milliseconds or ISO-8601"
)


def parse_offset_or_instant(value: str | int, *, field: str) -> tuple[str, int]:
    """``("offset", ms)`` for "90s", "1h2m", "+5m", "12:30"; ``("time", epoch ms)`` for an instant."""
    if isinstance(value, bool):
        raise InputError(f"{field} must be {OFFSET_FORMS}.")
    if isinstance(value, int):
        if 0 <= value < _SECONDS_CEILING:
            raise InputError(
                f"{field}={value} is ambiguous: give an offset with a unit ({value}s or {value}ms) or a time as "
                "epoch milliseconds or ISO-8601."
            )
        return "time", _from_epoch(value, field)
    text = value.strip().lower()
    clock = _CLOCK.match(text)
    if clock:
        hours, minutes, seconds = clock.groups()
        total = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
        return "offset", round(total * 1000)
    compact = text.lstrip("+").replace(" ", "")
    if compact and _OFFSET_UNITS.sub("", compact) == "" and not compact.isdigit():
        factor = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
        return "offset", round(sum(float(n) * factor[u] for n, u in _OFFSET_UNITS.findall(compact)))
    try:
        return "time", parse_instant(value, field=field)
    except InputError:
        raise InputError(
            f"{field}={clean_text(value, 40)!r} is not an offset or a time I can read; use {OFFSET_FORMS}."
        ) from None
