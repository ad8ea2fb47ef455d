"""One export's index built from segments parsed apart (on another core), identical to one sequential pass.

A segment is a run of whole lines. ``SegmentBuilder`` parses it without knowing what came before: the page
the user was on, the requests still waiting for a response, the errors already seen. What depends on that
is left open, and ``absorb`` settles it against the real state of the index built so far:

- rows made before the segment's first navigation (errors, console messages, requests) name a page token,
  replaced by the real page;
- its first navigation is a new page only if it differs from the page before the segment;
- moments (the timeline) that stand whatever came before travel as encoded runs with their most important
  few; a new error or console group's moment stands only if the group is new to the whole export;
- a group new to the segment is kept, or only counted past the cap, as the sequential pass would decide;
- responses to requests made before the segment ("lead orphans", met before the segment made any request
  of its own) are replayed through the sequential code, in their place among the moments.

Where that cannot be exact, ``absorb`` refuses and the caller parses the segment's lines itself, in order:
a request of an earlier segment still waiting once the lead orphans are replayed (its answer may come among
the segment's own requests, whose rows would wait behind it), a first line that the export's shape so far
would have read otherwise, or a cap reached (the segment's own groups or names, the remembered group
hashes, a listing's size, metadata). The property test in tests/test_export_segments.py cuts exports
anywhere and checks that the index is the one of a single pass, byte for byte.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from mcp_server.exports.focus import MomentRow, NavigationRow, NetworkRow
from mcp_server.exports.index import (
    LISTING_MAX_BYTES,
    MAX_CUSTOM,
    MAX_CUSTOM_NAMES,
    MAX_FAILED,
    MAX_GROUP_PAGES,
    MAX_GROUPS,
    MAX_GROUPS_BEYOND,
    MAX_OTHER_TYPES,
    MAX_PAGES,
    TIMELINE_SIZE,
    IndexBuilder,
    ParseStats,
    offer,
)
from mcp_server.exports.shapes import SHAPES, Shape
from mcp_server.exports.summary import (
    ConsoleGroup,
    Counts,
    CustomEvent,
    ErrorGroup,
    FailedRequest,
    FailedRequestGroup,
    PageVisit,
    Scalar,
    UserInfo,
)

SLICE_LINES = 2048  # lines parsed at a time, between two checkpoints on the event loop (a few ms of work)
MAX_META_EVENTS = 100  # metadata events a segment may hold and still be absorbed (each is replayed)
_PAGED_LISTINGS = ("console", "network", "errors")  # listings whose rows name the page they happened on
_COUNTS = tuple(f.name for f in msgspec.structs.fields(Counts))
_FALLBACK = SHAPES[-1].name  # reads anything: never kept as an export's shape
# Most bytes one row that absorb makes itself can take (a moment, or a replayed response's network row), with
# every character escaped: what a segment may add to a listing beyond its encoded rows.
_ROW_BYTES = 16 << 10


class Run(NamedTuple):
    """Moments that stand whatever came before the segment: their timeline rows, encoded, and the most
    important of them (TIMELINE_SIZE at most: position in the run, priority, t, kind, text)."""

    rows: bytes
    size: int  # rows
    top: list[tuple[int, int, int | None, str, str]]


class Conditional(NamedTuple):
    """A moment that stands only if ``condition`` holds for the whole export (a new group, a new page)."""

    priority: int
    t: int | None
    kind: str
    text: str
    condition: tuple[str, Any]


class Orphan(NamedTuple):
    """A response met before the segment made a request of its own: perhaps to a request made before it."""

    page: str | None
    t: int | None
    req_id: str
    status: int | None
    method: Any


@dataclass
class Partial:
    """What a segment's parse leaves for ``absorb``: plain data, pickled between processes."""

    token: str
    unsafe: str | None  # why it cannot be absorbed exactly (None: it can, given the state before it)
    parts: dict[str, tuple[bytes, int]]  # per listing: encoded rows, and how many
    timeline: list[Run | Conditional | Orphan]  # in the order they happened
    first_page: str | None  # the first navigation's href, if the segment has one
    first_shapes: tuple[str, ...]  # the shapes that read the segment's first line that is an object, in order
    page: str | None  # the page at the end (the token if no navigation)
    pages: list[PageVisit]
    pages_total: int
    stats: ParseStats
    counts: Counts
    first: int
    last: int
    shape: str
    user: UserInfo | None
    meta: list[dict[str, Scalar]]
    other_types: Counter[str]
    errors: dict[tuple[str, str], ErrorGroup]
    console_groups: dict[tuple[str, str], ConsoleGroup]
    failed: list[FailedRequest]
    failed_total: int
    failed_groups: dict[tuple[str, str, int | None], FailedRequestGroup]
    custom_events: list[CustomEvent]
    custom_names: Counter[str]
    requests: deque[NetworkRow]  # requests still waiting at the end, and the rows behind them
    open: dict[str, NetworkRow] = field(default_factory=dict)
    lines: int = 0  # lines parsed (set by whoever split the segment)


class SegmentBuilder(IndexBuilder):
    """An ``IndexBuilder`` for one segment: parses as one would, leaving open what the segment cannot know."""

    # An earlier segment may hold MAX_GROUP_PAGES of them, and the page token may turn out to be one of the others.
    _group_pages = 2 * MAX_GROUP_PAGES

    def __init__(self, token: str, wanted: tuple[int, int, int] = (MAX_PAGES, MAX_CUSTOM, MAX_FAILED)) -> None:
        super().__init__(None, keep=True)
        self.token = token
        # At most how many pages, custom events and failed requests the index can still take (from the index's
        # state when the segment was sent: it only fills up): the partial carries no more of them.
        self.wanted = wanted
        self.page = token
        self.unsafe: str | None = None
        self.timeline: list[Run | Conditional | Orphan] = []
        self._run: list[tuple[int, int, MomentRow]] = []  # the current run's most important moments
        self._run_size = 0
        self.first_page: str | None = None
        self.first_shapes: tuple[str, ...] = ()
        self.meta_log: list[dict[str, Scalar]] = []
        self._condition: tuple[str, Any] | None = None

    def _push_moment(self, priority: int, t: int | None, kind: str, text: str) -> None:
        if self._condition is not None:
            self._end_run()
            self.timeline.append(Conditional(priority, t, kind, text, self._condition))
            self._condition = None
            return
        moment = MomentRow(t, kind, text)
        self._timeline.append(moment)
        self._run_size += 1
        offer(self._run, priority, self._run_size, moment)

    def _end_run(self) -> None:
        """Close the run of moments that stand whatever came before: its rows encoded, its top moments kept."""
        if self._run_size:
            writer = self.files["timeline"]
            writer.flush()
            assert writer.kept is not None
            top = sorted((-negative, priority, m.t, m.kind, m.text) for priority, negative, m in self._run)
            self.timeline.append(Run(bytes(writer.kept), self._run_size, top))
            writer.kept.clear()
            self._run.clear()
            self._run_size = 0

    def _group_moment(
        self, groups: str, key: tuple[str, str], priority: int, t: int | None, kind: str, text: str
    ) -> None:
        self._condition = (groups, key)  # stands only if the group is new to the whole export
        self._moment(priority, t, kind, text)

    def _choose_shape(self, obj: dict[str, Any]) -> Shape:
        if not self.first_shapes:
            # Before the segment the export may have had a shape of its own, which keeps reading any line it can:
            # absorb checks that it is the one chosen here, or none of these.
            self.first_shapes = tuple(s.name for s in SHAPES if s.matches(obj))
        return super()._choose_shape(obj)

    def _new_group(self, key: tuple[str, str], groups: dict[Any, Any], beyond: set[int]) -> bool:  # type: ignore[override]
        if len(groups) >= MAX_GROUPS:
            self.unsafe = "too many distinct groups"
        return IndexBuilder._new_group(key, groups, beyond)

    def _new_page(self, t: int | None, href: str) -> None:
        if self.page is self.token:
            self.first_page = href  # a new page only if the page before the segment was another
            self._condition = ("page", href)
        self.page = href
        self._navigation_rows.append(NavigationRow(t, href))
        self.pages_total += 1
        if len(self.pages) <= MAX_PAGES:  # one more than kept: the first may turn out not to be new
            self.pages.append(PageVisit(t=t, href=href))
        if self._condition is not None:
            self._moment(1, t, "navigation", href)
            return
        # _push_moment inlined (a navigation in three is a page change): the least important kind, so once
        # the run holds TIMELINE_SIZE moments it displaces none of them.
        moment = MomentRow(t, "navigation", href if len(href) <= 300 else href[:300] + "…")
        self._timeline.append(moment)
        self._run_size += 1
        if len(self._run) < TIMELINE_SIZE:
            heapq.heappush(self._run, (1, -self._run_size, moment))

    def response(self, t: int | None, req_id: str, status: int | None, method: str | None) -> None:
        if req_id not in self._open and not self._own_network():
            # Perhaps the answer to a request of an earlier segment: replayed by absorb, in its place.
            self._end_run()
            self.timeline.append(Orphan(self.page, t, req_id, status, method))
            return
        super().response(t, req_id, status, method)

    def _own_network(self) -> bool:
        """Whether the segment has made network rows of its own (after which a response is its own business)."""
        return bool(self._requests or self._network_rows or self.files["network"].count)

    def _keep_meta(self, kept: dict[str, Scalar]) -> None:
        super()._keep_meta(kept)
        if len(self.meta_log) <= MAX_META_EVENTS:  # one more is enough to refuse the segment
            self.meta_log.append(kept)

    def partial(self) -> Partial:
        self._end_run()
        for writer in self.files.values():
            writer.flush()
        unsafe = self.unsafe
        if any(w.dropped or w.size >= LISTING_MAX_BYTES for w in self.files.values()):
            unsafe = "a listing is full"
        elif len(self.meta_log) > MAX_META_EVENTS:
            unsafe = "too many metadata events"
        elif len(self.other_types) >= MAX_OTHER_TYPES or len(self.custom_names) >= MAX_CUSTOM_NAMES:
            unsafe = "too many distinct names"
        elif len(self.failed_groups) >= MAX_GROUPS:
            unsafe = "too many distinct failed requests"
        return Partial(
            token=self.token,
            unsafe=unsafe,
            parts={  # the timeline's rows are in its runs
                name: (bytes(w.kept or b""), w.count)
                for name, w in self.files.items()
                if w.count and name != "timeline"
            },
            timeline=self.timeline,
            first_page=self.first_page,
            first_shapes=self.first_shapes,
            page=self.page,
            pages=self.pages[: self.wanted[0] + 1],  # one more: the first may turn out not to be new
            pages_total=self.pages_total,
            stats=self.stats,
            counts=self.counts,
            first=self.first,
            last=self.last,
            shape=self._shape.name,
            user=self.user,
            meta=self.meta_log,
            other_types=self.other_types,
            errors=self.errors,
            console_groups=self.console_groups,
            failed=self.failed[: self.wanted[2]],
            failed_total=self.failed_total,
            failed_groups=self.failed_groups,
            custom_events=self.custom_events[: self.wanted[1]],
            custom_names=self.custom_names,
            requests=self._requests,
            open=self._open,
        )


def still_wanted(builder: IndexBuilder) -> tuple[int, int, int]:
    """How many more pages, custom events and failed requests ``builder`` keeps (a ``SegmentBuilder``'s wanted)."""
    return MAX_PAGES - len(builder.pages), MAX_CUSTOM - len(builder.custom_events), MAX_FAILED - len(builder.failed)


def absorb(builder: IndexBuilder, part: Partial) -> bool:
    """Add a segment's ``part`` to ``builder`` (which holds everything before the segment), exactly as if
    ``builder`` had parsed the segment itself; False, with ``builder`` untouched, when that cannot be done."""
    if part.unsafe is not None or _refused(builder, part):
        return False
    new_errors = _new_groups(builder.errors, builder._errors_beyond, part.errors)
    new_console = _new_groups(builder.console_groups, builder._console_beyond, part.console_groups)
    if new_errors is None or new_console is None:
        return False  # past the groups kept and the hashes remembered: every occurrence counts as new
    before = builder.page
    new_first_page = part.first_page is not None and part.first_page != before

    def stands(condition: tuple[str, Any] | None) -> bool:
        if condition is None:
            return True
        what, key = condition
        if what == "page":
            return new_first_page
        return key in (new_errors if what == "errors" else new_console)

    # Moments, and the responses that settle requests made before the segment, in the order they happened.
    timeline = builder.files["timeline"]
    for item in part.timeline:
        if isinstance(item, Run):
            timeline.add_encoded(item.rows, item.size)
            for at, priority, t, kind, text in item.top:
                offer(builder._moments, priority, builder._order + at, MomentRow(t, kind, text))
            builder._order += item.size
        elif isinstance(item, Conditional):
            if stands(item.condition):
                builder._push_moment(item.priority, item.t, item.kind, item.text)
        else:
            builder.page = before if item.page == part.token else item.page  # the page when it came
            builder.response(item.t, item.req_id, item.status, item.method)
    builder.page = before

    # Listing rows, after those the builder holds (the settled requests' among them).
    needle = msgspec.json.encode(part.token)
    page_json = msgspec.json.encode(before)
    for name, (data, count) in part.parts.items():
        if name == "navigation" and part.first_page is not None and not new_first_page:
            data = data[data.index(b"\n") + 1 :]  # its first row: the same page as before the segment
            count -= 1
        elif name in _PAGED_LISTINGS:
            data = data.replace(needle, page_json)
        if count:
            builder.files[name].add_encoded(data, count)

    _merge_state(builder, part, before, new_first_page, new_errors, new_console)
    return True


def _refused(builder: IndexBuilder, part: Partial) -> bool:
    shape = builder._shape.name
    if shape != _FALLBACK and shape in part.first_shapes and shape != part.first_shapes[0]:
        return True  # the shape before the segment reads its first object, and would have kept reading
    settled = {item.req_id for item in part.timeline if isinstance(item, Orphan)}
    if any(req_id not in settled for req_id in builder._open):
        return True  # a request made before the segment may be answered inside it, among its own rows
    sizes = {name: len(data) for name, (data, _count) in part.parts.items()}
    sizes["timeline"] = sum(len(item.rows) for item in part.timeline if isinstance(item, Run))
    made_here = sum(not isinstance(item, Run) for item in part.timeline) * _ROW_BYTES  # moments, replayed rows
    return any(
        builder.files[name].size + sizes.get(name, 0) + made_here >= LISTING_MAX_BYTES
        for name in ("timeline", "network", *sizes)
    )


def _new_groups(
    mine: dict[tuple[str, str], Any], beyond: set[int], theirs: dict[tuple[str, str], Any]
) -> dict[tuple[str, str], bool] | None:
    """The segment's groups that are new to the export, in the order first seen, each with whether it is kept
    (else only its hash is remembered, as ``IndexBuilder._new_group`` does); None when the remembered hashes
    are full, where the sequential count depends on every occurrence."""
    room = MAX_GROUPS - len(mine)
    seen: set[int] = set()
    new: dict[tuple[str, str], bool] = {}
    for key in theirs:
        if key in mine:
            continue
        if room > 0:
            room -= 1
            new[key] = True
            continue
        if len(beyond) + len(seen) >= MAX_GROUPS_BEYOND:
            return None
        marker = hash(key)
        if marker not in beyond and marker not in seen:
            seen.add(marker)
            new[key] = False
    return new


def _merge_state(
    builder: IndexBuilder,
    part: Partial,
    before: str | None,
    new_first_page: bool,
    new_errors: dict[tuple[str, str], bool],
    new_console: dict[tuple[str, str], bool],
) -> None:
    def page(value: str | None) -> str | None:
        return before if value == part.token else value

    pages = part.pages if new_first_page or part.first_page is None else part.pages[1:]
    builder.pages.extend(pages[: MAX_PAGES - len(builder.pages)])
    builder.pages_total += part.pages_total - (part.first_page is not None and not new_first_page)
    if part.page != part.token:
        builder.page = part.page
    builder.first = min(builder.first, part.first)
    builder.last = max(builder.last, part.last)
    for name in _COUNTS:
        setattr(builder.counts, name, getattr(builder.counts, name) + getattr(part.counts, name))
    stats = builder.stats
    for name in ("parsed", "blank", "invalid_json", "not_utf8", "not_object"):
        setattr(stats, name, getattr(stats, name) + getattr(part.stats, name))
    stats.shapes.update(part.stats.shapes)
    if part.first_shapes:  # else the segment held no object: the shape is the one before it
        builder._shape = next(s for s in SHAPES if s.name == part.shape)
    if part.user is not None:
        builder.user = part.user
    for kept in part.meta:
        builder._keep_meta(kept)
    _admit(builder.other_types, part.other_types, MAX_OTHER_TYPES, "(other types)")
    _admit(builder.custom_names, part.custom_names, MAX_CUSTOM_NAMES, "(other names)")
    builder.custom_events.extend(part.custom_events[: MAX_CUSTOM - len(builder.custom_events)])

    for key, group in part.errors.items():
        # An error before the segment's first navigation happened on the page before the segment (if any).
        wheres = list(dict.fromkeys(where for where in map(page, group.pages) if where))
        mine = builder.errors.get(key)
        if mine is None:
            group.page = page(group.page)
            group.pages = wheres[:MAX_GROUP_PAGES]
            builder.errors_distinct += _adopt(key, group, new_errors, builder.errors, builder._errors_beyond)
            continue
        mine.count += group.count
        mine.last_t = group.last_t
        for where in wheres:
            if where not in mine.pages and len(mine.pages) < MAX_GROUP_PAGES:
                mine.pages.append(where)
    for key, console in part.console_groups.items():
        known = builder.console_groups.get(key)
        if known is None:
            console.page = page(console.page)
            groups, beyond = builder.console_groups, builder._console_beyond
            builder.console_distinct += _adopt(key, console, new_console, groups, beyond)
        else:
            known.count += console.count
    for failed in part.failed[: MAX_FAILED - len(builder.failed)]:
        failed.page = page(failed.page)
        builder.failed.append(failed)
    builder.failed_total += part.failed_total
    for fkey, fgroup in part.failed_groups.items():
        held = builder.failed_groups.get(fkey)
        if held is not None:
            held.count += fgroup.count
        elif len(builder.failed_groups) < MAX_GROUPS:
            builder.failed_groups[fkey] = fgroup

    # Requests still waiting at the segment's end become the builder's (it has none: see _refused).
    for row in part.requests:
        row.page = page(row.page)
    builder._requests.extend(part.requests)
    builder._open.update(part.open)


def _adopt(
    key: tuple[str, str], group: Any, new: dict[tuple[str, str], bool], kept: dict[Any, Any], beyond: set[int]
) -> int:
    """A group the builder does not hold: kept, or only remembered by its hash, as ``_new_groups`` decided; 1 if it
    is new to the export (0: its hash was already remembered)."""
    if key not in new:
        return 0
    if new[key]:
        kept[key] = group
    else:
        beyond.add(hash(key))
    return 1


def _admit(mine: Counter[str], theirs: Counter[str], cap: int, overflow: str) -> None:
    """Names in first-seen order: each is kept while there is room, else counted under ``overflow``."""
    for name, count in theirs.items():
        if name in mine or len(mine) < cap:
            mine[name] += count
        else:
            mine[overflow] += count
