"""An export parsed in segments (each alone, then absorbed in order) gives the index of one sequential pass.

The lines are test_export_decode.py's: both shapes, odd values, damage, blank and non-object lines, plus
runs of realistic traffic (pages, paired requests, repeated errors) so that absorbing, not only the
fallback, is exercised. Segments are cut anywhere; each is either parsed alone by a ``SegmentBuilder``
(its result pickled, as between processes) and absorbed, or, when ``absorb`` refuses or the main process
parses it itself, fed to the index directly. Summaries and listing files must match byte for byte.
"""

from __future__ import annotations

import itertools
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mcp_server.exports import index, segments
from mcp_server.exports.index import IndexBuilder
from mcp_server.exports.segments import SegmentBuilder, absorb, still_wanted
from mcp_server.exports.summary import Reading, encode_summary
from tests.test_export_decode import T0, export_line

TOKEN = "\x00page:test-token"
PAGES = ["https://app.test/", "https://app.test/a", "https://app.test/b"]


def event(kind: str, t: int, **data: Any) -> bytes:
    return json.dumps({"type": kind, "time": t, "data": data}).encode()


@st.composite
def traffic(draw: st.DrawFn) -> list[bytes]:
    """A few lines of an ordinary session: a page, a request answered soon after (mostly), a log, a repeated
    error, a custom event, metadata or an identify call."""
    t = T0 + draw(st.integers(0, 100_000))
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return [event("lr.Navigation", t, href=draw(st.sampled_from(PAGES)))]
    if kind in (1, 2, 3):
        req = draw(st.sampled_from(["q1", "q2", "q3", "q4"]))
        request = event("lr.network.RequestEvent", t, reqId=req, method="GET", url=draw(st.sampled_from("/u /v")))
        response = event("lr.network.ResponseEvent", t + 5, reqId=req, status=draw(st.sampled_from([200, 500, 0])))
        between = draw(st.lists(traffic(), max_size=2)) if kind == 3 else []
        lost = draw(st.integers(0, 9))  # now and then a request never answered, or an answer to no request
        return (
            ([request] if lost else [])
            + [line for lines in between for line in lines]
            + ([response] if lost != 1 else [])
        )
    if kind == 4:
        level = draw(st.sampled_from(["log", "error", "warn"]))
        return [event("lr.core.LogEvent", t, logLevel=level, args=[draw(st.sampled_from("ab"))])]
    if kind in (5, 6):
        page = draw(st.sampled_from([{}, *({"browserHref": page} for page in PAGES)]))
        return [event("lr.core.Exception", t, errorType="E", message=draw(st.sampled_from("xyz")), **page)]
    if kind == 7:
        return [event("lr.CustomEvent", t, name=draw(st.sampled_from("PQR")), properties={})]
    if kind == 8:
        return [event("lr.Metadata", t, **{draw(st.sampled_from("kl")): draw(st.sampled_from("vw"))})]
    return [event("lr.Identify", t, userID=draw(st.sampled_from("uv")))]


lines_strategy = st.lists(
    st.one_of(traffic(), traffic(), traffic(), export_line().map(lambda line: [line])), min_size=8, max_size=40
).map(lambda chunks: [line for chunk in chunks for line in chunk])


def one_pass(lines: list[bytes], directory: Path) -> tuple[bytes, dict[str, bytes]]:
    directory.mkdir()
    builder = IndexBuilder(directory)
    for start in range(0, len(lines), 7):
        builder.feed(lines[start : start + 7])
    return finish(builder, directory)


def in_segments(
    lines: list[bytes], cuts: list[int], alone: list[bool], directory: Path
) -> tuple[bytes, dict[str, bytes], int]:
    directory.mkdir()
    builder = IndexBuilder(directory)
    bounds = [0, *sorted(set(cuts)), len(lines)]
    absorbed = 0
    for n, (start, end) in enumerate(itertools.pairwise(bounds)):
        segment = lines[start:end]
        if not segment:
            continue
        if alone[n % len(alone)]:
            part = SegmentBuilder(TOKEN, still_wanted(builder))
            for first in range(0, len(segment), 5):
                part.feed(segment[first : first + 5])
            if absorb(builder, pickle.loads(pickle.dumps(part.partial()))):
                absorbed += 1
                continue
        for first in range(0, len(segment), 7):
            builder.feed(segment[first : first + 7])
    summary, files = finish(builder, directory)
    return summary, files, absorbed


def finish(builder: IndexBuilder, directory: Path) -> tuple[bytes, dict[str, bytes]]:
    summary = builder.finish(Reading(), transfer_complete=True)
    return encode_summary(summary), {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


HUNT = os.environ.get("EXPORT_DECODE_EXAMPLES")


@pytest.fixture(params=["caps as shipped", "tiny caps"])
def caps(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny caps put every example past them: kept groups, remembered group hashes, pages, names, lists."""
    if request.param == "tiny caps":
        for module in (index, segments):
            for name, value in TINY_CAPS.items():
                if hasattr(module, name):
                    monkeypatch.setattr(module, name, value)
        monkeypatch.setattr(IndexBuilder, "_group_pages", TINY_CAPS["MAX_GROUP_PAGES"])
        monkeypatch.setattr(SegmentBuilder, "_group_pages", 2 * TINY_CAPS["MAX_GROUP_PAGES"])


TINY_CAPS = {
    "MAX_GROUPS": 2,
    "MAX_GROUPS_BEYOND": 3,
    "MAX_PAGES": 2,
    "MAX_FAILED": 2,
    "MAX_CUSTOM": 1,
    "MAX_CUSTOM_NAMES": 2,
    "MAX_OTHER_TYPES": 2,
    "MAX_META_FIELDS": 1,
    "MAX_META_EVENTS": 2,
    "MAX_GROUP_PAGES": 1,
    "MAX_OPEN_REQUESTS": 2,
    "TIMELINE_SIZE": 3,
}


@settings(
    max_examples=int(HUNT or 300),
    deadline=None,
    derandomize=HUNT is None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lines_strategy,
    st.lists(st.integers(0, 80), min_size=1, max_size=8),
    st.lists(st.sampled_from([True, True, False]), min_size=1, max_size=4),
)
# Groups past the cap in one absorbed segment, met again in the next: remembered, not counted twice.
@example(
    [
        *(event("lr.core.LogEvent", T0, logLevel="error", args=[arg]) for arg in "ab"),
        event("lr.Navigation", T0, href=PAGES[1]),
        event("lr.core.LogEvent", T0, logLevel="warn", args=["b"]),
        event("lr.Navigation", T0, href=PAGES[2]),
        event("lr.core.LogEvent", T0, logLevel="warn", args=["b"]),
    ],
    [2, 4],
    [True],
)
# Found by review: a line both shapes read, first in a segment, while the export's shape reads it too.
@example(
    [
        event("lr.Navigation", T0, href=PAGES[0]),
        b'{"type":"lr.core.LogEvent","event_type":"click","time":%d,"data":{"logLevel":"error","args":["x"]}}' % T0,
    ],
    [1],
    [True],
)
# ... and a segment of no object at all, before such a line parsed in turn.
@example(
    [
        event("lr.Navigation", T0, href=PAGES[0]),
        b"",
        b"not json",
        b'{"type":"lr.core.LogEvent","event_type":"click","time":%d,"data":{"logLevel":"error","args":["x"]}}' % T0,
    ],
    [1, 3],
    [True, True, False],
)
# Moments of the same time, more than the timeline keeps: kept and listed in the order they happened.
@example(
    [
        event("lr.Navigation", T0, href=PAGES[0]),
        event("lr.CustomEvent", T0, name="C", properties={}),
        *(
            line
            for n in range(31)
            for line in (
                event("lr.network.RequestEvent", T0, reqId=f"r{n}", method="GET", url=f"/u{n}"),
                event("lr.network.ResponseEvent", T0, reqId=f"r{n}", status=500),
            )
        ),
    ],
    [1],
    [True],
)
def test_segments_absorbed_in_order_give_the_index_of_one_pass(
    tmp_path: Path, caps: None, lines: list[bytes], cuts: list[int], alone: list[bool]
) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
        root = Path(folder)
        expected = one_pass(lines, root / "one")
        summary, files, _ = in_segments(lines, cuts, alone, root / "segments")
    assert summary == expected[0]
    assert files == expected[1]
    assert not any(TOKEN.encode() in data for data in files.values())


@pytest.mark.parametrize(
    ("cap", "lines", "cut"),
    [
        # A new group's moment, made by absorb itself, would go past a full timeline.
        (
            750,
            [
                *(event("lr.CustomEvent", T0, name="C", properties={}) for _ in range(21)),
                *(event("lr.core.LogEvent", T0 + 1, logLevel="error", args=[f"m{n}"]) for n in range(14)),
            ],
            21,
        ),
        # So would the rows of responses replayed by absorb (answers to no request), in the network listing.
        (
            350,
            [
                *(
                    json.dumps({"event_type": "networkResponse", "session_time": "2026-11-20T10:00:00Z"}).encode()
                    for _ in range(7)
                ),
                *(event("lr.network.ResponseEvent", T0, reqId=f"x{n}", status=200) for n in range(14)),
            ],
            7,
        ),
    ],
)
def test_a_full_listing_drops_what_one_pass_drops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cap: int, lines: list[bytes], cut: int
) -> None:
    """Where a listing fills up depends on batches (rows are dropped a batch at a time): cuts here fall on batch
    boundaries of both passes, so the same rows must be dropped."""
    for module in (index, segments):
        monkeypatch.setattr(module, "LISTING_MAX_BYTES", cap)
    expected = one_pass(lines, tmp_path / "one")
    summary, files, _ = in_segments(lines, [cut], [False, True], tmp_path / "segments")
    assert (summary, files) == expected
    assert b'"items_dropped":{}' not in summary  # the cap was reached
