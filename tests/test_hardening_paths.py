"""Every value placed in a URL path stays exactly one segment, in every adapter and every link we build.

A user id of ``..`` once sent ``PUT /v1/orgs/{org}/apps/{app}`` (with the key and the body): percent-encoding
leaves dots alone and the HTTP client removes dot segments.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import anyio
import httpx2
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mcp_server.adapters.highlight import HighlightClient
from mcp_server.adapters.logrocket import LogRocketClient
from mcp_server.adapters.paths import replay_url
from mcp_server.errors import InputError
from mcp_server.exports.urlinfo import inspect_export_url
from mcp_server.sandbox.server import SandboxServer
from mcp_server.settings import Settings
from tests.conftest import connect, text_of

RUNS = settings(max_examples=200, deadline=None, derandomize=True, database=None)
# Values that try to leave their segment: dot segments, separators, their encodings, and ordinary text.
segments = st.one_of(
    st.sampled_from([".", "..", "...", "./", "../", "%2e", "%2E%2E", "a/..", "/", "?", "#", "\\", ";", "%2F", " "]),
    st.text(alphabet=st.sampled_from("./%2eE?#\\;:@ aZ\u202e\x00"), min_size=1, max_size=6),
    st.text(min_size=1, max_size=12),
)


def decoded_segments(url: str) -> list[str]:
    return [unquote(s) for s in urlsplit(url).path.split("/")]


@pytest.mark.anyio
@pytest.mark.parametrize("user_id", [".", ".."])
async def test_a_dot_user_id_is_refused_before_anything_is_sent(
    settings: Settings, sandbox: SandboxServer, user_id: str
) -> None:
    async with connect(settings) as client:
        result = await client.call_tool("identify_user", {"user_id": user_id, "name": "Mallory"})
    assert result.is_error
    text = text_of(result)
    assert text.startswith(f"Error executing tool identify_user: user_id is {user_id!r}, which HTTP clients"), text
    assert "LOGROCKET_APP_ID" not in text and "LOGROCKET_API_URL" not in text  # not the configuration's fault
    assert not sandbox.sandbox.requests.items()


@RUNS
@example(user_id="..")
@example(user_id=".")
@example(user_id="../../users/x")
@given(user_id=segments)
def test_identify_user_sends_the_id_as_exactly_one_segment(user_id: str) -> None:
    sent: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json={"userID": user_id})

    async def call() -> None:
        lr = LogRocketClient(
            Settings(logrocket_api_key="acme:web:secret-secret", max_retries=0),
            transport=httpx2.MockTransport(handler),
        )
        try:
            await lr.identify_user(user_id, {"name": "n"})
        finally:
            await lr.aclose()

    try:
        anyio.run(call)
    except InputError:
        assert user_id in (".", "..") and not sent
        return
    assert len(sent) == 1
    raw_path = sent[0].url.raw_path.decode("ascii").partition("?")[0]
    parts = raw_path.split("/")
    assert parts[:-1] == ["", "v1", "orgs", "acme", "apps", "web", "users"], raw_path
    assert unquote(parts[-1]) == user_id


@RUNS
@given(project=segments, secure_id=segments)
def test_highlight_session_links_keep_each_id_in_its_segment(project: str, secure_id: str) -> None:
    hl = HighlightClient(Settings(highlight_app_url="https://app.example.com"))
    url = hl.session_url(project, secure_id)
    if url is None:
        assert {project, secure_id} & {".", ".."}
        return
    assert decoded_segments(url) == ["", project, "sessions", secure_id]
    assert urlsplit(url).query == "" and urlsplit(url).fragment == ""


@RUNS
@given(recording=segments, session=segments)
def test_replay_links_keep_each_id_in_its_segment(recording: str, session: str) -> None:
    url = replay_url("acme", "web", recording, session)
    if url is None:
        assert {recording, session} & {".", ".."}
        return
    assert url.startswith("https://app.logrocket.com/")
    assert decoded_segments(url) == ["", "acme", "web", "s", recording, session]
    assert urlsplit(url).query == "" and urlsplit(url).fragment == ""


@pytest.mark.anyio
async def test_galileo_session_ids_cannot_move_the_replay_link(settings: Settings, sandbox: SandboxServer) -> None:
    """A recordingID from Galileo's answer that climbs out of the replay path gets no link at all."""
    from mcp_server.adapters.logrocket import _highlights_result
    from mcp_server.results.summarize_user_sessions import highlights_of
    from mcp_server.settings import AppRef

    raw: dict[str, Any] = {
        "highlights": "",
        "sessions": [
            {"recordingID": "..", "sessionID": 0, "highlights": "x"},
            {"recordingID": "5-abc", "sessionID": "..", "highlights": "y"},
            {"recordingID": "x) [click](https://evil.example", "sessionID": 1, "highlights": "z"},
        ],
    }
    _, sessions = highlights_of(_highlights_result(raw), AppRef("acme", "web"))
    assert [s.replay_url for s in sessions[:2]] == [None, None]
    assert (
        sessions[2].replay_url
        == "https://app.logrocket.com/acme/web/s/x%29%20%5Bclick%5D%28https%3A%2F%2Fevil.example/1"
    )


def test_export_urls_give_replay_links_of_one_segment_per_id() -> None:
    info = inspect_export_url(
        "https://storage.example/exports/2026-11-18/5-3cde95d6-a5b8-4a62-9b3a-6aa834f8747c-2.jsonl"
    )
    assert info.replay_url("acme", "web") == (
        "https://app.logrocket.com/acme/web/s/5-3cde95d6-a5b8-4a62-9b3a-6aa834f8747c/2"
    )
