"""list_exports through a real MCP client against the sandbox."""

from __future__ import annotations

import json
import re

import pytest

from mcp_server.results.list_exports import MAX_CHARS
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.world import CURSOR_SCALE
from mcp_server.settings import Settings
from tests.conftest import check_snapshot, connect, normalize, text_of

pytestmark = pytest.mark.anyio


async def test_first_page_lists_sessions_with_what_their_urls_reveal(
    settings: Settings, sandbox: SandboxServer
) -> None:
    async with connect(settings) as client:
        result = await client.call_tool("list_exports", {"limit": 3})
    assert not result.is_error
    text = text_of(result)
    check_snapshot("list_exports_first_page.md", normalize(text))
    data = result.structured_content
    assert data is not None
    app = sandbox.world.app("acme", "web")
    assert app is not None
    first = app.sessions[:3]
    assert [s["session_id"] for s in data["sessions"]] == [s.session_id for s in first]
    assert data["sessions"][0]["replay_url"] == f"https://app.logrocket.com/acme/web/s/{first[0].session_id}"
    assert data["more_available"] is True
    # The cursor is the last session's position, exactly, although it is far beyond 2**53.
    expected = app.cursor_of(first[-1])
    assert expected > 2**53
    assert data["next_cursor"] == str(expected)
    assert f'list_exports(cursor="{expected}")' in text
    # Every download URL is shown in full, so the agent can pass it on.
    for session in data["sessions"]:
        assert session["url"] in text


async def test_paging_with_the_cursor_returns_every_session_exactly_once(
    settings: Settings, sandbox: SandboxServer
) -> None:
    app = sandbox.world.app("acme", "web")
    assert app is not None
    seen: list[str] = []
    cursor = None
    async with connect(settings) as client:
        for _ in range(20):
            args: dict[str, object] = {"limit": 7}
            if cursor is not None:
                args["cursor"] = cursor
            result = await client.call_tool("list_exports", args)
            data = result.structured_content
            assert data is not None
            seen += [s["session_id"] for s in data["sessions"]]
            cursor = data["next_cursor"]
            if not data["more_available"]:
                break
        last = await client.call_tool("list_exports", {"cursor": cursor})
    assert seen == [s.session_id for s in app.sessions]
    assert last.structured_content is not None and last.structured_content["count"] == 0
    assert "No exported sessions for app `acme/web` after this cursor." in text_of(last)
    assert f'call `list_exports(cursor="{cursor}")`' in text_of(last)


async def test_a_short_page_says_plainly_that_there_are_no_more_for_now(
    settings: Settings, sandbox: SandboxServer
) -> None:
    app = sandbox.world.app("acme", "web")
    assert app is not None
    before_last = str(app.cursor_of(app.sessions[-3]))
    async with connect(settings) as client:
        result = await client.call_tool("list_exports", {"cursor": before_last, "limit": 10})
    data = result.structured_content
    assert data is not None
    assert data["count"] == 2 and data["more_available"] is False
    assert "**No more sessions for now:** this page reached the newest export available." in text_of(result)


@pytest.mark.parametrize(
    ("since", "expected_ms"),
    [
        ("2026-11-15", 1_794_700_800_000),
        ("2026-11-15T12:00:00Z", 1_794_744_000_000),
        ("2026-11-15T13:00:00+01:00", 1_794_744_000_000),
        (1_794_744_000_000, 1_794_744_000_000),
        ("1794744000000", 1_794_744_000_000),
    ],
)
async def test_since_is_sent_as_date_in_milliseconds(
    settings: Settings, sandbox: SandboxServer, since: object, expected_ms: int
) -> None:
    async with connect(settings) as client:
        result = await client.call_tool("list_exports", {"since": since, "limit": 100})
    assert not result.is_error, text_of(result)
    sent = [r for r in sandbox.sandbox.requests.items() if r.path.endswith("/data-export/")]
    assert f"date={expected_ms}" in sent[-1].query
    data = result.structured_content
    assert data is not None and data["since_ms"] == expected_ms
    app = sandbox.world.app("acme", "web")
    assert app is not None
    expected = [s.session_id for s in app.sessions if s.exported_ms >= expected_ms][:100]
    assert [s["session_id"] for s in data["sessions"]] == expected


async def test_relative_since_counts_back_from_now(settings: Settings, sandbox: SandboxServer) -> None:
    async with connect(settings) as client:
        result = await client.call_tool("list_exports", {"since": "7d"})
    data = result.structured_content
    assert data is not None
    import time

    assert abs(data["since_ms"] - (time.time() * 1000 - 7 * 86_400_000)) < 60_000


async def test_a_cursor_given_as_a_json_number_is_used_exactly(settings: Settings, sandbox: SandboxServer) -> None:
    app = sandbox.world.app("acme", "web")
    assert app is not None
    cursor = app.cursor_of(app.sessions[4])
    async with connect(settings) as client:
        result = await client.call_tool("list_exports", {"cursor": cursor, "limit": 1})
    data = result.structured_content
    assert data is not None
    assert data["sessions"][0]["session_id"] == app.sessions[5].session_id
    sent = [r for r in sandbox.sandbox.requests.items() if r.path.endswith("/data-export/")]
    assert f"cursor={cursor}" in sent[-1].query


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"limit": 0},
            "Error executing tool list_exports: invalid arguments: limit should be greater than or equal to 1 "
            "(got 0). Fix them and call again.",
        ),
        (
            {"since": 1794744000},
            "Error executing tool list_exports: since=1794744000 looks like seconds since the epoch, but LogRocket "
            "wants milliseconds: use 1794744000000 (or an ISO-8601 date such as 2026-11-15T12:00:00Z).",
        ),
        (
            {"since": "last tuesday"},
            "Error executing tool list_exports: since='last tuesday' is not a time I can read; use epoch "
            "milliseconds (1795132800000), an ISO-8601 date or date-time (2026-11-20, 2026-11-20T14:30:00Z), or "
            "an age such as 90m, 24h or 7d.",
        ),
        (
            {"since": "2026-11-15", "cursor": "123"},
            "Error executing tool list_exports: Give either cursor (to continue from a previous page) or since "
            "(to start at a time), not both.",
        ),
        (
            {"since": "2999-01-01"},
            "Error executing tool list_exports: since=2999-01-01T00:00:00Z is in the future; no session has been "
            "exported after it yet.",
        ),
        (
            {"limits": 5},
            "Error executing tool list_exports: unknown argument 'limits'. list_exports takes: cursor, limit, since.",
        ),
    ],
)
async def test_invalid_arguments_get_a_clear_message_and_no_upstream_call(
    settings: Settings, sandbox: SandboxServer, arguments: dict[str, object], message: str
) -> None:
    async with connect(settings) as client:
        result = await client.call_tool("list_exports", arguments)
    assert result.is_error
    assert text_of(result) == message
    assert not sandbox.sandbox.requests.items()


async def test_a_full_page_of_long_urls_stays_within_the_size_budget(
    settings: Settings, sandbox: SandboxServer
) -> None:
    async with connect(settings) as client:
        result = await client.call_tool("list_exports", {"limit": 100})
    text = text_of(result)
    assert len(text) <= MAX_CHARS
    data = result.structured_content
    assert data is not None and data["count"] == 48  # the whole app fits on one page
    shown = re.findall(r"^\d+\. `(http[^`]+)`$", text, flags=re.MULTILINE)
    assert shown == [s["url"] for s in data["sessions"]][: len(shown)]
    if len(shown) < data["count"]:
        assert f"{data['count'] - len(shown)} sessions of this page are not shown" in text


async def test_the_cursor_survives_a_json_round_trip_as_text(settings: Settings) -> None:
    async with connect(settings) as client:
        result = await client.call_tool("list_exports", {"limit": 1})
    data = result.structured_content
    assert data is not None
    cursor = data["next_cursor"]
    assert isinstance(cursor, str)
    assert json.loads(json.dumps(data))["next_cursor"] == cursor
    assert int(cursor) % CURSOR_SCALE == 0  # the first session's tie-breaker; all digits kept


def test_rows_that_do_not_fit_are_cut_with_the_call_that_gets_them() -> None:
    from mcp_server.results.list_exports import ExportedSession, ListExportsOutput

    urls = [
        f"https://storage.googleapis.com/lr-exports/acme/web/2026-11-15/{i:04d}.jsonl?sig={'x' * 700}"
        for i in range(100)
    ]
    sessions = [
        ExportedSession(
            url=u,
            session_id=None,
            replay_url=None,
            recorded_on="2026-11-15",
            expires_at=None,
        )
        for u in urls
    ]
    out = ListExportsOutput(
        app_id="acme/web",
        count=100,
        sessions=sessions,
        next_cursor="99",
        more_available=True,
        since_ms=None,
        cursor_sent="42",
    )
    text = out.render()
    assert len(text) <= MAX_CHARS
    shown = re.findall(r"^\d+\. `(http[^`]+)`$", text, flags=re.MULTILINE)
    assert 0 < len(shown) < 100
    assert shown == urls[: len(shown)]
    left = 100 - len(shown)
    assert (
        f"{left} sessions of this page are not shown, to keep this answer under 40,000 characters; they are in "
        f'the structured result. To read them here, page in smaller steps: call `list_exports(cursor="42", '
        f"limit={len(shown)})` and continue from its cursor." in text
    )
    assert text.endswith('**More sessions:** call `list_exports(cursor="99")` for the next page.')


def test_expiry_is_a_time_in_the_structured_result_and_an_age_in_the_markdown() -> None:
    from datetime import UTC, datetime, timedelta

    from mcp_server.results.list_exports import ExportedSession, ListExportsOutput

    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2, minutes=1)
    session = ExportedSession(
        url="https://storage.googleapis.com/lr-exports/acme/web/2026-11-15/0001.jsonl.gz",
        session_id=None,
        replay_url=None,
        recorded_on="2026-11-15",
        expires_at=expires,
        compressed=True,
    )
    out = ListExportsOutput(
        app_id="acme/web", count=1, sessions=[session], next_cursor=None, more_available=False, since_ms=None
    )
    data = out.model_dump(mode="json")
    # The file format is shown, not part of the (reviewed) output schema; the expiry is this server's UTC text.
    assert data["sessions"][0] == {
        "url": session.url,
        "session_id": None,
        "replay_url": None,
        "recorded_on": "2026-11-15",
        "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert "| 1 | 2026-11-15 | ? | JSON Lines, gzip | in 2 h |" in out.render()
    assert ListExportsOutput.model_validate(data).sessions[0].expires_at == expires  # as clients' data reads back
