"""The sandbox's export line profiles, sizes and hostile files as a client downloads them (what the bench reads)."""

from __future__ import annotations

import json
import tracemalloc
import zlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import orjson
import pytest

from mcp_server.sandbox import logrocket_api
from mcp_server.sandbox.hostile import DEFAULT_CHARS, huge_value
from mcp_server.sandbox.line_profiles import sized_lines
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.sessions import SyntheticSession
from mcp_server.settings import Settings
from tests.conftest import connect, text_of

pytestmark = pytest.mark.anyio

SDK_SMALL_TYPES = {
    "lr.core.LogEvent",
    "lr.network.RequestEvent",
    "lr.network.ResponseEvent",
    "lr.Navigation",
    "lr.CustomEvent",
    "lr.core.Exception",
}


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=30.0) as c:
        yield c


def session_of(sandbox: SandboxServer, app: str, *, gz: bool = False, errors: bool = False) -> SyntheticSession:
    """A session of ``app`` stored plain (or gzipped), with exceptions in its script if ``errors``."""
    org, name = app.split("/")
    found = sandbox.world.app(org, name)
    assert found is not None
    for s in found.sessions:
        if s.gzip == gz and (not errors or any(e.kind == "exception" for e in s.events())):
            return s
    raise AssertionError("no such session")


def url_of(sandbox: SandboxServer, session: SyntheticSession, query: str) -> str:
    found = sandbox.world.app(session.org, session.app)
    assert found is not None
    return logrocket_api.export_url(sandbox.world, found, session.seq, sandbox.url) + query


async def fetch(http: httpx2.AsyncClient, url: str) -> tuple[bytes, httpx2.Headers]:
    """The body exactly as sent (no Content-Encoding undone) and the headers."""
    async with http.stream("GET", url) as response:
        assert response.status_code == 200, await response.aread()
        body = b"".join([chunk async for chunk in response.aiter_raw()])
        return body, response.headers


async def lines_of(http: httpx2.AsyncClient, url: str) -> list[bytes]:
    body, _ = await fetch(http, url)
    if body.startswith(b"\x1f\x8b"):
        body = zlib.decompress(body, wbits=31)
    return body.splitlines(keepends=True)


async def test_the_small_profile_is_sdk_events_of_about_240_bytes(
    sandbox: SandboxServer, http: httpx2.AsyncClient
) -> None:
    session = session_of(sandbox, "acme/web", errors=True)
    lines = await lines_of(http, url_of(sandbox, session, "&profile=small&events=6000"))
    events = [orjson.loads(line) for line in lines]
    assert all(set(e) == {"type", "time", "data"} and isinstance(e["time"], int) for e in events)
    types = Counter(e["type"] for e in events)
    assert set(types) >= SDK_SMALL_TYPES
    assert set(types) - SDK_SMALL_TYPES <= {"lr.Metadata", "lr.Identify"}  # once each, at the start
    assert 210 <= sum(map(len, lines)) / len(lines) <= 270
    assert max(map(len, lines)) < 1000  # small bodies: no line near the standard profile's 4 KB listings
    # Network events come in pairs: every response answers a request made before it.
    asked: set[str] = set()
    for e in events:
        if e["type"] == "lr.network.RequestEvent":
            asked.add(e["data"]["reqId"])
        elif e["type"] == "lr.network.ResponseEvent":
            assert e["data"]["reqId"] in asked
            assert isinstance(json.loads(e["data"]["body"]), dict)
    assert types["lr.network.ResponseEvent"] >= 0.8 * types["lr.network.RequestEvent"]


async def test_the_standard_profile_is_the_sessions_own_lines(sandbox: SandboxServer, http: httpx2.AsyncClient) -> None:
    session = session_of(sandbox, "acme/web")
    url = url_of(sandbox, session, "&events=2000")
    plain = await lines_of(http, url)
    assert plain == list(session.lines(2000))
    assert await lines_of(http, url + "&profile=standard") == plain
    assert sum(map(len, plain)) / len(plain) > 450  # full headers and bodies: the ~600-byte profile


async def test_the_small_profile_keeps_streaming_rows_in_their_shape(
    sandbox: SandboxServer, http: httpx2.AsyncClient
) -> None:
    session = session_of(sandbox, "acme/mobile")
    lines = await lines_of(http, url_of(sandbox, session, "&profile=small&events=3000"))
    rows = [orjson.loads(line) for line in lines]
    assert all(r["session_id"] == session.session_id and isinstance(r["event_type"], str) for r in rows)
    assert {"networkResponse", "consoleLog", "navigation"} <= {r["event_type"] for r in rows}
    assert not {"click", "inputChange", "reduxAction"} & {r["event_type"] for r in rows}


@pytest.mark.parametrize(
    ("app", "profile", "gz"),
    [("acme/web", "small", False), ("acme/web", "standard", True), ("acme/mobile", "small", True)],
)
async def test_an_export_of_a_given_size_is_within_one_line_of_it(
    sandbox: SandboxServer, http: httpx2.AsyncClient, app: str, profile: str, gz: bool
) -> None:
    session = session_of(sandbox, app, gz=gz)
    asked = 1_500_000
    lines = await lines_of(http, url_of(sandbox, session, f"&profile={profile}&bytes={asked}"))
    size = sum(map(len, lines))
    assert asked - max(map(len, lines)) < size <= asked
    assert all(line.endswith(b"\n") for line in lines)
    orjson.loads(lines[-1])  # cut between lines, never inside one


def test_a_sized_export_is_generated_line_by_line_not_held_in_memory(sandbox: SandboxServer) -> None:
    session = session_of(sandbox, "acme/web")
    tracemalloc.start()
    try:
        total = sum(len(line) for line in sized_lines(session, 5_000_000, "small"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 4_990_000
    assert peak < 500_000  # a few lines' worth, not the 5 MB


@pytest.mark.parametrize("app", ["acme/web", "acme/mobile"])
async def test_huge_values_are_long_non_ascii_properties_of_custom_events(
    sandbox: SandboxServer, http: httpx2.AsyncClient, app: str
) -> None:
    session = session_of(sandbox, app)
    lines = await lines_of(http, url_of(sandbox, session, "&variant=huge-values&count=4&chars=300000"))
    huge = [line for line in lines if len(line) > 100_000]
    assert len(huge) == 4
    normal = [line for line in lines if len(line) <= 100_000]
    assert len(normal) == len(list(session.lines()))  # the session's own lines are all still there
    for line in huge:
        event = orjson.loads(line)
        if app == "acme/web":
            assert event["type"] == "lr.CustomEvent"
            values = event["data"]["properties"].values()
        else:
            assert event["event_type"] == "customEvent"
            values = [v[0] for v in json.loads(event["custom_event_string_properties"]).values()]
        value = max(values, key=len)
        assert len(value) == 300_000
        assert all(ord(c) > 127 for c in value)


def test_the_default_huge_value_is_4_mb_of_utf8_but_fits_a_4_mib_line() -> None:
    value = huge_value(DEFAULT_CHARS)
    assert len(value) == 1_900_000
    assert 3_700_000 <= len(value.encode()) < (4 << 20) - 10_000


async def test_the_blank_line_gzip_bomb_is_small_on_the_wire_and_mbs_of_newlines_inside(
    sandbox: SandboxServer, http: httpx2.AsyncClient
) -> None:
    session = session_of(sandbox, "acme/web")
    body, headers = await fetch(http, url_of(sandbox, session, f"&variant=blank-bomb&blank_bytes={16 << 20}"))
    assert headers["content-encoding"] == "gzip"  # a .jsonl name: the header says what the name does not
    inflated = zlib.decompress(body, wbits=31)
    assert len(body) < 64 * 1024
    assert len(inflated) > 16 << 20
    assert b"\n" * (16 << 20) in inflated
    real = [line for line in inflated.split(b"\n") if line]
    assert [orjson.loads(line) for line in real] == [orjson.loads(line) for line in session.lines()]
    # Events before and after the newlines: a read that gives up half-way misses the end.
    assert inflated.startswith(b"{") and inflated.rstrip(b"\n").endswith(b"}")


async def test_the_bomb_of_a_gz_file_is_the_file_itself(sandbox: SandboxServer, http: httpx2.AsyncClient) -> None:
    session = session_of(sandbox, "acme/web", gz=True)
    body, headers = await fetch(http, url_of(sandbox, session, "&variant=blank-bomb&blank_bytes=1000000"))
    assert "content-encoding" not in headers
    assert len(zlib.decompress(body, wbits=31)) > 1_000_000 > 100 * len(body)


def _parse_leniently(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def _refused_by_orjson(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return True
    return False


@pytest.mark.parametrize("app", ["acme/web", "acme/mobile"])
async def test_bad_values_keep_the_envelope_and_break_the_values(
    sandbox: SandboxServer, http: httpx2.AsyncClient, app: str
) -> None:
    session = session_of(sandbox, app)
    lines = await lines_of(http, url_of(sandbox, session, "&variant=bad-values"))
    own = set(session.lines())
    bad = [line for line in lines if line not in own]
    assert len(lines) - len(bad) == len(own)
    key = b'{"type":' if app == "acme/web" else b'{"session_id":'
    assert all(line.startswith(key) for line in bad)
    text = b"".join(bad)
    for value in (b"1e999", b'"nan"', b"1.7e308", str(2**70).encode(), b'"--5"', "²".encode(), b"9" * 5000):
        assert value in text
    assert b"[" * 100_000 in text
    # Python's json and orjson both refuse some of them: a reader that lets one exception escape dies here.
    assert any(_parse_leniently(line) is None for line in bad)
    assert any(_refused_by_orjson(line) for line in bad)


async def test_open_requests_and_one_repeated_exception(sandbox: SandboxServer, http: httpx2.AsyncClient) -> None:
    session = session_of(sandbox, "acme/web")
    lines = await lines_of(http, url_of(sandbox, session, "&variant=open-requests&count=1000"))
    events = [orjson.loads(line) for line in lines]
    answered = {e["data"]["reqId"] for e in events if e["type"] == "lr.network.ResponseEvent"}
    opened = [e["data"]["reqId"] for e in events if e["type"] == "lr.network.RequestEvent"]
    unanswered = {r for r in opened if r not in answered}
    assert len({r for r in unanswered if r.startswith("open-")}) == 1000

    lines = await lines_of(http, url_of(sandbox, session, "&variant=repeated-exception&count=50"))
    own = set(session.lines())
    added = [orjson.loads(line) for line in lines if line not in own]
    assert len(added) == 50
    assert len({(e["type"], e["data"]["errorType"], e["data"]["message"]) for e in added}) == 1


async def test_compression_faults_are_what_they_say(sandbox: SandboxServer, http: httpx2.AsyncClient) -> None:
    session = session_of(sandbox, "acme/web")
    plain = b"".join(session.lines())

    body, headers = await fetch(http, url_of(sandbox, session, "&variant=gzip-garbage"))
    assert body.startswith(b"\x1f\x8b\x08")
    with pytest.raises(zlib.error):
        zlib.decompress(body, wbits=31)

    body, headers = await fetch(http, url_of(sandbox, session, "&variant=gzip-trailing-garbage"))
    inflater = zlib.decompressobj(wbits=31)
    assert inflater.decompress(body) == plain
    assert inflater.unused_data.startswith(b"this is not gzip")

    body, headers = await fetch(http, url_of(sandbox, session, "&variant=raw-deflate"))
    assert headers["content-encoding"] == "deflate"
    assert zlib.decompress(body, wbits=-15) == plain
    with pytest.raises(zlib.error):
        zlib.decompress(body)  # not the zlib container RFC 9110 means by "deflate"

    body, headers = await fetch(http, url_of(sandbox, session, "&variant=zlib-deflate"))
    assert headers["content-encoding"] == "deflate"
    assert zlib.decompress(body) == plain

    body, headers = await fetch(http, url_of(sandbox, session, "&variant=gzip-on-plain"))
    assert headers["content-encoding"] == "gzip"
    assert body == plain


async def test_an_unknown_profile_or_variant_is_refused_with_the_choices(
    sandbox: SandboxServer, http: httpx2.AsyncClient
) -> None:
    session = session_of(sandbox, "acme/web")
    response = await http.get(url_of(sandbox, session, "&profile=tiny"))
    assert response.status_code == 400
    assert "profile must be one of standard, small" in response.text
    response = await http.get(url_of(sandbox, session, "&variant=blank-bombs"))
    assert response.status_code == 400
    assert "variant must be one of broken-lines, " in response.text
    assert "blank-bomb, " in response.text


async def test_the_tool_reads_a_small_profile_export_to_the_same_facts(
    settings: Settings, sandbox: SandboxServer
) -> None:
    """What the line size changes is the cost of a read, not what it finds."""
    session = session_of(sandbox, "acme/web", errors=True)
    events = list(session.events(3000))
    async with connect(settings) as client:
        result = await client.call_tool("read_session_export", {"url": url_of(sandbox, session, "&events=3000")})
        small = await client.call_tool(
            "read_session_export", {"url": url_of(sandbox, session, "&events=3000&profile=small")}
        )
    assert not result.is_error and not small.is_error, text_of(small)
    assert result.structured_content is not None and small.structured_content is not None
    counts, small_counts = result.structured_content["digest"]["counts"], small.structured_content["digest"]["counts"]
    assert small_counts["error"] == counts["error"] == sum(e.kind == "exception" for e in events)
    assert small_counts["network"] == counts["network"] == sum(e.kind == "request" for e in events)
    assert small_counts.get("network_failed") == counts.get("network_failed")
    assert small.structured_content["reading"]["complete"] is True
