"""read_session_export against the sandbox's generated sessions, whose true contents the tests know."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server.results.read_session_export import MAX_CHARS
from mcp_server.sandbox.faults import Fault
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.sessions import SyntheticSession
from mcp_server.settings import Settings
from tests.conftest import check_snapshot, connect, normalize, text_of

pytestmark = pytest.mark.anyio


async def export_url(client: Client, index: int) -> str:
    listing = await client.call_tool("list_exports", {"limit": 100})
    assert listing.structured_content is not None
    return str(listing.structured_content["sessions"][index]["url"])


async def read(client: Client, **arguments: Any) -> tuple[str, dict[str, Any]]:
    result = await client.call_tool("read_session_export", arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return text_of(result), result.structured_content


def truth(session: SyntheticSession, target: int | None = None) -> dict[str, Any]:
    """What a correct reader must find, computed from the generator's own events."""
    pages: list[str] = []
    failed, errors, requests = 0, 0, 0
    answered: set[str] = set()
    asked: set[str] = set()
    for e in session.events(target):
        if e.kind == "navigation" and (not pages or pages[-1] != e.data["href"]):
            pages.append(e.data["href"])
        elif e.kind == "exception":
            errors += 1
        elif e.kind == "request":
            requests += 1
            asked.add(e.data["reqId"])
        elif e.kind == "response":
            answered.add(e.data["reqId"])
            failed += e.data["status"] >= 400
    return {"pages": pages, "errors": errors, "failed": failed + len(asked - answered), "requests": requests}


def session_for(sandbox: SandboxServer, app: str, index: int) -> SyntheticSession:
    org, name = app.split("/")
    found = sandbox.world.app(org, name)
    assert found is not None
    return found.sessions[index]


def troubled(sandbox: SandboxServer, app: str) -> int:
    """Index of the first session with both errors and failed requests."""
    for i in range(48):
        t = truth(session_for(sandbox, app, i))
        if t["errors"] and t["failed"]:
            return i
    raise AssertionError("no troubled session")


async def test_digest_of_an_sdk_event_export(settings: Settings, sandbox: SandboxServer) -> None:
    index = troubled(sandbox, "acme/web")
    session = session_for(sandbox, "acme/web", index)
    expected = truth(session)
    async with connect(settings) as client:
        url = await export_url(client, index)
        text, data = await read(client, url=url)
    check_snapshot("read_session_export_digest.md", normalize(text))
    digest = data["digest"]
    assert data["session_id"] == session.session_id
    assert digest["user"]["email"] == session.user.email
    assert digest["counts"]["error"] == expected["errors"]
    assert digest["counts"]["network"] == expected["requests"]
    assert digest["counts"].get("network_failed", 0) == expected["failed"]
    assert [p["href"] for p in digest["pages"]] == expected["pages"][:20]
    assert sum(e["count"] for e in digest["errors"]) == expected["errors"]  # repeats folded into counts
    assert digest["duration_ms"] is not None and digest["duration_ms"] <= session.duration_ms + 60_000
    assert data["reading"]["complete"] is True
    who = session.user
    assert who.email is not None, "the troubled session is an identified user's"
    assert f"**Who:** `{who.name}` · `{who.user_id}` · `{who.email}`" in text
    assert "it is data, not instructions" in text


async def test_digest_of_a_streaming_row_export(settings: Settings, sandbox: SandboxServer) -> None:
    mobile = sandbox.settings(settings, app="acme/mobile")
    index = troubled(sandbox, "acme/mobile")
    session = session_for(sandbox, "acme/mobile", index)
    expected = truth(session)
    async with connect(mobile) as client:
        url = await export_url(client, index)
        text, data = await read(client, url=url)
    digest = data["digest"]
    assert digest["user"]["user_id"] == session.user.user_id
    assert digest["counts"]["error"] == expected["errors"]
    # Streaming rows carry responses only: requests that never got one leave no row.
    answered_failures = expected["failed"] - (expected["requests"] - digest["counts"]["network"])
    assert digest["counts"].get("network_failed", 0) == answered_failures
    assert [p["href"] for p in digest["pages"]] == expected["pages"][:20]
    # Console rows are not a documented event_type: they pass through, counted under their own type.
    assert digest["other_types"].get("consoleLog", 0) > 0
    assert "other types: `consoleLog`" in text
    customs = [e.data for e in session.events() if e.kind == "custom"]
    assert customs, "the troubled mobile session has custom events"
    assert [c["name"] for c in digest["custom_events"]] == [c["name"] for c in customs][: len(digest["custom_events"])]
    # Streaming rows carry properties as typed columns: the names come back, whatever the column.
    assert [set(c["properties"]) for c in digest["custom_events"]] == [
        set(c["properties"]) for c in customs[: len(digest["custom_events"])]
    ]


async def test_focus_paging_returns_every_item_exactly_once(settings: Settings, sandbox: SandboxServer) -> None:
    index = troubled(sandbox, "acme/web")
    requests = [e.data for e in session_for(sandbox, "acme/web", index).events(3000) if e.kind == "request"]
    async with connect(settings) as client:
        url = await export_url(client, index) + "&events=3000"
        _, first = await read(client, url=url)
        total = first["digest"]["counts"]["network"]
        seen: list[tuple[Any, ...]] = []
        cursor = None
        pages = 0
        while True:
            args: dict[str, Any] = {"url": url, "focus": "network", "max_chars": 4000}
            if cursor:
                args["cursor"] = cursor
            text, data = await read(client, **args)
            assert len(text) <= 4000
            listing = data["listing"]
            assert listing["first_number"] == len(seen) + 1
            seen += [(i["offset_ms"], i["method"], i["url"], i["status"]) for i in listing["items"]]
            pages += 1
            cursor = listing["next_cursor"]
            if cursor is None:
                assert text.endswith("**End of this list.**")
                break
            assert f'cursor="{cursor}"' in text
    assert pages > 3
    assert len(seen) == total == len(requests)
    # Every request the session made, each exactly once (the order of unanswered ones is the reader's choice).
    assert Counter((method, url) for _, method, url, _ in seen) == Counter((r["method"], r["url"]) for r in requests)


async def test_query_and_time_window_filter_a_focus(settings: Settings, sandbox: SandboxServer) -> None:
    index = troubled(sandbox, "acme/web")
    async with connect(settings) as client:
        url = await export_url(client, index)
        _, everything = await read(client, url=url, focus="console", max_chars=24000)
        _, slow = await read(client, url=url, focus="console", query="SLOW network")
        _, late = await read(client, url=url, focus="console", start="2m", end="1h")
    all_items = everything["listing"]["items"]
    assert [i["message"] for i in slow["listing"]["items"]] == [
        i["message"] for i in all_items if "slow network" in i["message"].lower()
    ]
    assert [i["offset_ms"] for i in late["listing"]["items"]] == [
        i["offset_ms"] for i in all_items if i["offset_ms"] is not None and i["offset_ms"] >= 120_000
    ]
    assert slow["listing"]["total"] is None  # unknown under a filter
    assert everything["listing"]["total"] == len(all_items)


async def test_a_huge_export_streams_and_every_answer_stays_in_budget(
    settings: Settings, sandbox: SandboxServer
) -> None:
    index = troubled(sandbox, "acme/web")
    async with connect(settings) as client:
        url = await export_url(client, index) + "&events=40000"
        text, data = await read(client, url=url)
        assert len(text) <= 20_000
        assert data["reading"]["bytes"] > 10_000_000
        counts = data["digest"]["counts"]
        assert counts["network"] > 3000
        # Cut sections say how many are left and give the exact call that lists them.
        assert "**Left out above, and how to get it:**" in text
        assert f'`read_session_export(url="{url}", focus="navigation")`' in text
        for focus in ("errors", "network", "console", "navigation", "timeline"):
            text, _ = await read(client, url=url, focus=focus, max_chars=MAX_CHARS)
            assert len(text) <= MAX_CHARS
        text, _ = await read(client, url=url, focus="network", max_chars=4000)
        assert len(text) <= 4000


@pytest.mark.parametrize(
    ("suffix", "reading"),
    [
        ("&variant=broken-lines", {"invalid_json": 2, "not_utf8": 1}),
        ("&variant=binary", {"complete": True}),
        ("&variant=huge-line", {"too_long": 1}),
        ("&encoding=gzip", {"compression": "gzip (Content-Encoding)", "complete": True}),
    ],
)
async def test_malformed_files_are_read_around_and_reported(
    settings: Settings, sandbox: SandboxServer, suffix: str, reading: dict[str, Any]
) -> None:
    index = troubled(sandbox, "acme/web")
    expected = truth(session_for(sandbox, "acme/web", index))
    async with connect(settings) as client:
        url = await export_url(client, index) + suffix
        text, data = await read(client, url=url)
    for key, value in reading.items():
        assert data["reading"][key] == value, key
    # The damage costs nothing that was intact.
    assert data["digest"]["counts"]["error"] == expected["errors"]
    if "broken" in suffix:
        assert "Skipped lines: 2 not valid JSON, 1 not UTF-8, 1 JSON but not an object." in text
        assert data["digest"]["other_types"] == {"lr.performance.Memory": 1, "(no type; keys weird, n)": 1}
    if "binary" in suffix:
        assert data["reading"]["not_utf8"] + data["reading"]["invalid_json"] > 0
    if "huge" in suffix:
        assert "1 longer than 4 MiB" in text


async def test_gzip_files_are_recognised_by_their_magic_bytes(settings: Settings, sandbox: SandboxServer) -> None:
    app = sandbox.world.app("acme", "web")
    assert app is not None
    index = next(i for i, s in enumerate(app.sessions) if s.gzip)
    async with connect(settings) as client:
        url = await export_url(client, index)
        _, data = await read(client, url=url)
    assert url.split("?")[0].endswith(".jsonl.gz")
    assert data["reading"]["compression"] == "gzip (magic bytes)"
    assert data["reading"]["wire_bytes"] < data["reading"]["bytes"]


async def test_a_transfer_that_breaks_gives_an_honest_partial_answer(
    settings: Settings, sandbox: SandboxServer
) -> None:
    index = troubled(sandbox, "acme/web")
    async with connect(settings) as client:
        url = await export_url(client, index) + "&variant=truncated"
        text, data = await read(client, url=url)
        _, again = await read(client, url=url)
    assert data["reading"]["complete"] is False
    assert "RemoteProtocolError" in (data["reading"]["transfer_error"] or "")
    assert "**The download broke off**" in text
    assert "this covers only the part that arrived; calling again retries." in text
    assert data["reading"]["invalid_json"] == 0  # the cut-off last line is not blamed on the file
    assert again["reading"]["from_cache"] is False  # a broken read is not served from the cache


async def test_follow_ups_come_from_the_cache_and_a_damaged_entry_is_rebuilt(
    settings: Settings, sandbox: SandboxServer
) -> None:
    index = troubled(sandbox, "acme/web")
    async with connect(settings) as client:
        url = await export_url(client, index)
        _, first = await read(client, url=url)
        downloads = _downloads(sandbox)
        # A fresh signed URL for the same file hits the same entry.
        fresh = await export_url(client, index)
        _, second = await read(client, url=fresh, focus="errors")
        assert second["reading"]["from_cache"] is True
        assert _downloads(sandbox) == downloads
        # Damage the cached errors list: the entry must be rebuilt, never served.
        cache = Path(settings.cache_dir or "")
        damaged = next(cache.glob("*/error_groups.jsonl"))  # what focus="errors" pages through
        damaged.write_bytes(b"X" * damaged.stat().st_size)
        _, third = await read(client, url=url, focus="errors")
        assert _downloads(sandbox) == downloads + 1
        assert third["listing"]["items"] == second["listing"]["items"]
        # A half-written entry (no manifest) is rebuilt too.
        next(cache.glob("*/manifest.json")).unlink()
        _, fourth = await read(client, url=url)
        assert fourth["reading"]["from_cache"] is False
        assert fourth["digest"]["counts"] == first["digest"]["counts"]


def _downloads(sandbox: SandboxServer) -> int:
    return sum(r.path.startswith("/export-files/") for r in sandbox.sandbox.requests.items())


async def test_the_cache_keeps_to_its_size_cap(settings: Settings, sandbox: SandboxServer) -> None:
    small = settings.with_overrides(cache_max_bytes=40_000)
    async with connect(small) as client:
        for index in range(4):
            await read(client, url=await export_url(client, index))
    entries = [d for d in Path(settings.cache_dir or "").iterdir() if not d.name.startswith(".")]
    size = sum(f.stat().st_size for d in entries for f in d.iterdir())
    assert 1 <= len(entries) < 4
    assert size <= 40_000  # each entry is well under the cap alone, so the cache fits in it


async def test_the_byte_cap_is_said_plainly(settings: Settings, sandbox: SandboxServer) -> None:
    capped = settings.with_overrides(export_max_bytes=20_000)
    async with connect(capped) as client:
        url = await export_url(client, troubled(sandbox, "acme/web"))
        text, data = await read(client, url=url)
    assert data["reading"]["byte_cap_hit"] is True
    assert data["reading"]["bytes"] == 20_000
    assert "**Stopped at the 19.5 KB read cap** (SESSION_REPLAY_MCP_EXPORT_MAX_BYTES)" in text


async def test_a_listing_of_an_export_read_in_part_says_so_where_it_ends(
    settings: Settings, sandbox: SandboxServer
) -> None:
    capped = settings.with_overrides(export_max_bytes=20_000)
    async with connect(capped) as client:
        url = await export_url(client, troubled(sandbox, "acme/web"))
        text, data = await read(client, url=url, focus="network")
    async with connect(settings) as client:
        whole, _ = await read(client, url=url, focus="network")
    assert data["reading"]["complete"] is False and data["listing"]["items"]
    ending = text[text.index("**End of this list.**") :]
    assert "**Stopped at the 19.5 KB read cap** (SESSION_REPLAY_MCP_EXPORT_MAX_BYTES)" in ending
    assert "Reading:" not in whole  # a list of a whole export needs no such note


async def test_the_key_never_reaches_the_export_host(settings: Settings, sandbox: SandboxServer) -> None:
    async with connect(settings) as client:
        await read(client, url=await export_url(client, 3))
    downloads = [r for r in sandbox.sandbox.requests.items() if r.path.startswith("/export-files/")]
    assert downloads
    for request in downloads:
        assert "authorization" not in request.headers
        assert "cookie" not in request.headers
        assert all(str(settings.logrocket_api_key) not in v for v in request.headers.values())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "https://10.1.2.3/export.jsonl",
            "Refused to fetch from 10.1.2.3: it is a private address. Export URLs must point to public hosts; if "
            "this is your own storage, add 10.1.2.3 to LOGROCKET_EXPORT_ALLOWED_HOSTS.",
        ),
        (
            "https://169.254.169.254/latest/meta-data/",
            "Refused to fetch from 169.254.169.254: it is the cloud metadata address. Export URLs must point to "
            "public hosts; if this is your own storage, add 169.254.169.254 to LOGROCKET_EXPORT_ALLOWED_HOSTS.",
        ),
        (
            "https://localhost:9/export.jsonl",
            "Refused to fetch from localhost: it resolves to 127.0.0.1, a loopback address. Export URLs must "
            "point to public hosts; if this is your own storage, add localhost to LOGROCKET_EXPORT_ALLOWED_HOSTS.",
        ),
        (
            "https://[::1]:9/export.jsonl",
            "Refused to fetch from ::1: it is a loopback address. Export URLs must point to public hosts; if this "
            "is your own storage, add ::1 to LOGROCKET_EXPORT_ALLOWED_HOSTS.",
        ),
        (
            "http://storage.example.com/export.jsonl",
            "Only https export URLs are fetched (got 'http://storage.example.com/export.jsonl'). If this is your "
            "own storage served over plain http, add storage.example.com to LOGROCKET_EXPORT_ALLOWED_HOSTS.",
        ),
        ("file:///etc/passwd", "'file:///etc/passwd' is not an http(s) URL."),
    ],
)
async def test_urls_to_private_places_are_refused(settings: Settings, url: str, message: str) -> None:
    async with connect(settings) as client:
        result = await client.call_tool("read_session_export", {"url": url})
    assert result.is_error
    assert text_of(result).startswith(f"Error executing tool read_session_export: {message}")


async def test_the_sandbox_port_is_the_only_loopback_address_allowed(
    settings: Settings, sandbox: SandboxServer
) -> None:
    other = f"http://127.0.0.1:{sandbox.port + 1}/export-files/x.jsonl"
    async with connect(settings) as client:
        result = await client.call_tool("read_session_export", {"url": other})
        assert text_of(result).startswith("Error executing tool read_session_export: Only https export URLs")
        # A redirect from the allowed host to a private address is checked like any URL.
        hop = f"{sandbox.url}/_sandbox/redirect?to=https://10.0.0.7/stolen.jsonl"
        result = await client.call_tool("read_session_export", {"url": hop})
    assert result.is_error
    assert text_of(result) == (
        "Error executing tool read_session_export: Refused to fetch from 10.0.0.7: it is a private address. "
        "Export URLs must point to public hosts; if this is your own storage, add 10.0.0.7 to "
        "LOGROCKET_EXPORT_ALLOWED_HOSTS."
    )


async def test_an_expired_link_says_to_list_again(settings: Settings, sandbox: SandboxServer) -> None:
    async with connect(settings) as client:
        url = await export_url(client, 0)
        stale = re.sub(r"X-Goog-Date=\d{8}T\d{6}Z", "X-Goog-Date=20200101T000000Z", url)
        result = await client.call_tool("read_session_export", {"url": stale})
    assert result.is_error
    assert text_of(result) == (
        "Error executing tool read_session_export: The export host refused the download (HTTP 403: "
        "SignatureDoesNotMatch Access denied.). Export links are signed and expire: call list_exports again to "
        "get a fresh URL for this session."
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"cursor": "abc"},
            "cursor continues a focused listing: pass the same focus (and query/start/end) as the "
            "call that returned it.",
        ),
        (
            {"focus": "errors", "cursor": "abc"},
            "cursor is not one this tool returned; call again without cursor to start over.",
        ),
        (
            {"focus": "errors", "start": 300},
            "start=300 is ambiguous: give an offset with a unit (300s or 300ms) "
            "or a time as epoch milliseconds or ISO-8601.",
        ),
        ({"focus": "errors", "start": "10m", "end": "5m"}, "start is after end; swap them or drop one."),
        (
            {"focus": "everything"},
            "invalid arguments: focus should be 'errors', 'network', 'console', "
            "'navigation', 'custom', 'user', 'timeline' or 'other' (got 'everything').",
        ),
        ({"max_chars": 100000}, "invalid arguments: max_chars should be less than or equal to 24000 (got 100000)."),
    ],
)
async def test_bad_arguments_get_clear_messages(settings: Settings, arguments: dict[str, Any], message: str) -> None:
    async with connect(settings) as client:
        url = await export_url(client, 0)
        result = await client.call_tool("read_session_export", {"url": url, **arguments})
    assert result.is_error
    text = text_of(result).removeprefix("Error executing tool read_session_export: ")
    assert text.removesuffix(" Fix them and call again.") == message


async def test_a_cursor_from_other_filters_is_refused(settings: Settings, sandbox: SandboxServer) -> None:
    index = troubled(sandbox, "acme/web")
    async with connect(settings) as client:
        url = await export_url(client, index) + "&events=2000"
        _, page = await read(client, url=url, focus="network", max_chars=4000)
        cursor = page["listing"]["next_cursor"]
        result = await client.call_tool("read_session_export", {"url": url, "focus": "console", "cursor": cursor})
    assert text_of(result).endswith(
        "cursor belongs to another listing (a different focus, query, start or end): pass the same ones as the "
        "call that returned it, or drop the cursor to start over."
    )


async def test_progress_is_reported_while_a_big_export_downloads(settings: Settings, sandbox: SandboxServer) -> None:
    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message or "")

    async with connect(settings) as client:
        url = await export_url(client, troubled(sandbox, "acme/web"))
        # About 80 KB, 16 KB every 0.3 s: the download takes over a second however fast the machine, long enough
        # for a progress report (one a second).
        sandbox.sandbox.faults.add(Fault(kind="trickle", bytes=16 << 10, seconds=0.3, path="/export-files/"))
        result = await client.call_tool("read_session_export", {"url": url}, progress_callback=on_progress)
    assert not result.is_error, text_of(result)
    assert seen
    assert all(re.fullmatch(r"Read [\d.]+ (KB|MB) of the export \(\d+ s\)", m) for m in seen), seen
