"""push_highlight_event through a real MCP client against the sandbox's Highlight public graph."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from mcp_server.sandbox.highlight_api import HighlightGraph, HighlightSession
from mcp_server.sandbox.server import SandboxServer
from mcp_server.settings import Settings
from tests.conftest import Ran, check_snapshot, connect, normalize, text_of

pytestmark = pytest.mark.anyio

SECURE_ID = re.compile(r"^[A-Za-z0-9]{28}$")


def graph(sandbox: SandboxServer) -> HighlightGraph:
    return sandbox.sandbox.highlight


def stored(sandbox: SandboxServer, secure_id: str) -> HighlightSession:
    session = graph(sandbox).session(secure_id)
    assert session is not None, f"the sandbox has no session {secure_id}"
    return session


def sent(sandbox: SandboxServer, secure_id: str) -> list[tuple[str | None, dict[str, Any]]]:
    """What reached the sandbox for this session, in order: (operationName, variables as sent)."""
    return [(op, v) for op, v in graph(sandbox).received() if v.get("session_secure_id") == secure_id]


def stable(text: str, secure_id: str) -> str:
    text = normalize(text).replace(secure_id, "SECURE_ID")
    return re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", "TIMESTAMP", text)


async def test_a_new_session_with_identify_and_properties(settings: Settings, sandbox: SandboxServer) -> None:
    before = time.time() * 1000
    async with connect(settings) as client:
        result = await client.call_tool(
            "push_highlight_event",
            {
                "event": "support_ticket_opened",
                "properties": {"ticket_id": "T-1042", "priority": 2, "escalated": True, "score": 4.5},
                "user_identifier": "jane@acme.com",
                "user_traits": {"plan": "team", "seats": 25},
                "session_properties": {"tenant": "acme"},
            },
        )
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data is not None
    secure_id = data["session_secure_id"]
    assert SECURE_ID.match(secure_id)
    check_snapshot("push_highlight_event_new_session.md", stable(text_of(result), secure_id))
    assert data["new_session"] is True
    assert data["accepted"] == ["initializeSession", "identifySession", "addSessionProperties", "pushPayload"]
    assert data["session_url"] == f"{sandbox.url}/_sandbox/highlight/1/sessions/{secure_id}"
    assert data["user_traits"] == {"plan": "team", "seats": "25"}
    assert data["event"]["properties"] == {"ticket_id": "T-1042", "priority": 2, "escalated": True, "score": 4.5}

    # What the sandbox's Highlight holds now, as its worker would have stored it.
    session = stored(sandbox, secure_id)
    assert session.project == 1
    assert session.identifier == "jane@acme.com"
    assert session.user == {"identifier": "jane@acme.com", "plan": "team", "seats": "25", "email": "jane@acme.com"}
    assert session.properties == {"tenant": "acme"}
    assert session.service_name == "session-replay-mcp"
    (track,) = session.track_events()
    assert track["name"] == "support_ticket_opened"
    # The payload is a JSON string holding the properties and, under "event", the name.
    assert json.loads(track["payload"]) == {
        "ticket_id": "T-1042",
        "priority": 2,
        "escalated": True,
        "score": 4.5,
        "event": "support_ticket_opened",
    }
    assert track["payload"] == data["event"]["payload"]
    assert track["payload_id"] == 1 and track["sid"] == 1

    # The requests, exactly: the real schema's argument shapes, strings where it wants JSON strings.
    operations = [op for op, _ in sent(sandbox, secure_id)]
    assert operations == ["initializeSession", "identifySession", "addSessionProperties", "PushPayload"]
    init, identify, props, push = (v for _, v in sent(sandbox, secure_id))
    assert init["organization_verbose_id"] == "sandbox1"
    assert SECURE_ID.match(init["client_id"]) and init["client_id"] != secure_id
    assert identify["user_object"] == {"plan": "team", "seats": "25"}
    assert props["properties_object"] == {"tenant": "acme"}
    assert push["payload_id"] == "1"
    assert push["messages"] == '{"messages":[]}' and push["resources"] == '{"resources":[]}'
    assert push["errors"] == []
    (event,) = push["events"]["events"]
    assert event["type"] == 5 and event["data"]["tag"] == "Track"
    assert before <= event["timestamp"] <= time.time() * 1000
    # No credentials exist for Highlight, and none are sent.
    for request in sandbox.sandbox.requests.items():
        assert request.method == "POST" and request.path == "/highlight/public"
        assert "authorization" not in request.headers
        assert request.headers["content-type"] == "application/json"


async def test_pushing_into_an_existing_session_reuses_it_and_counts_payloads_up(
    settings: Settings, sandbox: SandboxServer
) -> None:
    async with connect(settings) as client:
        first = await client.call_tool("push_highlight_event", {"event": "signed_in"})
        assert first.structured_content is not None
        secure_id = first.structured_content["session_secure_id"]
        second = await client.call_tool(
            "push_highlight_event",
            {"event": "checkout_failed", "properties": {"reason": "card declined"}, "session_secure_id": secure_id},
        )
        third = await client.call_tool("push_highlight_event", {"event": "retried", "session_secure_id": secure_id})
    assert not second.is_error, text_of(second)
    data = second.structured_content
    assert data is not None
    assert data["new_session"] is False
    assert data["session_secure_id"] == secure_id
    assert data["accepted"] == ["pushPayload"]
    # The project's number was learnt when this server started the session, so the link can be built.
    assert data["session_url"] == f"{sandbox.url}/_sandbox/highlight/1/sessions/{secure_id}"
    text = text_of(second)
    assert text.startswith(f"Recorded the event `checkout_failed` in Highlight session `{secure_id}`.")
    assert "no screen recording" not in text
    check_snapshot("push_highlight_event_existing_session.md", stable(text, secure_id))

    session = stored(sandbox, secure_id)
    assert [e["name"] for e in session.track_events()] == ["signed_in", "checkout_failed", "retried"]
    assert session.payload_ids == [1, 2, 3]
    assert [e["sid"] for e in session.events] == [1, 2, 3]
    assert third.structured_content is not None and third.structured_content["event"]["payload_id"] == 3
    assert [op for op, _ in sent(sandbox, secure_id)] == ["initializeSession"] + ["PushPayload"] * 3


async def test_a_session_started_elsewhere_gets_payload_ids_after_any_it_may_have(
    settings: Settings, sandbox: SandboxServer
) -> None:
    async with connect(settings) as client:
        started = await client.call_tool("push_highlight_event", {"event": "opened"})
    assert started.structured_content is not None
    secure_id = started.structured_content["session_secure_id"]
    # A new server process knows nothing of the session: not its payload counter, nor its project's number.
    async with connect(settings.with_overrides(highlight_project_id="not-a-number")) as client:
        result = await client.call_tool(
            "push_highlight_event",
            {"event": "closed", "session_secure_id": f"https://app.highlight.io/1/sessions/{secure_id}?page=2"},
        )
        again = await client.call_tool("push_highlight_event", {"event": "reopened", "session_secure_id": secure_id})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data is not None and data["session_secure_id"] == secure_id
    seconds_since_2024 = int(time.time()) - 1_704_067_200
    assert abs(data["event"]["payload_id"] - seconds_since_2024) <= 5
    assert again.structured_content is not None
    assert again.structured_content["event"]["payload_id"] == data["event"]["payload_id"] + 1
    assert stored(sandbox, secure_id).payload_ids == [1, data["event"]["payload_id"], data["event"]["payload_id"] + 1]
    assert data["session_url"] is None
    assert (
        "- **Link:** none: the project's numeric id is not known here; pass project_id (its number, or the id "
        "this server started a session with)" in text_of(result)
    )


async def test_a_numeric_project_id_gives_a_link_for_an_existing_session(
    settings: Settings, sandbox: SandboxServer
) -> None:
    async with connect(settings) as client:
        started = await client.call_tool("push_highlight_event", {"event": "opened"})
    assert started.structured_content is not None
    secure_id = started.structured_content["session_secure_id"]
    async with connect(settings) as client:
        result = await client.call_tool(
            "push_highlight_event", {"event": "x", "session_secure_id": secure_id, "project_id": "1"}
        )
    assert result.structured_content is not None
    assert result.structured_content["session_url"] == f"{sandbox.url}/_sandbox/highlight/1/sessions/{secure_id}"


async def test_no_project_id_is_a_config_error_but_an_existing_session_needs_none(
    settings: Settings, sandbox: SandboxServer
) -> None:
    no_project = Settings(highlight_public_graph_url=sandbox.highlight_url, retry_base_delay=0.01, read_timeout=2.0)
    async with connect(no_project) as client:
        result = await client.call_tool("push_highlight_event", {"event": "opened"})
    assert result.is_error
    assert text_of(result) == (
        "Error executing tool push_highlight_event: HIGHLIGHT_PROJECT_ID is not set. Set it to your Highlight "
        "project id (the id in your setup snippet, H.init('<project id>'); with LaunchDarkly's endpoint, your "
        "client-side ID) in the server's environment, or pass project_id, then retry. To try the tool without an "
        "account, start the server with --sandbox."
    )
    assert not sandbox.sandbox.requests.items()
    async with connect(no_project) as client:
        started = await client.call_tool("push_highlight_event", {"event": "opened", "project_id": "sandbox1"})
        assert started.structured_content is not None
        secure_id = started.structured_content["session_secure_id"]
        result = await client.call_tool("push_highlight_event", {"event": "next", "session_secure_id": secure_id})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data is not None and data["project_id"] is None
    # No app address is configured for this endpoint, so no link, and the answer says why.
    assert "- **Link:** none: the address of Highlight's web app is not known for this endpoint; set " in text_of(
        result
    )
    assert [e["name"] for e in stored(sandbox, secure_id).track_events()] == ["opened", "next"]


async def test_accepted_is_not_stored_an_unknown_project_is_dropped_later(
    settings: Settings, sandbox: SandboxServer
) -> None:
    # A number always decodes, so Highlight accepts it; its worker then finds no such project.
    async with connect(settings) as client:
        result = await client.call_tool("push_highlight_event", {"event": "lost", "project_id": "999"})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data is not None
    secure_id = data["session_secure_id"]
    assert "**Accepted, not yet stored:**" in text_of(result)
    assert graph(sandbox).session(secure_id) is None
    dropped = [d for d in graph(sandbox).dropped() if d["secure_id"] == secure_id]
    assert dropped == [
        {"operation": "initializeSession", "secure_id": secure_id, "reason": "project 999 doesn't exist"},
        {"operation": "pushPayload", "secure_id": secure_id, "reason": "no session with this secure id"},
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"event": "x", "properties": {"event": "y"}},
            "properties must not contain 'event': Highlight keeps the event's name under that key. Rename the "
            "property (for example to 'event_detail').",
        ),
        (
            {"event": "x", "user_traits": {"plan": "pro"}},
            "user_traits need user_identifier: Highlight attaches traits to an identified user.",
        ),
        (
            {"event": "x", "session_properties": {"42": "a"}},
            "session_properties: Highlight ignores names made only of digits ('42'); use a word.",
        ),
        (
            {"event": "x", "properties": {"note": ""}},
            "properties.note is blank: Highlight ignores blank values. Give it a value or leave it out.",
        ),
        (
            {"event": "x", "properties": {"items": [1, 2]}},
            "invalid arguments: properties.items must be a string, a number or a boolean. Fix them and call again.",
        ),
        (
            {"event": "   "},
            "invalid arguments: event should have at least 1 character (got ' '). Fix them and call again.",
        ),
        (
            {"event": "x", "session_secure_id": "not a secure id"},
            "invalid arguments: session_secure_id must be a Highlight session secure id (letters and digits, as in "
            "the session's URL .../sessions/<secure id>) or that URL (got 'not a secure id'). Fix them and call "
            "again.",
        ),
        (
            {"event": "x", "project_id": "my project"},
            "invalid arguments: project_id must be a Highlight project id: letters, digits, '-' or '_' (for "
            "example 'ng2zox7e' or 12) (got 'my project'). Fix them and call again.",
        ),
        (
            {"event": "x", "properties": {f"k{i}": i for i in range(101)}},
            "invalid arguments: properties dictionary should have at most 100 items after validation, not more. Fix "
            "them and call again.",
        ),
        (
            {"event": "x", "user_identifier": "u", "user_traits": {"bio": "x" * 2001}},
            "invalid arguments: user_traits.bio is 2,001 characters long; Highlight keeps values of up to 2,000 (got "
            "'" + "x" * 44 + "… (+1958 chars)). Fix them and call again.",
        ),
    ],
)
async def test_invalid_arguments_are_refused_before_anything_is_sent(
    settings: Settings, sandbox: SandboxServer, arguments: dict[str, object], message: str
) -> None:
    async with connect(settings) as client:
        result = await client.call_tool("push_highlight_event", arguments)
    assert result.is_error
    assert text_of(result) == f"Error executing tool push_highlight_event: {message}"
    assert not sandbox.sandbox.requests.items()


async def test_the_session_link_opens_the_sandbox_view_of_the_session(
    settings: Settings, sandbox: SandboxServer
) -> None:
    import httpx2

    async with connect(settings) as client:
        result = await client.call_tool(
            "push_highlight_event", {"event": "viewed_pricing", "properties": {"plan": "pro"}}
        )
    data = result.structured_content
    assert data is not None
    async with httpx2.AsyncClient() as http:
        one = (await http.get(data["session_url"])).json()
        listing = (await http.get(f"{sandbox.url}/_sandbox/highlight/sessions")).json()
    assert one["secure_id"] == data["session_secure_id"]
    assert [(e["name"], e["properties"]) for e in one["events"]] == [
        ("viewed_pricing", {"plan": "pro", "event": "viewed_pricing"})
    ]
    assert data["session_secure_id"] in [s["secure_id"] for s in listing["sessions"]]
    assert listing["public_graph"] == sandbox.highlight_url


async def test_nothing_the_user_sent_is_logged(settings: Settings, captured_logs: list[str]) -> None:
    async with connect(settings) as client:
        result = await client.call_tool(
            "push_highlight_event",
            {"event": "secret_plan", "properties": {"card": "4242-4242"}, "user_identifier": "ceo@acme.com"},
        )
    assert not result.is_error
    logged = "\n".join(captured_logs)
    for value in ("secret_plan", "4242-4242", "ceo@acme.com"):
        assert value not in logged


async def test_read_only_mode_hides_the_tool_and_the_instructions_do_not_mention_it() -> None:
    from mcp_server.server import build_server

    async with connect(Settings(read_only=True)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("push_highlight_event", {"event": "x"})
    assert "push_highlight_event" not in names
    assert result.is_error
    assert text_of(result) == "Error executing tool push_highlight_event: Unknown tool: push_highlight_event"
    assert "push_highlight_event" not in (build_server(Settings(read_only=True)).instructions or "")
    assert "- push_highlight_event: record a custom event" in (build_server(Settings()).instructions or "")


def test_the_command_line_pushes_into_the_sandbox(cli: Callable[..., Ran]) -> None:
    done = cli("call", "push_highlight_event", "--sandbox", "event=trial_started", 'properties={"plan": "pro"}')
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Started a new Highlight session and recorded the event `trial_started` in it.")
    assert "| event | `plan` | `pro` |" in done.stdout
