"""The adapter's highlights calls against answers the sandbox does not give: other shapes seen in the wild."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from mcp_server.adapters.errors import UpstreamBadResponse
from mcp_server.adapters.logrocket import LogRocketClient, SessionHighlights
from mcp_server.settings import Settings

pytestmark = pytest.mark.anyio

SETTINGS = Settings(logrocket_api_key="acme:web:secret-key-123", retry_base_delay=0.001)


def client(answer: Any, seen: list[httpx2.Request] | None = None) -> LogRocketClient:
    def handle(request: httpx2.Request) -> httpx2.Response:
        if seen is not None:
            seen.append(request)
        body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        return httpx2.Response(200, content=body, headers={"content-type": "application/json"})

    return LogRocketClient(SETTINGS, transport=httpx2.MockTransport(handle))


async def test_the_post_sends_the_body_to_the_documented_path_and_reads_the_id() -> None:
    seen: list[httpx2.Request] = []
    lr = client({"id": "ab" * 32}, seen)
    assert await lr.request_highlights({"userEmail": "jane@acme.com", "question": "q"}) == "ab" * 32
    await lr.aclose()
    (request,) = seen
    assert (request.method, str(request.url)) == ("POST", "https://api.logrocket.com/v1/orgs/acme/apps/web/highlights/")
    assert request.headers["authorization"] == "token acme:web:secret-key-123"
    assert json.loads(request.content) == {"userEmail": "jane@acme.com", "question": "q"}


@pytest.mark.parametrize("answer", [{"id": ""}, {"id": "a/b"}, {"request": "x"}, ["x"]])
async def test_a_post_answer_without_a_usable_id_is_a_bad_response(answer: Any) -> None:
    lr = client(answer)
    with pytest.raises(UpstreamBadResponse, match='JSON that is not an object with a request "id"'):
        await lr.request_highlights({"userID": "u"})
    await lr.aclose()


async def test_the_api_description_shape_with_complete_and_session_id_is_read() -> None:
    answer = {
        "status": "complete",
        "requestID": "r",
        "result": {
            "highlights": "overall",
            "sessions": [
                {"sessionId": "5-3cde95d6-a5b8-4a62-9b3a-6aa834f8747c/2", "highlights": "one"},
                {"recordingID": "5-3cde95d6-a5b8-4a62-9b3a-6aa834f8747c", "sessionID": 1, "highlights": "two"},
                {"recordingID": "5-aa", "highlights": None},
                "not a session",
            ],
        },
    }
    seen: list[httpx2.Request] = []
    lr = client(answer, seen)
    status = await lr.get_highlights("r")
    await lr.aclose()
    assert str(seen[0].url) == "https://api.logrocket.com/v1/orgs/acme/apps/web/highlights?id=r"
    assert status.status == "COMPLETE"
    assert status.result is not None and status.result.highlights == "overall"
    assert status.result.sessions == [
        SessionHighlights(None, "5-3cde95d6-a5b8-4a62-9b3a-6aa834f8747c/2", "one"),
        SessionHighlights("5-3cde95d6-a5b8-4a62-9b3a-6aa834f8747c", "5-3cde95d6-a5b8-4a62-9b3a-6aa834f8747c/1", "two"),
        SessionHighlights("5-aa", "5-aa/0", ""),
    ]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"result": None}, 'an object with a "status"'),
        ({"status": 3}, 'an object with a "status"'),
        ({"status": "READY", "result": "text"}, 'a "result" object or null'),
    ],
)
async def test_a_status_answer_of_another_shape_is_a_bad_response(answer: Any, expected: str) -> None:
    lr = client(answer)
    with pytest.raises(UpstreamBadResponse, match=expected):
        await lr.get_highlights("r")
    await lr.aclose()
