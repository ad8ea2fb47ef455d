"""What the agent sees when Highlight refuses, fails or is gone: exact messages and the right retries."""

from __future__ import annotations

import re
import socket

import httpx2
import pytest
from mcp import Client

from mcp_server.adapters.errors import UpstreamRejected
from mcp_server.adapters.highlight import EMPTY_RESOURCES, HighlightClient
from mcp_server.adapters.highlight_documents import PUSH, Operation
from mcp_server.sandbox.faults import Fault
from mcp_server.sandbox.server import SandboxServer
from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import connect, text_of

pytestmark = pytest.mark.anyio

PREFIX = "Error executing tool push_highlight_event: "
HOSTED_ADVICE = (
    "Hosted Highlight shut down on 2026-02-28, so https://pub.highlight.io no longer takes events. Set "
    "HIGHLIGHT_PUBLIC_GRAPH_URL to a self-hosted Highlight's public graph (for example http://localhost:8082/public) "
    "or to LaunchDarkly's successor endpoint https://pub.observability.app.launchdarkly.com (with your LaunchDarkly "
    "client-side ID as HIGHLIGHT_PROJECT_ID)."
)


def advice(url: str) -> str:
    return (
        f"Check HIGHLIGHT_PUBLIC_GRAPH_URL (now {url}): it must be a running Highlight public graph, such as a "
        "self-hosted Highlight's (served at /public, for example http://localhost:8082/public) or LaunchDarkly's "
        "successor endpoint https://pub.observability.app.launchdarkly.com. Hosted Highlight "
        "(https://pub.highlight.io) shut down on 2026-02-28."
    )


def graph_requests(sandbox: SandboxServer) -> int:
    return sum(r.path == "/highlight/public" for r in sandbox.sandbox.requests.items())


async def push(settings: Settings, **arguments: object) -> tuple[bool, str]:
    async with connect(settings) as client:
        result = await client.call_tool("push_highlight_event", {"event": "e", **arguments})
    return bool(result.is_error), text_of(result)


async def new_session(settings: Settings) -> str:
    error, text = await push(settings)
    assert not error, text
    found = re.search(r"session_secure_id=\"([A-Za-z0-9]+)\"", text)
    assert found
    return found.group(1)


# -- GraphQL errors in a 200 -------------------------------------------------------------------------


async def test_billing_quota_exceeded_is_a_failure_though_the_status_is_200(
    settings: Settings, sandbox: SandboxServer
) -> None:
    error, text = await push(settings, project_id="sandbox2")
    assert error
    assert text == PREFIX + (
        "Highlight refused to start a session: the project's session quota is used up (BillingQuotaExceeded). "
        "Nothing was recorded. Raise the quota in Highlight's billing settings or wait until it resets, then try "
        "again."
    )
    assert graph_requests(sandbox) == 1  # refused by the resolver: never repeated, nothing else sent


async def test_a_project_id_highlight_cannot_decode_names_the_setting(
    settings: Settings, sandbox: SandboxServer
) -> None:
    error, text = await push(settings.with_overrides(highlight_project_id="no-such-project"))
    assert error
    assert text == PREFIX + (
        "Highlight does not recognise the project id 'no-such-project' (failed to decode no-such-project). Nothing "
        "was recorded. Check HIGHLIGHT_PROJECT_ID, or the project_id argument: it is the id in your Highlight setup "
        "snippet, H.init('<project id>') (with LaunchDarkly's endpoint, your LaunchDarkly client-side ID)."
    )
    assert graph_requests(sandbox) == 1


async def test_a_resolver_error_from_push_payload_is_reported(settings: Settings, sandbox: SandboxServer) -> None:
    client = HighlightClient(settings)
    try:
        started = await client.initialize_session("sandbox1")
        variables = {
            "session_secure_id": started.secure_id,
            "payload_id": "1",
            "events": {"events": []},
            "messages": "not json",
            "resources": EMPTY_RESOURCES,
            "errors": [],
        }
        with pytest.raises(UpstreamRejected) as caught:
            await client.send(PUSH, variables)
    finally:
        await client.aclose()
    assert str(caught.value) == (
        "Highlight refused PushPayload while pushing the event (messages is not valid JSON: Expecting value: line 1 "
        "column 1 (char 0))."
    )
    assert caught.value.status == 200


# -- the request itself refused ----------------------------------------------------------------------


async def test_a_document_outside_the_schema_is_a_422_with_a_message_that_names_the_setting(settings: Settings) -> None:
    # The mutation the seed API description lists: gone from the real schema since 2022.
    seed = Operation(
        name="addTrackProperties",
        field="addTrackProperties",
        document="mutation addTrackProperties($session_secure_id: String!, $properties_object: Any) "
        "{ addTrackProperties(session_secure_id: $session_secure_id, properties_object: $properties_object) }",
        doing="adding track properties",
        idempotent=False,
    )
    client = HighlightClient(settings)
    try:
        with pytest.raises(UpstreamRejected) as caught:
            await client.send(seed, {"session_secure_id": "x", "properties_object": {}})
    finally:
        await client.aclose()
    assert str(caught.value) == (
        "Highlight's public graph refused the addTrackProperties request as invalid for its schema (HTTP 422: Cannot "
        "query field 'addTrackProperties' on type 'Mutation'. Did you mean 'addSessionProperties'?). Nothing was "
        "recorded by it. This server's requests match Highlight's public schema, so HIGHLIGHT_PUBLIC_GRAPH_URL (now "
        f"{settings.highlight_public_graph_url}) probably points at another GraphQL service: self-hosted Highlight "
        "serves the public graph at /public, not at / or /private."
    )
    assert caught.value.status == 422


# -- the endpoint is gone or was never there --------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_nothing_listening_is_retried_then_reported_with_the_setting(settings: Settings) -> None:
    url = f"http://127.0.0.1:{closed_port()}/public"
    error, text = await push(settings.with_overrides(highlight_public_graph_url=url, max_retries=1))
    assert error
    host = url.removeprefix("http://").removesuffix("/public")
    assert text.startswith(PREFIX + f"Could not connect to Highlight at {host} while starting a session (ConnectError")
    assert "; 2 attempts over " in text  # a connection that never opened is safe to repeat, even for a write
    assert text.endswith(advice(url))


async def test_a_path_without_a_public_graph_is_a_clear_not_found(settings: Settings, sandbox: SandboxServer) -> None:
    url = f"{sandbox.url}/public"
    error, text = await push(settings.with_overrides(highlight_public_graph_url=url))
    assert error
    assert text == PREFIX + (
        f"Highlight at {url} answered initializeSession with HTTP 404, not GraphQL: there is no public graph at "
        f"this address. {advice(url)}"
    )


async def test_a_web_page_instead_of_graphql(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.sandbox.faults.add(Fault(kind="html", status=200, path="/highlight/public"))
    error, text = await push(settings)
    assert error
    url = settings.highlight_public_graph_url
    assert text == PREFIX + (
        f"Highlight at {url} answered initializeSession with a web page (HTTP 200), not GraphQL, while starting a "
        f"session. {advice(url)}"
    )


def hosted(handler: httpx2.MockTransport, settings: Settings) -> Client:
    """A client of a server configured for hosted Highlight, whose network is ``handler`` (never the internet)."""
    hosted_settings = settings.with_overrides(highlight_public_graph_url="https://pub.highlight.io", max_retries=1)
    return Client(build_server(hosted_settings, highlight_transport=handler))


async def test_hosted_highlight_unreachable_says_it_shut_down_and_what_to_use_instead(settings: Settings) -> None:
    calls: list[str] = []

    def no_dns(request: httpx2.Request) -> httpx2.Response:
        calls.append(str(request.url))
        raise httpx2.ConnectError("[Errno -2] Name or service not known")

    async with hosted(httpx2.MockTransport(no_dns), settings) as client:
        result = await client.call_tool("push_highlight_event", {"event": "e"})
    assert result.is_error
    text = text_of(result)
    assert text.startswith(
        PREFIX + "Could not connect to Highlight at pub.highlight.io while starting a session (ConnectError: "
        "[Errno -2] Name or service not known; 2 attempts over "
    )
    assert text.endswith(HOSTED_ADVICE)
    assert calls == ["https://pub.highlight.io", "https://pub.highlight.io"]


@pytest.mark.parametrize("status", [404, 410, 301])
async def test_hosted_highlight_answering_like_a_dead_service(settings: Settings, status: int) -> None:
    def gone(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, headers={"content-type": "text/html"}, text="<html>Highlight is now LD</html>")

    async with hosted(httpx2.MockTransport(gone), settings) as client:
        result = await client.call_tool("push_highlight_event", {"event": "e"})
    assert result.is_error
    assert text_of(result) == PREFIX + (
        f"Highlight at https://pub.highlight.io answered initializeSession with HTTP {status}, not GraphQL: there is "
        f"no public graph at this address. {HOSTED_ADVICE}"
    )


# -- retries: only where a repeat cannot record anything twice ----------------------------------------


async def test_a_429_is_retried_even_for_a_write(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.sandbox.faults.add(Fault(status=429, retry_after="0", path="/highlight/public", times=1))
    error, text = await push(settings)
    assert not error, text
    assert graph_requests(sandbox) == 3  # initializeSession twice, then pushPayload


async def test_a_5xx_on_push_payload_is_not_repeated_and_says_the_event_may_exist(
    settings: Settings, sandbox: SandboxServer
) -> None:
    secure_id = await new_session(settings)
    sandbox.sandbox.requests.clear()
    sandbox.sandbox.faults.add(Fault(status=503, path="/highlight/public", times=5))
    error, text = await push(settings, session_secure_id=secure_id)
    assert error
    assert text.startswith(
        PREFIX + "Highlight had a server error (HTTP 503: Service Unavailable) while pushing the event (1 attempt over "
    )
    assert text.endswith(
        "s). It may still have been recorded; it was not sent again, because a repeat could record it twice. Try "
        "again in a few minutes."
    )
    assert graph_requests(sandbox) == 1


async def test_a_5xx_on_identify_is_repeated_since_identifying_twice_changes_nothing(
    settings: Settings, sandbox: SandboxServer
) -> None:
    secure_id = await new_session(settings)
    sandbox.sandbox.requests.clear()
    sandbox.sandbox.faults.add(Fault(status=503, path="/highlight/public", times=1))
    error, text = await push(settings, session_secure_id=secure_id, user_identifier="u-1")
    assert not error, text
    assert graph_requests(sandbox) == 3  # identifySession twice, then pushPayload
    session = sandbox.sandbox.highlight.session(secure_id)
    assert session is not None and session.identifier == "u-1"


async def test_a_timeout_on_push_payload_is_not_repeated(settings: Settings, sandbox: SandboxServer) -> None:
    secure_id = await new_session(settings)
    sandbox.sandbox.requests.clear()
    sandbox.sandbox.faults.add(Fault(kind="stall", seconds=1.0, path="/highlight/public", times=5))
    error, text = await push(settings.with_overrides(read_timeout=0.2), session_secure_id=secure_id)
    assert error
    assert text.startswith(PREFIX + "Highlight did not answer within 0.2 s while pushing the event (1 attempt over ")
    assert text.endswith(
        "It may still have been recorded; it was not sent again, because a repeat could record it twice. If it keeps "
        "happening, raise SESSION_REPLAY_MCP_READ_TIMEOUT."
    )
    assert graph_requests(sandbox) == 1


async def test_a_failure_after_the_session_started_says_how_to_finish_without_another_session(
    settings: Settings, sandbox: SandboxServer
) -> None:
    # initializeSession goes through; the next request (pushPayload) meets a 400.
    sandbox.sandbox.faults.add(Fault(status=400, path="/highlight/public", skip=1, detail="bad"))
    error, text = await push(settings, event="late")
    assert error
    found = re.search(r"so session ([A-Za-z0-9]{28}) was started", text)
    assert found, text
    secure_id = found.group(1)
    assert text == PREFIX + (
        "Highlight refused PushPayload while pushing the event (HTTP 400: bad). Before that, Highlight accepted "
        f"initializeSession, so session {secure_id} was started: to finish, call push_highlight_event again with "
        f'session_secure_id="{secure_id}" instead of starting another session.'
    )
    session = sandbox.sandbox.highlight.session(secure_id)
    assert session is not None and session.events == []
    error, text = await push(settings, event="late", session_secure_id=secure_id)
    assert not error, text
    assert [e["name"] for e in session.track_events()] == ["late"]
