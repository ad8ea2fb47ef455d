"""Build the compact index of one export in a single streaming pass.

The index is two things: a ``summary.json`` (who, when, counts, grouped errors, failed requests, pages,
console problems, custom events, a short timeline, reading notes) whose every list is capped, and one
JSON Lines file per focus (errors, network, console, ...) holding every item in time order of arrival,
so a focused listing can page through all of them from disk. Memory stays flat whatever the file
size: the only per-session structures are the capped lists and the table of requests awaiting their
response (also capped).
"""

from __future__ import annotations

import gc
import heapq
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from mcp_server.exports.shapes import SHAPES, Shape

_FALLBACK = SHAPES[-1]  # matches anything, so it never sticks as "the file's shape"
FOCUS_FILES = ("errors", "network", "console", "navigation", "custom", "user", "timeline", "other")
SUMMARY_FILE = "summary.json"

# Caps on what the summary keeps (the focus files keep everything, up to FOCUS_FILE_MAX_BYTES each).
MAX_PAGES = 300
MAX_ERROR_GROUPS = 2000
MAX_CONSOLE_GROUPS = 2000
MAX_FAILED = 300
MAX_CUSTOM = 200
MAX_OTHER_TYPES = 500
MAX_OPEN_REQUESTS = 100_000
TIMELINE_SIZE = 30
FOCUS_FILE_MAX_BYTES = 128 << 20
OTHER_RAW_CHARS = 2000
_TEXT = 2000  # longest string kept per field in an item


def _cut(text: str | None, limit: int = _TEXT) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[:limit] + "…"


class FocusWriter:
    """Appends items to one JSON Lines file, tracking size and CRC-32 as it goes (for the cache manifest)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("wb")
        # One growing buffer: orjson's output objects keep spare capacity, so holding them would cost ~4 KB each.
        self._pending = bytearray()
        self.size = 0
        self.crc = 0
        self.count = 0
        self.dropped = 0

    def add(self, item: dict[str, Any]) -> None:
        if self.size + len(self._pending) >= FOCUS_FILE_MAX_BYTES:
            self.dropped += 1
            return
        self._pending += orjson.dumps(item, option=orjson.OPT_APPEND_NEWLINE)
        self.count += 1
        if len(self._pending) >= 1 << 19:
            self._flush()

    def _flush(self) -> None:
        self._file.write(self._pending)
        self.crc = zlib.crc32(self._pending, self.crc)
        self.size += len(self._pending)
        self._pending.clear()

    def close(self) -> None:
        self._flush()
        self._file.close()


@dataclass
class ParseStats:
    parsed: int = 0
    blank: int = 0
    invalid_json: int = 0
    not_utf8: int = 0
    not_object: int = 0
    shapes: Counter[str] = field(default_factory=Counter)


class IndexBuilder:
    """The ``EventSink`` that turns events into the summary and the focus files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files = {name: FocusWriter(directory / f"{name}.jsonl") for name in FOCUS_FILES}
        self.stats = ParseStats()
        self.counts: Counter[str] = Counter()
        self.other_types: Counter[str] = Counter()
        self.first: int | None = None
        self.last: int | None = None
        self.page: str | None = None
        self.pages: list[list[Any]] = []
        self.pages_total = 0
        self.user: dict[str, Any] = {}
        self.metadata: dict[str, Any] = {}
        self.errors: dict[tuple[str, str], dict[str, Any]] = {}
        self.errors_overflow = 0
        self.console_groups: dict[tuple[str, str], dict[str, Any]] = {}
        self.console_overflow = 0
        self.failed: list[dict[str, Any]] = []
        self.failed_total = 0
        self.custom_events: list[dict[str, Any]] = []
        self.custom_names: Counter[str] = Counter()
        self.open_requests: dict[str, tuple[int | None, str, str, str | None]] = {}
        # (priority, order, item): the timeline keeps the most important moments, bounded.
        self._moments: list[tuple[int, int, dict[str, Any]]] = []
        self._order = 0
        self._shape: Shape = _FALLBACK

    # -- feeding --------------------------------------------------------------------------------

    def feed(self, batch: list[bytes]) -> None:
        # The batch allocates many short-lived objects and frees them at once; the cycle collector would
        # only slow it down. No other code runs during a batch (it never awaits).
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._feed(batch)
        finally:
            if collecting:
                gc.enable()

    def _feed(self, batch: list[bytes]) -> None:
        stats = self.stats
        loads = orjson.loads
        # Files hold one shape throughout: the shape of the previous line is tried first, and its sniffer
        # handles the lines it can read from their bytes alone, without parsing them.
        shape = self._shape
        handled = 0  # lines of `shape` read so far in this batch (sniffed or parsed)
        for line in batch:
            if shape.sniff(line, self):
                handled += 1
                continue
            try:
                obj = loads(line)
            except orjson.JSONDecodeError:
                if not line.strip():
                    stats.blank += 1
                    continue
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    stats.not_utf8 += 1
                else:
                    stats.invalid_json += 1
                continue
            if type(obj) is not dict:
                stats.not_object += 1
                continue
            if shape is _FALLBACK or not shape.matches(obj):
                stats.parsed += handled
                stats.shapes[shape.name] += handled
                handled = 0
                shape = next(s for s in SHAPES if s.matches(obj))
                self._shape = shape
            handled += 1
            shape.feed(obj, line, self)
        stats.parsed += handled
        stats.shapes[shape.name] += handled

    def _time(self, t: int | None) -> None:
        if t is None:
            return
        if self.first is None or t < self.first:
            self.first = t
        if self.last is None or t > self.last:
            self.last = t

    def _moment(self, priority: int, t: int | None, kind: str, text: str) -> None:
        item = {"t": t, "kind": kind, "text": _cut(text, 300)}
        self.files["timeline"].add(item)
        self._order += 1
        entry = (-priority, -self._order, item)
        if len(self._moments) < TIMELINE_SIZE:
            heapq.heappush(self._moments, entry)
        elif entry > self._moments[0]:
            heapq.heapreplace(self._moments, entry)

    # -- EventSink ------------------------------------------------------------------------------

    def meta(self, t: int | None, fields: dict[str, Any]) -> None:
        self._time(t)
        self.counts["meta"] += 1
        for key, value in list(fields.items())[:40]:
            if isinstance(value, str | int | float | bool) and len(self.metadata) < 60:
                self.metadata[str(key)[:80]] = _cut(str(value), 200) if isinstance(value, str) else value
        self.files["user"].add(
            {"t": t, "kind": "metadata", "fields": {k: _cut(str(v), 200) for k, v in fields.items()}}
        )

    def identify(self, t: int | None, user_id: Any, name: Any, email: Any, traits: dict[str, Any]) -> None:
        self._time(t)
        self.counts["identify"] += 1
        record = {
            "user_id": _cut(str(user_id), 300) if user_id is not None else None,
            "name": _cut(str(name), 300) if name else None,
            "email": _cut(str(email), 300) if email else None,
            "traits": {str(k)[:100]: _cut(str(v), 300) for k, v in list(traits.items())[:100]},
        }
        self.user = {k: v for k, v in record.items() if v} or self.user
        self.files["user"].add({"t": t, "kind": "identify", **record})
        who = record["email"] or record["name"] or record["user_id"] or "a user"
        self._moment(3, t, "identify", f"identified as {who}")

    def navigation(self, t: int | None, href: str) -> None:
        self._time(t)
        self.counts["navigation"] += 1
        href = _cut(href, 1000) or ""
        if href == self.page:
            return
        self.page = href
        self.files["navigation"].add({"t": t, "href": href})
        self.pages_total += 1
        if len(self.pages) < MAX_PAGES:
            self.pages.append([t, href])
        self._moment(1, t, "navigation", href)

    def click(self, t: int | None) -> None:
        self._time(t)
        self.counts["click"] += 1

    def input(self, t: int | None) -> None:
        self._time(t)
        self.counts["input"] += 1

    def redux(self, t: int | None) -> None:
        self._time(t)
        self.counts["redux"] += 1

    def console(self, t: int | None, level: str, message: str) -> None:
        self._time(t)
        self.counts["console"] += 1
        message = _cut(message) or ""
        self.files["console"].add({"t": t, "level": level, "message": message, "page": self.page})
        if level in ("ERROR", "WARN", "WARNING"):
            level = "WARN" if level == "WARNING" else level
            self.counts[f"console_{level.lower()}"] += 1
            key = (level, message[:500])
            group = self.console_groups.get(key)
            if group is not None:
                group["count"] += 1
            elif len(self.console_groups) < MAX_CONSOLE_GROUPS:
                self.console_groups[key] = {
                    "level": level,
                    "message": message,
                    "count": 1,
                    "first_t": t,
                    "page": self.page,
                }
            else:
                self.console_overflow += 1
            if level == "ERROR":
                self._moment(4, t, "console error", message)

    def request(self, t: int | None, req_id: str, method: str, url: str) -> None:
        self._time(t)
        if len(self.open_requests) >= MAX_OPEN_REQUESTS:
            # Bounded memory: the oldest request still waiting is reported as never answered.
            t0, m, u, page = self.open_requests.pop(next(iter(self.open_requests)))
            self._network(t0, m, u, None, None, page)
        self.open_requests[req_id] = (t, method, _cut(url, 2000) or "", self.page)

    def response(self, t: int | None, req_id: str, status: int | None, method: str | None) -> None:
        self._time(t)
        opened = self.open_requests.pop(req_id, None)
        if opened is None:
            self._network(t, method or "?", "(request not recorded)", status, None, self.page)
            return
        t0, m, url, page = opened
        duration = t - t0 if t is not None and t0 is not None else None
        self._network(t0, m, url, status if status is not None else 0, duration, page)

    def network(self, t: int | None, method: str, url: str, status: int | None, duration: int | None) -> None:
        self._time(t)
        self._network(t, method, _cut(url, 2000) or "", status, duration, self.page)

    def _network(
        self, t: int | None, method: str, url: str, status: int | None, duration: int | None, page: str | None
    ) -> None:
        self.counts["network"] += 1
        failed = status is None or status == 0 or status >= 400
        item = {"t": t, "method": method, "url": url, "status": status, "duration": duration, "page": page}
        if failed:
            item["failed"] = True
            self.counts["network_failed"] += 1
            self.failed_total += 1
            if len(self.failed) < MAX_FAILED:
                self.failed.append(item)
            label = f"HTTP {status}" if status else "no response"
            self._moment(5, t, "failed request", f"{method} {url} → {label}")
        self.files["network"].add(item)

    def exception(self, t: int | None, error_type: str, message: str, page: str | None, stack: str | None) -> None:
        self._time(t)
        self.counts["error"] += 1
        page = _cut(page, 1000) if isinstance(page, str) else self.page
        message = _cut(message) or ""
        item = {
            "t": t,
            "type": _cut(error_type, 200),
            "message": message,
            "page": page,
            "stack": _cut(stack, 4000) if isinstance(stack, str) else None,
        }
        self.files["errors"].add(item)
        key = (str(item["type"] or ""), message[:500])
        group = self.errors.get(key)
        if group is not None:
            group["count"] += 1
            group["last_t"] = t
            return
        if len(self.errors) < MAX_ERROR_GROUPS:
            self.errors[key] = {
                "type": item["type"],
                "message": message,
                "count": 1,
                "first_t": t,
                "last_t": t,
                "page": page,
            }
        else:
            self.errors_overflow += 1
        self._moment(6, t, "error", f"{item['type']}: {message}")

    def custom(self, t: int | None, name: str, properties: dict[str, Any]) -> None:
        self._time(t)
        self.counts["custom"] += 1
        name = _cut(name, 200) or ""
        props = {str(k)[:100]: v for k, v in list(properties.items())[:50]}
        item = {"t": t, "name": name, "properties": props}
        self.files["custom"].add(item)
        self.custom_names[name] += 1
        if len(self.custom_events) < MAX_CUSTOM:
            self.custom_events.append(item)
        self._moment(2, t, "custom event", name)

    def other(self, t: int | None, type_name: str, line: bytes) -> None:
        self._time(t)
        self.counts["other"] += 1
        type_name = type_name[:120]
        if type_name in self.other_types or len(self.other_types) < MAX_OTHER_TYPES:
            self.other_types[type_name] += 1
        else:
            self.other_types["(other types)"] += 1
        raw = line[:OTHER_RAW_CHARS].decode("utf-8", "replace")
        self.files["other"].add({"t": t, "type": type_name, "raw": raw, "cut": len(line) > OTHER_RAW_CHARS})

    # -- finishing ------------------------------------------------------------------------------

    def finish(self, reading: dict[str, Any], *, transfer_complete: bool) -> dict[str, Any]:
        """Close the files and return the summary (the caller writes it to summary.json)."""
        if transfer_complete:
            # Requests still open when the session ended never got a response.
            for req_id in list(self.open_requests):
                t, method, url, page = self.open_requests.pop(req_id)
                self._network(t, method, url, None, None, page)
        for writer in self.files.values():
            writer.close()
        moments = sorted((m[2] for m in self._moments), key=lambda m: (m["t"] is None, m["t"] or 0))
        return {
            "first_ms": self.first,
            "last_ms": self.last,
            "user": self.user,
            "meta": self.metadata,
            "counts": dict(self.counts),
            "other_types": dict(self.other_types.most_common()),
            "pages": self.pages,
            "pages_total": self.pages_total,
            "errors": sorted(self.errors.values(), key=lambda g: (g["first_t"] is None, g["first_t"] or 0)),
            "errors_distinct_overflow": self.errors_overflow,
            "failed_requests": sorted(self.failed, key=lambda r: (r["t"] is None, r["t"] or 0)),
            "failed_total": self.failed_total,
            "console": sorted(self.console_groups.values(), key=lambda g: (g["first_t"] is None, g["first_t"] or 0)),
            "console_overflow": self.console_overflow,
            "custom_events": self.custom_events,
            "custom_names": dict(self.custom_names.most_common(50)),
            "timeline": moments,
            "items": {name: w.count for name, w in self.files.items()},
            "items_dropped": {name: w.dropped for name, w in self.files.items() if w.dropped},
            "pending_requests": len(self.open_requests),
            "reading": {
                **reading,
                "parsed": self.stats.parsed,
                "blank": self.stats.blank,
                "invalid_json": self.stats.invalid_json,
                "not_utf8": self.stats.not_utf8,
                "not_object": self.stats.not_object,
                "shapes": dict(self.stats.shapes),
            },
        }

    def file_facts(self) -> dict[str, tuple[int, int]]:
        return {f"{name}.jsonl": (w.size, w.crc) for name, w in self.files.items()}
