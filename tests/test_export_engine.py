"""The export engine against content chosen to hurt: every odd value, compression fault and forged cursor
ends in a counted line, an honest partial answer or a clear error; answers rank and group right; every
structure stays bounded."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.lowlevel
import orjson
import pytest
from mcp import Client

from mcp_server.exports import download, guarded_transport, index
from mcp_server.exports.segments import SLICE_LINES
from mcp_server.exports.summary import SUMMARY_MAX_BYTES, Reading, UserInfo, decode_summary
from mcp_server.sandbox.server import SandboxServer
from mcp_server.settings import Settings
from tests.conftest import connect, text_of
from tests.export_server import ExportFiles

pytestmark = pytest.mark.anyio
T0 = 1_795_000_000_000


@pytest.fixture
def files() -> Iterator[ExportFiles]:
    with ExportFiles() as server:
        yield server


@pytest.fixture
def allowed(settings: Settings, files: ExportFiles) -> Settings:
    return files.allow(settings)


def sdk(kind: str, t: Any, **data: Any) -> bytes:
    return orjson.dumps({"type": kind, "time": t, "data": data})


def jsonl(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"


async def read(client: Client, **arguments: Any) -> tuple[str, dict[str, Any]]:
    result = await client.call_tool("read_session_export", arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return text_of(result), result.structured_content


async def refused(client: Client, **arguments: Any) -> str:
    result = await client.call_tool("read_session_export", arguments)
    assert result.is_error
    return text_of(result)


# -- no value kills a read ---------------------------------------------------------------------------


async def test_odd_values_are_read_around_never_fatal(allowed: Settings, files: ExportFiles) -> None:
    lines = [
        sdk("lr.Navigation", T0, href="https://app.test/a"),
        b'{"type":"lr.Click","time":1e999,"data":{}}',
        b'{"type":"lr.Click","time":"nan","data":{}}',
        b'{"type":"lr.Click","time":1.7e308,"data":{}}',
        b'{"type":"lr.Click","time":' + str(2**70).encode() + b',"data":{}}',
        b'{"type":"lr.Click","time":-1e999,"data":{"x":1e999}}',
        b'{"type":"lr.Click","time":1795000000000,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        sdk("lr.CustomEvent", T0, name="deep", properties={"p": 1}).replace(b'{"p":1}', b"[" * 900 + b"]" * 900),
    ]
    for n, status in enumerate([b'"--5"', '"²"'.encode(), b'"' + b"9" * 5000 + b'"', b"9" * 5000, str(2**70).encode()]):
        lines.append(sdk("lr.network.RequestEvent", T0 + n, reqId=f"r{n}", method="GET", url=f"https://api.test/{n}"))
        lines.append(
            b'{"type":"lr.network.ResponseEvent","time":%d,"data":{"reqId":"r%d","status":%s}}' % (T0, n, status)
        )
    lines.append(sdk("lr.core.Exception", T0 + 9, errorType="TypeError", message="still read", stackTrace=12))
    url = files.put("odd.jsonl", jsonl(lines))
    async with connect(allowed) as client:
        text, data = await read(client, url=url)
        _, network = await read(client, url=url, focus="network")
    reading, counts = data["reading"], data["digest"]["counts"]
    # JSON nested past what any parser follows is not read (it is counted); nesting within reach is.
    assert reading["invalid_json"] == 1 and reading["parsed"] == len(lines) - 1
    assert counts["custom"] == 1
    assert counts["click"] == 5 and counts["network"] == 5 and counts["error"] == 1
    # A response whose status is not a number reads as status 0 (as browsers report a failed request): failed.
    assert [(item["status"], item["failed"]) for item in network["listing"]["items"]] == [(0, True)] * 5
    assert "still read" in text


async def test_odd_values_in_streaming_rows(allowed: Settings, files: ExportFiles) -> None:
    rows = [
        {"event_type": "navigation", "session_time": "2026-11-20T10:00:00Z", "navigation_href": "/a"},
        {"event_type": "click", "session_time": "nan"},
        {"event_type": "click", "session_time": "99999-01-01T00:00:00"},
        {"event_type": "click", "session_time": 1.7e308},
        {
            "event_type": "networkResponse",
            "session_time": "2026-11-20T10:00:01Z",
            "network_response_method": "GET",
            "network_response_url": "/x",
            "network_response_status": "²",
            "network_response_duration_ms": "--5",
        },
        # Columns of JSON text that are not JSON: the events count, with nothing read from those columns.
        {
            "event_type": "customEvent",
            "session_time": "2026-11-20T10:00:02Z",
            "custom_event_name": "Paid",
            "custom_event_string_properties": "{",
        },
        {"event_type": "user", "session_time": "2026-11-20T10:00:03Z", "user_id": "u1", "user_traits": '{"a":'},
    ]
    body = jsonl([orjson.dumps(r) for r in rows] + [b'{"event_type":"click","session_time":1e999}'])
    url = files.put("rows.jsonl", body)
    async with connect(allowed) as client:
        _, data = await read(client, url=url)
    assert data["digest"]["counts"]["click"] == 4
    assert data["digest"]["counts"]["network"] == 1
    assert data["digest"]["counts"]["custom"] == 1
    assert data["digest"]["user"]["user_id"] == "u1"
    assert data["reading"]["invalid_json"] == 0


# -- compression faults ------------------------------------------------------------------------------

CLEAN = jsonl([sdk("lr.Navigation", T0 + n, href=f"https://app.test/{n}") for n in range(50)])


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-15)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("body", "headers", "compression", "note"),
    [
        (CLEAN, {"Content-Encoding": "gzip"}, "none (Content-Encoding said gzip, but the body is not compressed)", ""),
        (_raw_deflate(CLEAN), {"Content-Encoding": "deflate"}, "deflate (Content-Encoding, raw deflate)", ""),
        (zlib.compress(CLEAN), {"Content-Encoding": "deflate"}, "deflate (Content-Encoding, zlib)", ""),
        (
            gzip.compress(CLEAN) + b"trailing garbage!",
            {},
            "gzip (magic bytes)",
            "17 bytes after the end of the compressed data were ignored.",
        ),
        (gzip.compress(CLEAN) * 2, {"Content-Encoding": "gzip"}, "gzip (Content-Encoding)", ""),
    ],
    ids=["gzip-header-plain-body", "raw-deflate", "zlib-deflate", "gzip-trailing-garbage", "gzip-two-members"],
)
async def test_compression_is_told_from_the_bytes(
    allowed: Settings, files: ExportFiles, body: bytes, headers: dict[str, str], compression: str, note: str
) -> None:
    url = files.put("c.jsonl", body, headers)
    async with connect(allowed) as client:
        text, data = await read(client, url=url)
    assert data["reading"]["compression"] == compression
    assert data["reading"]["complete"] is True
    assert data["reading"]["parsed"] == (100 if "two-members" in text or body.count(b"\x1f\x8b\x08") == 2 else 50)
    assert note in text


async def test_damaged_gzip_gives_what_came_before_the_damage(allowed: Settings, files: ExportFiles) -> None:
    # A sound gzip member, then one whose first deflate block has the reserved (invalid) type.
    broken = gzip.compress(CLEAN) + gzip.compress(b"")[:10] + b"\xff" * 20
    only_magic = b"\x1f\x8b" + b"garbage" * 10
    async with connect(allowed) as client:
        text, data = await read(client, url=files.put("broken.jsonl.gz", broken))
        assert data["reading"]["complete"] is False and data["reading"]["parsed"] == 50
        assert "**The file is damaged** (`the compressed data is damaged after" in text
        assert "invalid block type" in data["reading"]["damaged"]
        text, data = await read(client, url=files.put("magic.jsonl.gz", only_magic))
        assert data["reading"]["parsed"] == 0
        assert "**The file is damaged**" in text
        # Damage is not a passing fault: the next call answers from the cache.
        _, again = await read(client, url=files.put("magic.jsonl.gz", only_magic))
        assert again["reading"]["from_cache"] is True


# -- cursors -----------------------------------------------------------------------------------------


def _forge(cursor: str, **changes: Any) -> str:
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    data.update(changes)
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_forged_cursors_are_refused_clearly(allowed: Settings, files: ExportFiles) -> None:
    url = files.put("many.jsonl", jsonl([sdk("lr.Navigation", T0 + n, href=f"/{n}") for n in range(500)]))
    async with connect(allowed) as client:
        _, first = await read(client, url=url, focus="navigation")
        cursor = first["listing"]["next_cursor"]
        assert cursor
        _, second = await read(client, url=url, focus="navigation", cursor=cursor)
        assert second["listing"]["first_number"] == first["listing"]["first_number"] + len(first["listing"]["items"])
        for forged in (
            _forge(cursor, o=-5),
            _forge(cursor, o=10**15),
            _forge(cursor, s=-1),
            _forge(cursor, o=3),
            _forge(cursor, i=2**70),
            _forge(cursor, o="7"),
        ):
            message = await refused(client, url=url, focus="navigation", cursor=forged)
            assert "cursor is not one this tool returned; call again without cursor to start over." in message
        # The forged cursors did no harm: the cache still serves the listing.
        _, again = await read(client, url=url, focus="navigation", cursor=cursor)
        assert again["listing"]["items"] == second["listing"]["items"]
        assert again["reading"]["from_cache"] is True


# -- answers that rank and group right ---------------------------------------------------------------


def _error(t: int, message: str, href: str = "https://app.test/a") -> bytes:
    return sdk("lr.core.Exception", t, errorType="TypeError", message=message, browserHref=href, stackTrace="at x")


async def test_repeated_errors_are_grouped_and_each_occurrence_can_be_listed(
    allowed: Settings, files: ExportFiles
) -> None:
    lines = [_error(T0 + n, "Cannot read id", f"https://app.test/{n % 3}") for n in range(500)]
    lines += [_error(T0 + 600, "Other failure"), _error(T0 + 700, "Third")]
    url = files.put("errors.jsonl", jsonl(lines))
    async with connect(allowed) as client:
        text, data = await read(client, url=url, focus="errors")
        listing = data["listing"]
        assert listing["grouped"] is True and listing["total"] == 3 and listing["next_cursor"] is None
        first = listing["items"][0]
        assert (first["message"], first["count"]) == ("Cannot read id", 500)
        assert (first["first_offset_ms"], first["last_offset_ms"]) == (0, 499)
        assert first["pages"] == ["https://app.test/0", "https://app.test/1", "https://app.test/2"]
        assert "| +0:00 | +0:00 | ×500 | `TypeError: Cannot read id` |" in text
        hint = 'focus="errors", query="Cannot read id")'
        assert hint in text
        # Each occurrence of that group, with the query the page suggested.
        _, occurrences = await read(client, url=url, focus="errors", query="Cannot read id")
        assert occurrences["listing"]["grouped"] is False
        assert len(occurrences["listing"]["items"]) == 200
        assert occurrences["listing"]["items"][0]["stack"] == "at x"
        assert occurrences["listing"]["next_cursor"]


async def test_a_request_without_response_is_listed_when_it_was_made(allowed: Settings, files: ExportFiles) -> None:
    lines = [
        sdk("lr.network.RequestEvent", T0, reqId="a", method="GET", url="https://api.test/never"),
        sdk("lr.network.RequestEvent", T0 + 10, reqId="b", method="GET", url="https://api.test/ok"),
        sdk("lr.network.ResponseEvent", T0 + 20, reqId="b", status=200),
        sdk("lr.network.RequestEvent", T0 + 30, reqId="c", method="POST", url="https://api.test/bad"),
        sdk("lr.network.ResponseEvent", T0 + 40, reqId="c", status=500),
    ]
    url = files.put("net.jsonl", jsonl(lines))
    async with connect(allowed) as client:
        _, data = await read(client, url=url, focus="network")
    items = [(i["url"], i["status"], i["offset_ms"]) for i in data["listing"]["items"]]
    assert items == [
        ("https://api.test/never", None, 0),
        ("https://api.test/ok", 200, 10),
        ("https://api.test/bad", 500, 30),
    ]


async def test_the_timeline_keeps_the_most_important_moments(allowed: Settings, files: ExportFiles) -> None:
    lines = [sdk("lr.Navigation", T0 + n * 1000, href=f"https://app.test/{n}") for n in range(100)]
    lines += [_error(T0 + 50_500, "first"), _error(T0 + 99_500, "second")]
    lines.append(sdk("lr.CustomEvent", T0 + 70_500, name="Checkout", properties={}))
    url = files.put("timeline.jsonl", jsonl(lines))
    async with connect(allowed) as client:
        _, data = await read(client, url=url)
    timeline = data["digest"]["timeline"]
    kinds = [m["kind"] for m in timeline]
    assert kinds.count("error") == 2 and kinds.count("custom event") == 1 and len(timeline) == 30
    offsets = [m["offset_ms"] for m in timeline]
    assert offsets == sorted(offsets)
    # The navigations kept are the earliest ones (as important, first come).
    assert [m["offset_ms"] for m in timeline if m["kind"] == "navigation"] == [n * 1000 for n in range(27)]


# -- bounded in every dimension ----------------------------------------------------------------------


async def test_huge_values_and_many_groups_stay_within_bounds(allowed: Settings, files: ExportFiles) -> None:
    huge = "é" * 400_000
    lines = [sdk("lr.CustomEvent", T0 + n, name=f"Big{n}", properties={"blob": huge, "n": n}) for n in range(10)]
    lines += [
        _error(T0 + 100 + n, f"distinct {n} " + "x" * 3000, f"https://app.test/{'p' * 3000}{n}") for n in range(3000)
    ]
    lines += [sdk("lr.Navigation", T0 + 9000 + n, href=f"https://app.test/{n}/{'q' * 5000}") for n in range(400)]
    url = files.put("huge.jsonl", jsonl(lines))
    cache = Path(allowed.cache_dir or "")
    async with connect(allowed) as client:
        text, data = await read(client, url=url)
        _, custom = await read(client, url=url, focus="custom", max_chars=4000)
        groups_text, groups = await read(client, url=url, focus="errors")
    assert len(text) <= 20_000
    summary_file = next(cache.glob("*/summary.json"))
    assert summary_file.stat().st_size <= SUMMARY_MAX_BYTES
    assert data["digest"]["counts"]["error"] == 3000
    assert data["digest"]["omitted"]["errors"] == 3000 - len(data["digest"]["errors"])
    assert groups["listing"]["total"] == index.MAX_GROUPS  # distinct errors kept in full; the rest counted
    assert "2,000 more distinct errors were only counted, not grouped (the first 1,000 are)" in groups_text
    blob = custom["listing"]["items"][0]["properties"]["blob"]
    assert len(blob) <= 501 and blob.startswith("ééé")


async def test_a_blank_line_bomb_is_counted_without_parsing(
    allowed: Settings, files: ExportFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints = 0
    original = anyio.lowlevel.checkpoint

    async def counted() -> None:
        nonlocal checkpoints
        checkpoints += 1
        await original()

    monkeypatch.setattr(anyio.lowlevel, "checkpoint", counted)
    body = gzip.compress(b"\n" * 20_000_000 + CLEAN, compresslevel=9)
    url = files.put("bomb.jsonl.gz", body)
    async with connect(allowed) as client:
        _, data = await read(client, url=url)
    assert data["reading"]["wire_bytes"] < 100_000
    assert data["reading"]["lines"] == 20_000_050 and data["reading"]["parsed"] == 50
    # Decompressing it yielded no lines to parse, yet other calls got a turn after every piece.
    assert checkpoints >= 20_000_000 // download.PIECE


async def test_a_file_that_is_cheap_to_send_but_costly_to_read_stops_at_its_budget(
    allowed: Settings, files: ExportFiles
) -> None:
    # 60 MB of the smallest objects: about twenty million events, in a 60 KB download.
    body = gzip.compress(b"{}\n" * 20_000_000, compresslevel=9)
    url = files.put("tiny.jsonl.gz", body)
    budget = 1.0
    async with connect(allowed.with_overrides(export_time_budget=budget)) as client:
        text, data = await read(client, url=url)
    reading = data["reading"]
    assert reading["time_budget_hit"] is True and reading["complete"] is False
    assert 0 < reading["bytes"] < 60_000_000
    assert f"at the {budget:g} s budget (SESSION_REPLAY_MCP_EXPORT_TIME_BUDGET)" in text


async def test_parsing_yields_to_other_calls_every_slice(
    allowed: Settings, files: ExportFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    fed: list[int] = []
    original = index.IndexBuilder.feed

    def feed(self: index.IndexBuilder, batch: list[bytes]) -> None:
        fed.append(len(batch))
        original(self, batch)

    monkeypatch.setattr(index.IndexBuilder, "feed", feed)
    # One 8 MB network read: the reader must still hand it to the parser in slices, yielding between them (all
    # of it in this process: no parse worker takes segments of it).
    url = files.put("slices.jsonl", jsonl([b'{"type":"lr.Click","time":%d}' % (T0 + n) for n in range(250_000)]))
    async with connect(allowed.with_overrides(export_parse_workers=0)) as client:
        _, data = await read(client, url=url)
    assert data["digest"]["counts"]["click"] == 250_000
    assert max(fed) <= SLICE_LINES and sum(fed) == 250_000


# -- first calls --------------------------------------------------------------------------------------


async def test_no_tls_context_is_made_for_http_exports(
    settings: Settings, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []

    def recorded() -> Any:
        made.append("tls")
        raise ConnectionAbortedError("no TLS in this test")

    monkeypatch.setattr(guarded_transport, "_tls_context", recorded)
    async with connect(settings) as client:
        listing = await client.call_tool("list_exports", {"limit": 1})
        assert listing.structured_content is not None
        await read(client, url=listing.structured_content["sessions"][0]["url"])
        assert made == []
        # An https export makes one, once its host answers (here it fails, and says so).
        result = await client.call_tool("read_session_export", {"url": f"https://127.0.0.1:{sandbox.port}/e.jsonl"})
    assert result.is_error and made == ["tls"]


# -- the typed summary other readers (the session library) consume -------------------------------------


async def test_the_cached_summary_is_the_typed_model_with_every_per_session_fact(
    allowed: Settings, files: ExportFiles
) -> None:
    lines = [
        sdk("lr.Metadata", T0, browser="Firefox 133", deviceType="desktop", country="DE", session_id="s-1"),
        sdk("lr.Identify", T0 + 1, id="u-7", name="Ada", email="ada@example.test", traits={"plan": "pro"}),
        sdk("lr.Navigation", T0 + 2, href="https://app.test/cart"),
        _error(T0 + 3, "boom"),
        _error(T0 + 4, "boom"),
        sdk("lr.network.RequestEvent", T0 + 5, reqId="a", method="POST", url="https://api.test/pay"),
        sdk("lr.network.ResponseEvent", T0 + 6, reqId="a", status=502),
        sdk("lr.network.RequestEvent", T0 + 7, reqId="b", method="POST", url="https://api.test/pay"),
        sdk("lr.network.ResponseEvent", T0 + 8, reqId="b", status=502),
        sdk("lr.CustomEvent", T0 + 9, name="Checkout", properties={"total": 12.5}),
    ]
    url = files.put("facts.jsonl", jsonl(lines))
    async with connect(allowed) as client:
        await read(client, url=url)
    summary = decode_summary(next(Path(allowed.cache_dir or "").glob("*/summary.json")).read_bytes())
    assert summary.user == UserInfo(user_id="u-7", name="Ada", email="ada@example.test", traits={"plan": "pro"})
    assert (summary.first_ms, summary.last_ms, summary.duration_ms, summary.session_id) == (T0, T0 + 9, 9, "s-1")
    assert summary.device == {"browser": "Firefox 133", "deviceType": "desktop", "country": "DE"}
    assert [(p.href, summary.offset(p.t)) for p in summary.pages] == [("https://app.test/cart", 2)]
    assert (summary.counts.error, summary.counts.network_failed, summary.counts.total) == (2, 2, 8)  # pairs: 1
    error = summary.errors[0]
    assert (error.type, error.message, error.count, summary.offset(error.first_t), error.page) == (
        "TypeError",
        "boom",
        2,
        3,
        "https://app.test/a",
    )
    group = summary.failed_groups[0]
    assert (group.method, group.url, group.status, group.count) == ("POST", "https://api.test/pay", 502, 2)
    assert [(c.name, c.count) for c in summary.custom_names] == [("Checkout", 1)]


def test_requests_awaiting_a_response_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index, "MAX_OPEN_REQUESTS", 3)
    builder = index.IndexBuilder(tmp_path)
    lines = [sdk("lr.network.RequestEvent", T0 + n, reqId=f"r{n}", method="GET", url=f"/{n}") for n in range(5)]
    lines.append(sdk("lr.network.ResponseEvent", T0 + 9, reqId="r0", status=200))  # too late: r0 was given up
    lines.append(sdk("lr.network.ResponseEvent", T0 + 9, reqId="r4", status=200))
    builder.feed(lines)
    summary = builder.finish(Reading(), transfer_complete=True)
    rows = [orjson.loads(line) for line in (tmp_path / "network.jsonl").read_bytes().splitlines()]
    # In the order the requests were made; the ones given up (or never answered) say no response.
    assert [(row[2], row[3]) for row in rows] == [
        ("/0", None),
        ("/1", None),
        ("/2", None),
        ("/3", None),
        ("/4", 200),
        ("(request not recorded)", 200),
    ]
    assert summary.counts.network == 6 and summary.failed_total == 4
