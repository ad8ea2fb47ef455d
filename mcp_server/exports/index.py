"""Build the compact index of one export in a single streaming pass.

The index is a typed ``SessionSummary`` (who, when, counts, grouped errors, failed requests, pages,
console problems, custom events, a short timeline, reading notes; see summary.py) and one listing
file per focus holding every item as a compact row (focus.py), in time order of the session.

Bounded whatever the file holds: every value is cut to its display size as it is indexed, before any
per-character work; every per-session structure is capped (groups, names, pages, requests awaiting
their response); listing files stop at ``LISTING_MAX_BYTES`` (counted as dropped); the summary fits
``SUMMARY_MAX_BYTES``.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import math
import zlib
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from mcp_server.exports.fastpath import (
    FAST_DECODERS,
    DecodeFailed,
    FastEvent,
    Refused,
    SdkClick,
    SdkLog,
    SdkNavigation,
    SdkRequest,
    SdkResponse,
)
from mcp_server.exports.focus import (
    ROW_TYPES,
    ConsoleRow,
    CustomRow,
    ErrorGroupRow,
    ErrorRow,
    MomentRow,
    NavigationRow,
    NetworkRow,
    OtherRow,
    Row,
    UserRow,
)
from mcp_server.exports.shapes import ARGS_KEPT, LEVEL_CHARS, MAX_MS, SHAPES, BadLine, Shape, json_text, parse_line
from mcp_server.exports.summary import (
    SUMMARY_MAX_BYTES,
    ConsoleGroup,
    Counts,
    CustomEvent,
    ErrorGroup,
    FailedRequest,
    FailedRequestGroup,
    Moment,
    NameCount,
    PageVisit,
    Reading,
    Scalar,
    SessionSummary,
    UserInfo,
    encode_summary,
)

_FALLBACK = SHAPES[-1]  # matches anything, so it never sticks as "the file's shape"
SUMMARY_FILE = "summary.json"
LISTING_FILES = tuple(ROW_TYPES)

# Caps on what is held while reading (and so on what the summary can say).
MAX_PAGES = 300
MAX_GROUPS = 1000  # distinct errors, and distinct console problems, kept in full
MAX_GROUP_PAGES = 5
MAX_GROUPS_BEYOND = 50_000
MAX_FAILED = 300
MAX_CUSTOM = 100
MAX_CUSTOM_NAMES = 1000
MAX_OTHER_TYPES = 500
MAX_OPEN_REQUESTS = 5000  # requests awaiting a response, held so the network listing stays in time order
MAX_META_FIELDS = 60
MAX_TRAITS = 100
MAX_PROPERTIES = 50
TIMELINE_SIZE = 30
# What the summary shows of the lists above (the listing files hold them all).
SUMMARY_LIST = 100
SUMMARY_PROPERTIES = 10
LISTING_MAX_BYTES = 128 << 20
OTHER_RAW_CHARS = 2000
_TEXT = 2000  # longest string kept per field in a row
_URL = 1000
_DEVICE_WORDS = ("browser", "device", "country", "os", "platform")
_NO_TIME_YET = MAX_MS + 1


def cut(text: str, limit: int = _TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def scalar(value: Any, limit: int) -> Scalar:
    """A recorded value as the index keeps it: cut strings, plain numbers, nested values as cut JSON text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return cut(value, limit)
    if isinstance(value, int):
        return value if -(1 << 63) <= value < 1 << 63 else float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return cut(json_text(value), limit)


def _first_items(mapping: dict[Any, Any], n: int) -> list[tuple[Any, Any]]:
    return list(itertools.islice(mapping.items(), n))


class RowWriter:
    """Collects compact rows for one listing file and writes them in bulk (after every batch of lines),
    tracking size and CRC-32 for the cache manifest. Hot paths append to ``rows`` directly. Without a path
    (a summary-only build) the rows are encoded and counted exactly as if written, so the summary's counts
    are the same, but nothing is written; or, with ``keep``, kept in ``kept`` (a segment's part, segments.py)."""

    _encode_lines = msgspec.json.Encoder().encode_lines

    def __init__(self, path: Path | None, *, keep: bool = False) -> None:
        self.path = path
        # Rows come in small bulks: few, large writes.
        self._file = path.open("wb", buffering=1 << 20) if path is not None else None
        self.kept = bytearray() if keep else None
        self.rows: list[Row] = []
        self.size = 0
        self.crc = 0
        self.count = 0
        self.dropped = 0

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def flush(self) -> None:
        rows = self.rows
        if not rows:
            return
        if self.size >= LISTING_MAX_BYTES:
            self.dropped += len(rows)  # the file is full: counted, not kept
            rows.clear()
            return
        self.count += len(rows)
        data = self._encode_lines(rows)
        rows.clear()
        self._put(data)

    def _put(self, data: bytes) -> None:
        if self._file is not None:
            self._file.write(data)
            self.crc = zlib.crc32(data, self.crc)
        elif self.kept is not None:
            self.kept += data
        self.size += len(data)

    def add_encoded(self, data: bytes, count: int) -> None:
        """Append ``count`` rows already encoded (a segment's part), after the rows added so far."""
        self.flush()
        self.count += count
        self._put(data)

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()


@dataclass
class ParseStats:
    parsed: int = 0
    blank: int = 0
    invalid_json: int = 0
    not_utf8: int = 0
    not_object: int = 0
    shapes: Counter[str] = field(default_factory=Counter)


# The status of a network row still awaiting its response (no status _int() reads is outside 64 bits).
_AWAITING = -(1 << 63) - 1


class IndexBuilder:
    """The ``EventSink`` that turns events into the summary and the listing files (none without a directory:
    a summary-only build, the same summary)."""

    _group_pages = MAX_GROUP_PAGES  # distinct pages kept per error group

    def __init__(self, directory: Path | None, *, fast: bool = True, keep: bool = False) -> None:
        self.directory = directory
        self.files = {
            name: RowWriter(directory / f"{name}.jsonl" if directory is not None else None, keep=keep)
            for name in LISTING_FILES
        }
        # The hot listings' row lists, appended to directly.
        self._timeline = self.files["timeline"].rows
        self._network_rows = self.files["network"].rows
        self._console_rows = self.files["console"].rows
        self._custom_rows = self.files["custom"].rows
        self._navigation_rows = self.files["navigation"].rows
        self.stats = ParseStats()
        self.counts = Counts()
        self.other_types: Counter[str] = Counter()
        # Earliest and latest times seen (sentinels until then: every time is within 0..MAX_MS).
        self.first = _NO_TIME_YET
        self.last = -1
        self.page: str | None = None
        self.pages: list[PageVisit] = []
        self.pages_total = 0
        self.user: UserInfo | None = None
        self.metadata: dict[str, Scalar] = {}
        self.errors: dict[tuple[str, str], ErrorGroup] = {}
        self.errors_distinct = 0
        self.console_groups: dict[tuple[str, str], ConsoleGroup] = {}
        self.console_distinct = 0
        # Groups beyond the caps are only counted: their keys' hashes, so each is counted once (capped too).
        self._errors_beyond: set[int] = set()
        self._console_beyond: set[int] = set()
        self.failed: list[FailedRequest] = []
        self.failed_total = 0
        self.failed_groups: dict[tuple[str, str, int | None], FailedRequestGroup] = {}
        self.custom_events: list[CustomEvent] = []
        self.custom_names: Counter[str] = Counter()
        # Requests in the order they were made; each is written once it and every earlier one is complete.
        self._requests: deque[NetworkRow] = deque()
        self._open: dict[str, NetworkRow] = {}
        # (priority, -order, moment): a min-heap whose root is the least important, latest moment.
        self._moments: list[tuple[int, int, MomentRow]] = []
        self._order = 0
        self._shape: Shape = _FALLBACK
        self._fast = fast

    # -- feeding --------------------------------------------------------------------------------

    def feed(self, batch: list[bytes]) -> None:
        # The batch allocates many short-lived objects and frees them at once; the cycle collector would
        # only slow it down. No other code runs during a batch (it never awaits).
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._feed(batch)
            for writer in self.files.values():
                writer.flush()  # rows go out while they are still in the CPU's cache
        finally:
            if collecting:
                gc.enable()

    def _feed(self, batch: list[bytes]) -> None:
        stats = self.stats
        shape = self._shape
        decode = self._fast_decoder(shape)
        handled = 0  # lines of `shape` read so far in this batch
        # The most frequent events are handled inline below, not by a call to their sink method (two calls
        # per line are measurable): the same steps, with counts and time bounds kept in locals and merged
        # into the builder's after the batch (the sink methods update those directly; sums and bounds merge).
        # A change to response, request, console, click or navigation must be made here too: the property
        # test in tests/test_export_decode.py compares this path with the general one, which calls them.
        first, last = _NO_TIME_YET, -1
        consoles = navigations = clicks = answered = 0
        requests = self._requests
        network_rows = self._network_rows
        open_requests = self._open
        console_rows = self._console_rows
        for line in batch:
            if not line:
                stats.blank += 1
                continue
            # The typed fast path (fastpath.py); anything it refuses falls through to the general path.
            if decode is not None and line.isascii():
                try:
                    event = decode(line)
                except DecodeFailed:
                    pass
                else:
                    if type(event) is SdkResponse:
                        t = event.time
                        if t > last:
                            last = t
                        if t < first:
                            first = t
                        d = event.data
                        row = open_requests.pop(d.reqId, None)
                        if row is None:
                            self.response(t, d.reqId, d.status, d.method)
                        else:
                            row.status = d.status
                            if row.t is not None:
                                row.duration = t - row.t
                            if requests[0] is row:
                                # _drain inlined: the oldest request got its answer, so it and every
                                # complete one behind it are written, in the order they were made.
                                while requests and requests[0].status != _AWAITING:
                                    done = requests.popleft()
                                    status = done.status
                                    if status is not None and status != 0 and status < 400:
                                        answered += 1
                                        network_rows.append(done)
                                    else:
                                        self._network(done)
                        handled += 1
                        continue
                    if type(event) is SdkRequest:
                        t = event.time
                        if t > last:
                            last = t
                        if t < first:
                            first = t
                        q = event.data
                        earlier = open_requests.pop(q.reqId, None)
                        if earlier is not None:
                            earlier.status = None  # the same id again: the earlier one never got its response
                        if len(requests) >= MAX_OPEN_REQUESTS and open_requests:
                            self._give_up_oldest()
                        url = q.url
                        if len(url) > _URL:
                            url = url[:_URL] + "…"
                        verb = q.method
                        if len(verb) > 20:
                            verb = verb[:20] + "…"
                        row = NetworkRow(t, verb, url, _AWAITING, None, self.page, False)
                        open_requests[q.reqId] = row
                        requests.append(row)
                        if requests[0].status != _AWAITING:
                            self._drain()
                        handled += 1
                        continue
                    if type(event) is SdkLog:
                        t = event.time
                        if t > last:
                            last = t
                        if t < first:
                            first = t
                        lg = event.data
                        level = lg.logLevel[:LEVEL_CHARS].upper()
                        args = lg.args
                        message = args[0] if len(args) == 1 else " ".join(args[:ARGS_KEPT])
                        if len(message) > _TEXT:
                            message = message[:_TEXT] + "…"
                        consoles += 1
                        console_rows.append(ConsoleRow(t, level, message, self.page))
                        if level == "ERROR" or level == "WARN" or level == "WARNING":
                            self._console_problem(t, level, message)
                        handled += 1
                        continue
                    if type(event) is SdkClick:
                        t = event.time
                        if t > last:
                            last = t
                        if t < first:
                            first = t
                        clicks += 1
                        handled += 1
                        continue
                    if type(event) is SdkNavigation:
                        t = event.time
                        if t > last:
                            last = t
                        if t < first:
                            first = t
                        href = event.data.href
                        if len(href) > _URL:
                            href = href[:_URL] + "…"
                        navigations += 1
                        if href != self.page:
                            self._new_page(t, href)
                        handled += 1
                        continue
                    try:
                        event.feed(self, line)
                    except Refused:
                        pass
                    else:
                        handled += 1
                        continue
            try:
                obj = parse_line(line)
            except BadLine as bad:
                setattr(stats, bad.why, getattr(stats, bad.why) + 1)
                continue
            if type(obj) is not dict:
                stats.not_object += 1
                continue
            if shape is _FALLBACK or not shape.matches(obj):
                stats.parsed += handled
                stats.shapes[shape.name] += handled
                handled = 0
                shape = self._choose_shape(obj)
                self._shape = shape
                decode = self._fast_decoder(shape)
            handled += 1
            shape.feed(obj, line, self)
        stats.parsed += handled
        stats.shapes[shape.name] += handled
        counts = self.counts
        counts.console += consoles
        counts.navigation += navigations
        counts.click += clicks
        counts.network += answered
        if last > self.last:
            self.last = last
        if first < self.first:
            self.first = first

    def _choose_shape(self, obj: dict[str, Any]) -> Shape:
        """The shape of a line the current shape does not read: the first that reads it."""
        return next(s for s in SHAPES if s.matches(obj))

    def _fast_decoder(self, shape: Shape) -> Callable[[bytes], FastEvent] | None:
        decoder = FAST_DECODERS.get(shape.name) if self._fast else None
        return decoder.decode if decoder is not None else None

    def _time(self, t: int | None) -> None:
        # Inlined in the hot handlers below (a call per event is measurable).
        if t is not None:
            if t > self.last:
                self.last = t
            if t < self.first:
                self.first = t

    def _moment(self, priority: int, t: int | None, kind: str, text: str) -> None:
        self._push_moment(priority, t, kind, text if len(text) <= 300 else text[:300] + "…")

    def _group_moment(
        self, groups: str, key: tuple[str, str], priority: int, t: int | None, kind: str, text: str
    ) -> None:
        """The moment of a distinct error or console problem seen for the first time (``key`` in ``groups``)."""
        self._moment(priority, t, kind, text)

    def _push_moment(self, priority: int, t: int | None, kind: str, text: str) -> None:
        moment = MomentRow(t, kind, text)
        self._timeline.append(moment)
        self._order += 1
        offer(self._moments, priority, self._order, moment)

    # -- EventSink ------------------------------------------------------------------------------

    def meta(self, t: int | None, fields: dict[str, Any]) -> None:
        self._time(t)
        self.counts.meta += 1
        kept = {str(k)[:80]: scalar(v, 200) for k, v in _first_items(fields, MAX_META_FIELDS)}
        self._keep_meta(kept)
        self.files["user"].add(UserRow(t, "metadata", None, None, None, kept))

    def _keep_meta(self, kept: dict[str, Scalar]) -> None:
        for key, value in kept.items():
            if len(self.metadata) < MAX_META_FIELDS or key in self.metadata:
                self.metadata[key] = value

    def identify(self, t: int | None, user_id: Any, name: Any, email: Any, traits: dict[str, Any]) -> None:
        self._time(t)
        self.counts.identify += 1

        def text(value: Any) -> str | None:
            if value is None or value == "" or value is False:
                return None
            return cut(value, 300) if isinstance(value, str) else cut(json_text(value), 300)

        kept = {str(k)[:100]: str(scalar(v, 300)) for k, v in _first_items(traits, MAX_TRAITS)}
        record = UserInfo(user_id=text(user_id), name=text(name), email=text(email), traits=kept)
        if record.user_id or record.name or record.email or record.traits:
            self.user = record
        self.files["user"].add(UserRow(t, "identify", record.user_id, record.name, record.email, dict(kept)))
        who = record.email or record.name or record.user_id or "a user"
        self._moment(3, t, "identify", f"identified as {who}")

    def navigation(self, t: int | None, href: str) -> None:
        if t is not None:
            if t > self.last:
                self.last = t
            if t < self.first:
                self.first = t
        self.counts.navigation += 1
        if len(href) > _URL:
            href = href[:_URL] + "…"
        if href != self.page:
            self._new_page(t, href)

    def _new_page(self, t: int | None, href: str) -> None:
        self.page = href
        self._navigation_rows.append(NavigationRow(t, href))
        self.pages_total += 1
        if len(self.pages) < MAX_PAGES:
            self.pages.append(PageVisit(t=t, href=href))
        # _moment(1, ...) inlined: the least important kind, so once the timeline is full it displaces nothing.
        moment = MomentRow(t, "navigation", href if len(href) <= 300 else href[:300] + "…")
        self._timeline.append(moment)
        self._order += 1
        if len(self._moments) < TIMELINE_SIZE:
            heapq.heappush(self._moments, (1, -self._order, moment))

    def click(self, t: int | None) -> None:
        self._time(t)
        self.counts.click += 1

    def input(self, t: int | None) -> None:
        self._time(t)
        self.counts.input += 1

    def redux(self, t: int | None) -> None:
        self._time(t)
        self.counts.redux += 1

    def console(self, t: int | None, level: str, message: str) -> None:
        if t is not None:
            if t > self.last:
                self.last = t
            if t < self.first:
                self.first = t
        self.counts.console += 1
        if len(message) > _TEXT:
            message = message[:_TEXT] + "…"
        self._console_rows.append(ConsoleRow(t, level, message, self.page))
        if level == "ERROR" or level == "WARN" or level == "WARNING":
            self._console_problem(t, level, message)

    def _console_problem(self, t: int | None, level: str, message: str) -> None:
        level = "WARN" if level == "WARNING" else level
        if level == "ERROR":
            self.counts.console_error += 1
        else:
            self.counts.console_warn += 1
        key = (level, message[:500])
        group = self.console_groups.get(key)
        if group is not None:
            group.count += 1
            return
        if not self._new_group(key, self.console_groups, self._console_beyond):
            return
        self.console_distinct += 1
        if len(self.console_groups) < MAX_GROUPS:
            self.console_groups[key] = ConsoleGroup(
                level=level, message=cut(message, 500), count=1, first_t=t, page=self.page
            )
        if level == "ERROR":
            self._group_moment("console", key, 4, t, "console error", message)

    def request(self, t: int | None, req_id: str, method: str, url: str) -> None:
        if t is not None:
            if t > self.last:
                self.last = t
            if t < self.first:
                self.first = t
        requests = self._requests
        earlier = self._open.pop(req_id, None)
        if earlier is not None:
            earlier.status = None  # the same id again: the earlier request never got its response
        if len(requests) >= MAX_OPEN_REQUESTS and self._open:
            self._give_up_oldest()
        if len(url) > _URL:
            url = url[:_URL] + "…"
        if len(method) > 20:
            method = method[:20] + "…"
        row = NetworkRow(t, method, url, _AWAITING, None, self.page, False)
        self._open[req_id] = row
        requests.append(row)
        if requests[0].status != _AWAITING:
            self._drain()

    def response(self, t: int | None, req_id: str, status: int | None, method: str | None) -> None:
        if t is not None:
            if t > self.last:
                self.last = t
            if t < self.first:
                self.first = t
        row = self._open.pop(req_id, None)
        if row is None:
            who = cut(method, 20) if isinstance(method, str) and method else "?"
            self._queue(NetworkRow(t, who, "(request not recorded)", status, None, self.page, False))
            return
        row.status = status if status is not None else 0
        if t is not None and row.t is not None:
            row.duration = t - row.t
        if self._requests[0] is row:
            self._drain()

    def network(self, t: int | None, method: str, url: str, status: int | None, duration: int | None) -> None:
        self._time(t)
        self._queue(NetworkRow(t, cut(method, 20), cut(url, _URL), status, duration, self.page, False))

    def _queue(self, row: NetworkRow) -> None:
        requests = self._requests
        if not requests:
            self._network(row)
            return
        requests.append(row)  # behind a request still waiting: keep the order
        if len(requests) > MAX_OPEN_REQUESTS:
            self._give_up_oldest()
            self._drain()

    def _give_up_oldest(self) -> None:
        """Bounded memory: the oldest request still waiting (the first in _open) is reported as never answered."""
        self._open.pop(next(iter(self._open))).status = None

    def _drain(self) -> None:
        # _network inlined for the common case, a request that succeeded.
        requests = self._requests
        rows = self._network_rows
        written = 0
        while requests and requests[0].status != _AWAITING:
            row = requests.popleft()
            status = row.status
            if status is not None and status != 0 and status < 400:
                written += 1
                rows.append(row)
            else:
                self._network(row)
        self.counts.network += written

    def _network(self, row: NetworkRow) -> None:
        """Count a complete request and write its row (requests are written in the order they were made)."""
        self.counts.network += 1
        self._network_rows.append(row)
        status = row.status
        if status is not None and status != 0 and status < 400:
            return
        self._failed(row, status)

    def _failed(self, row: NetworkRow, status: int | None) -> None:
        row.failed = True
        self.counts.network_failed += 1
        self.failed_total += 1
        if len(self.failed) < MAX_FAILED:
            self.failed.append(
                FailedRequest(
                    t=row.t, method=row.method, url=row.url, status=status, duration=row.duration, page=row.page
                )
            )
        key = (row.method, row.url[:500], status)
        group = self.failed_groups.get(key)
        if group is not None:
            group.count += 1
        elif len(self.failed_groups) < MAX_GROUPS:
            self.failed_groups[key] = FailedRequestGroup(
                method=row.method, url=key[1], status=status, count=1, first_t=row.t
            )
        label = f"HTTP {status}" if status else "no response"
        self._moment(5, row.t, "failed request", f"{row.method} {cut(row.url, 200)} → {label}")

    def exception(self, t: int | None, error_type: str, message: str, page: str | None, stack: str | None) -> None:
        self._time(t)
        self.counts.error += 1
        where = cut(page, _URL) if isinstance(page, str) else self.page
        error_type = cut(error_type, 200)
        message = cut(message)
        stack = cut(stack, 4000) if isinstance(stack, str) and stack else None
        self.files["errors"].add(ErrorRow(t, error_type, message, where, stack))
        key = (error_type, message[:500])
        group = self.errors.get(key)
        if group is not None:
            group.count += 1
            group.last_t = t
            if where and where not in group.pages and len(group.pages) < self._group_pages:
                group.pages.append(where)
            return
        if not self._new_group(key, self.errors, self._errors_beyond):
            return
        self.errors_distinct += 1
        if len(self.errors) < MAX_GROUPS:
            self.errors[key] = ErrorGroup(
                type=error_type,
                message=cut(message, 500),
                count=1,
                first_t=t,
                last_t=t,
                page=where,
                pages=[where] if where else [],
            )
        self._group_moment("errors", key, 6, t, "error", f"{error_type}: {message}")

    @staticmethod
    def _new_group(key: tuple[str, str], groups: dict[Any, Any], beyond: set[int]) -> bool:
        """Whether ``key`` (not among the kept groups) is seen for the first time; remembered by hash, capped."""
        if len(groups) < MAX_GROUPS:
            return True
        marker = hash(key)
        if marker in beyond:
            return False
        if len(beyond) < MAX_GROUPS_BEYOND:
            beyond.add(marker)
        return True

    def custom(self, t: int | None, name: str, properties: dict[str, Any]) -> None:
        if t is not None:
            if t > self.last:
                self.last = t
            if t < self.first:
                self.first = t
        self.counts.custom += 1
        if len(name) > 200:
            name = name[:200] + "…"
        items = properties.items() if len(properties) <= MAX_PROPERTIES else _first_items(properties, MAX_PROPERTIES)
        # A loop, not a comprehension: events hold a few properties, and a comprehension costs a call (3.11).
        # scalar() inlined for the common values (short strings, booleans, null): what it would return.
        props = {}
        for k, v in items:
            if not ((type(v) is str and len(v) <= 300) or v is None or type(v) is bool):
                v = scalar(v, 300)
            props[k if type(k) is str and len(k) <= 100 else str(k)[:100]] = v
        self._custom_rows.append(CustomRow(t, name, props))
        names = self.custom_names
        if name in names or len(names) < MAX_CUSTOM_NAMES:
            names[name] += 1
        else:
            names["(other names)"] += 1
        if len(self.custom_events) < MAX_CUSTOM:
            shown = {k: scalar(v, 100) for k, v in itertools.islice(props.items(), SUMMARY_PROPERTIES)}
            self.custom_events.append(CustomEvent(t=t, name=name, properties=shown))
        self._moment(2, t, "custom event", name)

    def other(self, t: int | None, type_name: str, line: bytes) -> None:
        self._time(t)
        self.counts.other += 1
        type_name = type_name[:120]
        if type_name in self.other_types or len(self.other_types) < MAX_OTHER_TYPES:
            self.other_types[type_name] += 1
        else:
            self.other_types["(other types)"] += 1
        raw = line[:OTHER_RAW_CHARS].decode("utf-8", "replace")
        self.files["other"].add(OtherRow(t, type_name, raw, len(line) > OTHER_RAW_CHARS))

    # -- finishing ------------------------------------------------------------------------------

    def finish(self, reading: Reading, *, transfer_complete: bool) -> SessionSummary:
        """Close the files and return the summary (the caller writes it to summary.json)."""
        pending = 0
        for row in self._requests:
            if row.status == _AWAITING:
                if not transfer_complete:
                    pending += 1  # its response may be in the part of the file not read
                    continue
                row.status = None  # the session ended without its response
            self._network(row)
        self._requests.clear()
        self._open.clear()
        groups = sorted(self.errors.values(), key=_first_seen)
        for group in groups:
            self.files["error_groups"].add(
                ErrorGroupRow(group.type, group.message, group.count, group.first_t, group.last_t, group.pages)
            )
        for writer in self.files.values():
            writer.close()
        stats = self.stats
        reading.parsed = stats.parsed
        reading.blank += stats.blank
        reading.invalid_json = stats.invalid_json
        reading.not_utf8 = stats.not_utf8
        reading.not_object = stats.not_object
        reading.shapes = dict(stats.shapes)
        summary = SessionSummary(
            first_ms=self.first if self.first != _NO_TIME_YET else None,
            last_ms=self.last if self.last >= 0 else None,
            session_id=_session_id(self.metadata),
            user=self.user,
            meta=self.metadata,
            device={k: str(v) for k, v in self.metadata.items() if any(w in k.lower() for w in _DEVICE_WORDS)},
            counts=self.counts,
            other_types=[NameCount(name=k, count=v) for k, v in self.other_types.most_common(SUMMARY_LIST)],
            pages=self.pages,
            pages_total=self.pages_total,
            errors=groups[:SUMMARY_LIST],
            errors_distinct=self.errors_distinct,
            failed_requests=sorted(self.failed, key=lambda r: (r.t is None, r.t or 0))[:SUMMARY_LIST],
            failed_total=self.failed_total,
            failed_groups=sorted(self.failed_groups.values(), key=lambda g: -g.count)[:SUMMARY_LIST],
            console=sorted(self.console_groups.values(), key=_first_seen)[:SUMMARY_LIST],
            console_distinct=self.console_distinct,
            custom_events=self.custom_events,
            custom_names=[NameCount(name=k, count=v) for k, v in self.custom_names.most_common(50)],
            timeline=[
                Moment(t=m.t, kind=m.kind, text=m.text)
                # In time order; moments of the same time in the order they happened.
                for _, _, m in sorted(self._moments, key=lambda m: (m[2].t is None, m[2].t or 0, -m[1]))
            ],
            items={name: w.count for name, w in self.files.items()},
            items_dropped={name: w.dropped for name, w in self.files.items() if w.dropped},
            pending_requests=pending,
            reading=reading,
        )
        return fit(summary)

    def file_facts(self) -> dict[str, tuple[int, int]]:
        return {f"{name}.jsonl": (w.size, w.crc) for name, w in self.files.items()}


def offer(moments: list[tuple[int, int, MomentRow]], priority: int, order: int, moment: MomentRow) -> None:
    """Keep ``moment`` among the TIMELINE_SIZE most important (the earliest first among equals) in the min-heap
    ``moments``; offered in the order they happened (``order`` rising), that is exactly the top of them all."""
    if len(moments) < TIMELINE_SIZE:
        heapq.heappush(moments, (priority, -order, moment))
    elif priority > moments[0][0]:  # as important and later never displaces an earlier moment
        heapq.heapreplace(moments, (priority, -order, moment))


def _first_seen(group: ErrorGroup | ConsoleGroup) -> tuple[bool, int]:
    return (group.first_t is None, group.first_t or 0)


def _session_id(meta: dict[str, Scalar]) -> str | None:
    value = meta.get("session_id") or meta.get("sessionID")
    return cut(str(value), 120) if value else None


def fit(summary: SessionSummary, limit: int = SUMMARY_MAX_BYTES) -> SessionSummary:
    """Halve the longest lists until the encoded summary fits ``limit`` (their totals still count all)."""
    while len(encode_summary(summary)) > limit:
        lists: list[list[Any]] = [
            summary.pages,
            summary.errors,
            summary.failed_requests,
            summary.failed_groups,
            summary.console,
            summary.custom_events,
            summary.other_types,
            summary.custom_names,
            summary.timeline,
        ]
        longest = max(lists, key=len)
        if len(longest) <= 1:
            summary.meta = {}
            summary.user = UserInfo(user_id=summary.user.user_id) if summary.user else None
            break
        del longest[len(longest) // 2 :]
    return summary
