"""The sandbox's highlights endpoints behave as LogRocket documents them, and can be steered for tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from mcp_server.sandbox.highlights import MAX_SESSIONS
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.world import DAY_MS, DEFAULT_APP, SandboxWorld

BASE = "/v1/orgs/acme/apps/web/highlights"


@pytest.fixture
def http(sandbox: SandboxServer) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=sandbox.url, headers={"Authorization": f"token {DEFAULT_APP.api_key}"}) as client:
        yield client
    sandbox.world.highlights_delay = 0.2
    sandbox.world.highlights_status = "READY"
    sandbox.world.fail_next_highlights(0)


def start(http: httpx2.Client, **body: Any) -> str:
    reply = http.post(BASE + "/", json=body)
    assert reply.status_code == 200, reply.text
    request_id = reply.json()["id"]
    assert isinstance(request_id, str) and len(request_id) == 64 and int(request_id, 16) >= 0
    return request_id


def finish(http: httpx2.Client, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        body: dict[str, Any] = http.get(BASE, params={"id": request_id}).json()
        if body["status"] != "PENDING" or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_pending_then_ready_with_the_documented_bodies(http: httpx2.Client) -> None:
    rid = start(http, userEmail="jane@acme.com")
    assert http.get(BASE, params={"id": rid}).json() == {
        "result": None,
        "status": "PENDING",
        "appID": "acme/web",
        "requestID": rid,
    }
    done = finish(http, rid)
    assert (done["status"], done["appID"], done["requestID"]) == ("READY", "acme/web", rid)
    assert set(done["result"]) == {"highlights", "sessions"}
    assert set(done["result"]["sessions"][0]) == {"recordingID", "sessionID", "highlights"}


def test_the_paths_keep_their_documented_slashes(http: httpx2.Client) -> None:
    # Only POST .../highlights/ and GET .../highlights?id= exist; the other spellings are refused.
    assert http.post(BASE, json={"userEmail": "jane@acme.com"}).status_code in (404, 405)
    assert http.get(BASE + "/", params={"id": "x"}).status_code in (404, 405)


def test_sessions_are_the_users_10_most_recent_of_the_last_30_days(http: httpx2.Client, sandbox: SandboxServer) -> None:
    world = sandbox.world
    app = world.app("acme", "web")
    assert app is not None
    result = finish(http, start(http, userEmail="jane@acme.com"))["result"]
    janes = sorted(
        (s for s in app.sessions if s.user.email == "jane@acme.com" and s.started_ms >= world.anchor_ms - 30 * DAY_MS),
        key=lambda s: -s.started_ms,
    )
    assert len(janes) > MAX_SESSIONS  # so the limit is what is being tested
    assert [(s["recordingID"], s["sessionID"]) for s in result["sessions"]] == [
        (s.recording_id, s.session_index) for s in janes[:MAX_SESSIONS]
    ]


def test_a_time_range_narrows_the_sessions(http: httpx2.Client, sandbox: SandboxServer) -> None:
    app = sandbox.world.app("acme", "web")
    assert app is not None
    start_ms, end_ms = sandbox.world.anchor_ms - 2 * DAY_MS, sandbox.world.anchor_ms - DAY_MS
    result = finish(http, start(http, userID="u-1001", timeRange={"startMs": start_ms, "endMs": end_ms}))["result"]
    for item in result["sessions"]:
        session = app.session(item["recordingID"], item["sessionID"])
        assert session is not None and start_ms <= session.started_ms <= end_ms
    assert result["sessions"]


def test_someone_without_sessions_gets_a_plain_answer(http: httpx2.Client) -> None:
    result = finish(http, start(http, userEmail="nobody@acme.com"))["result"]
    assert result == {
        "highlights": "No sessions were found for nobody@acme.com in the requested time range.",
        "sessions": [],
    }


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"question": "x"}, "userEmail or userID is required"),
        ({"userID": "u", "timeRange": {"startMs": 5}}, "timeRange needs integer startMs and endMs"),
        ({"userID": "u", "timeRange": {"startMs": 5, "endMs": 5}}, "timeRange.startMs must be less than endMs"),
    ],
)
def test_bad_requests_are_refused(http: httpx2.Client, body: dict[str, Any], detail: str) -> None:
    reply = http.post(BASE + "/", json=body)
    assert (reply.status_code, reply.json()) == (400, {"detail": detail})


def test_an_unknown_id_is_404(http: httpx2.Client) -> None:
    reply = http.get(BASE, params={"id": "0" * 64})
    assert (reply.status_code, reply.json()) == (404, {"detail": "Not found."})


def test_the_control_api_sets_delay_spelling_and_failures(http: httpx2.Client, sandbox: SandboxServer) -> None:
    reply = http.post("/_sandbox/highlights", json={"delay": 0.05, "status": "COMPLETE", "fail_next": 1})
    assert reply.json() == {"delay": 0.05, "status": "COMPLETE", "fail_next": 1}
    failed = finish(http, start(http, userEmail="jane@acme.com"))
    assert (failed["status"], failed["result"]) == ("FAILED", None)
    assert finish(http, start(http, userEmail="jane@acme.com"))["status"] == "COMPLETE"
    assert http.get("/_sandbox/highlights").json() == {"delay": 0.05, "status": "COMPLETE", "fail_next": 0}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"status": "DONE"}, 'status must be "READY" or "COMPLETE"'),
        ({"delay": -1}, "delay must be a number of seconds from 0 to 3600"),
        ({"fail_next": "2"}, "fail_next must be a whole number, 0 or more"),
        ([1], "the body must be a JSON object"),
    ],
)
def test_the_control_api_refuses_nonsense(http: httpx2.Client, body: Any, detail: str) -> None:
    reply = http.post("/_sandbox/highlights", json=body)
    assert (reply.status_code, reply.json()) == (400, {"detail": detail})


def test_failures_can_be_armed_from_python(sandbox: SandboxServer) -> None:
    world: SandboxWorld = sandbox.world
    world.fail_next_highlights(2)
    assert [world.take_highlights_failure() for _ in range(3)] == [True, True, False]
