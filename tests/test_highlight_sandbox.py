"""The sandbox's Highlight public graph answers as Highlight's gqlgen server does, status codes included."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from mcp_server.adapters.highlight_documents import IDENTIFY_SESSION, INITIALIZE_SESSION
from mcp_server.sandbox.server import SandboxServer

pytestmark = pytest.mark.anyio

INIT_VARIABLES = {
    "session_secure_id": "SandboxProtocolTest000000001",
    "organization_verbose_id": "sandbox1",
    "enable_strict_privacy": False,
    "enable_recording_network_contents": False,
    "clientVersion": "1",
    "firstloadVersion": "1",
    "clientConfig": "{}",
    "environment": "production",
    "fingerprint": "f",
    "client_id": "c",
}


async def post(sandbox: SandboxServer, body: Any, **options: Any) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        if isinstance(body, bytes):
            return await http.post(sandbox.highlight_url, content=body, **options)
        return await http.post(sandbox.highlight_url, json=body, **options)


async def test_a_valid_mutation_gets_the_resolvers_answer(sandbox: SandboxServer) -> None:
    reply = await post(sandbox, {"query": INITIALIZE_SESSION, "variables": INIT_VARIABLES})
    assert reply.status_code == 200
    assert reply.json() == {
        "data": {"initializeSession": {"secure_id": "SandboxProtocolTest000000001", "project_id": "1"}}
    }


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"{not json", {"content-type": "application/json"}, "json request body could not be decoded: "),
        (b"{}", {"content-type": "text/plain"}, "transport not supported"),
    ],
)
async def test_a_body_that_is_not_a_json_request_is_a_400(
    sandbox: SandboxServer, body: bytes, headers: dict[str, str], message: str
) -> None:
    reply = await post(sandbox, body, headers=headers)
    assert reply.status_code == 400
    data = reply.json()
    assert data["data"] is None and data["errors"][0]["message"].startswith(message)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"query": 'mutation { addTrackProperties(session_secure_id: "x") }'},
            "GRAPHQL_VALIDATION_FAILED",
            "Cannot query field 'addTrackProperties' on type 'Mutation'. Did you mean 'addSessionProperties'?",
        ),
        ({"query": "mutation {"}, "GRAPHQL_PARSE_FAILED", "Syntax Error: Expected Name, found <EOF>."),
        (
            {"query": IDENTIFY_SESSION, "variables": {"session_secure_id": "x"}},
            "GRAPHQL_VALIDATION_FAILED",
            "Variable '$user_identifier'",
        ),
        (
            {"query": INITIALIZE_SESSION, "variables": {**INIT_VARIABLES, "enable_strict_privacy": "no"}},
            "GRAPHQL_VALIDATION_FAILED",
            "Variable '$enable_strict_privacy'",
        ),
    ],
)
async def test_an_invalid_document_or_variables_is_a_422_with_errors(
    sandbox: SandboxServer, body: dict[str, Any], code: str, message: str
) -> None:
    reply = await post(sandbox, body)
    assert reply.status_code == 422
    data = reply.json()
    assert data["data"] is None
    (error,) = data["errors"]
    # graphql-core's wording (the variable ones change between its versions); ours is only the status and code.
    assert error["message"].startswith(message)
    assert error["extensions"] == {"code": code}


async def test_a_resolver_refusal_is_a_200_with_errors_and_null_data(sandbox: SandboxServer) -> None:
    reply = await post(
        sandbox, {"query": INITIALIZE_SESSION, "variables": {**INIT_VARIABLES, "organization_verbose_id": "x!"}}
    )
    assert reply.status_code == 200
    assert reply.json() == {"errors": [{"message": "failed to decode x!", "path": ["initializeSession"]}], "data": None}


# A mutation of the public schema the server does not send; the sandbox emulates it, Timestamp checks included.
ADD_SESSION_FEEDBACK = """
mutation addSessionFeedback(
  $session_secure_id: String!
  $user_name: String
  $user_email: String
  $verbatim: String!
  $timestamp: Timestamp!
) {
  addSessionFeedback(
    session_secure_id: $session_secure_id
    user_name: $user_name
    user_email: $user_email
    verbatim: $verbatim
    timestamp: $timestamp
  )
}
""".strip()


async def test_a_timestamp_must_be_an_rfc3339_string(sandbox: SandboxServer) -> None:
    variables = {"session_secure_id": "x", "verbatim": "hi", "timestamp": 1767268800000}
    reply = await post(sandbox, {"query": ADD_SESSION_FEEDBACK, "variables": variables})
    assert reply.status_code == 200
    assert reply.json() == {
        "errors": [{"message": "time should be RFC3339Nano formatted string", "path": ["addSessionFeedback"]}],
        "data": None,
    }


async def test_what_the_worker_would_drop_is_listed_for_people_to_see(sandbox: SandboxServer) -> None:
    variables = {"session_secure_id": "NoSuchSession", "user_identifier": "u"}
    reply = await post(sandbox, {"query": IDENTIFY_SESSION, "variables": variables})
    assert reply.status_code == 200 and reply.json() == {"data": {"identifySession": "NoSuchSession"}}
    async with httpx2.AsyncClient() as http:
        listing = (await http.get(f"{sandbox.url}/_sandbox/highlight/sessions")).json()
    assert {
        "operation": "identifySession",
        "secure_id": "NoSuchSession",
        "reason": "no session with this secure id",
    } in (listing["dropped"])
    assert {p["verbose_id"]: p["over_quota"] for p in listing["projects"]} == {"sandbox1": False, "sandbox2": True}
