"""identify_user through a real MCP client against the sandbox."""

from __future__ import annotations

import pytest

from mcp_server.sandbox.server import SandboxServer
from mcp_server.settings import Settings
from tests.conftest import check_snapshot, connect, text_of

pytestmark = pytest.mark.anyio


async def test_sets_fields_and_traits_and_shows_the_record_as_stored(
    settings: Settings, sandbox: SandboxServer
) -> None:
    async with connect(settings) as client:
        result = await client.call_tool(
            "identify_user",
            {
                "user_id": "google-oauth2|555",
                "name": "Ada [Lovelace](https://evil.example)",
                "email": "ada@example.com",
                "traits": {"plan": "pro", "seats": 12, "beta": True, "legacy": None, "note": "`rm -rf` | x"},
            },
        )
    assert not result.is_error, text_of(result)
    check_snapshot("identify_user.md", text_of(result))
    assert result.structured_content == {
        "app_id": "acme/web",
        "user": {
            "userID": "google-oauth2|555",
            "name": "Ada [Lovelace](https://evil.example)",
            "email": "ada@example.com",
            # LogRocket returns every trait as a string; the one sent as null is gone.
            "traits": {"plan": "pro", "seats": "12", "beta": "true", "note": "`rm -rf` | x"},
        },
        "deleted_traits": ["legacy"],
    }
    # The id travelled URL-encoded in the path; the body carried the documented blank for deletion.
    put = [r for r in sandbox.sandbox.requests.items() if r.method == "PUT"][-1]
    assert put.path == "/v1/orgs/acme/apps/web/users/google-oauth2|555"


async def test_blank_trait_deletes_it_and_other_traits_are_kept(settings: Settings) -> None:
    async with connect(settings) as client:
        await client.call_tool("identify_user", {"user_id": "u-77", "traits": {"a": "1", "b": "2"}})
        result = await client.call_tool("identify_user", {"user_id": "u-77", "traits": {"a": ""}})
    assert result.structured_content is not None
    assert result.structured_content["user"]["traits"] == {"b": "2"}
    assert result.structured_content["deleted_traits"] == ["a"]
    assert "Deleted traits: `a`" in text_of(result)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"user_id": "u-1"},
            'Nothing to update: give at least one of name, email or traits (a trait set to null or "" deletes that '
            "trait).",
        ),
        (
            {"user_id": "u-1", "email": "jane at acme"},
            "invalid arguments: email must look like an email address (name@example.com) (got 'jane at acme'). "
            "Fix them and call again.",
        ),
        (
            {"user_id": "u-1", "name": "x" * 1025},
            "invalid arguments: name should have at most 1024 characters (got '" + "x" * 45 + "… (+981 chars)). "
            "Fix them and call again.",
        ),
        (
            {"user_id": "u-1", "traits": {"score": 4.5}},
            "invalid arguments: traits.score should be a string, a boolean or an integer (got 4.5). Fix them and "
            "call again.",
        ),
        (
            {"user_id": "", "name": "Jane"},
            "invalid arguments: user_id should have at least 1 character (got ''). Fix them and call again.",
        ),
        ({"name": "Jane"}, "invalid arguments: user_id is required. Fix them and call again."),
    ],
)
async def test_invalid_input_is_refused_before_calling_logrocket(
    settings: Settings, sandbox: SandboxServer, arguments: dict[str, object], message: str
) -> None:
    async with connect(settings) as client:
        result = await client.call_tool("identify_user", arguments)
    assert result.is_error
    assert text_of(result) == f"Error executing tool identify_user: {message}"
    assert not sandbox.sandbox.requests.items()


async def test_upstream_validation_message_is_passed_on(settings: Settings, sandbox: SandboxServer) -> None:
    # A trait key longer than LogRocket allows is refused upstream with its documented message.
    from mcp_server.sandbox.faults import Fault

    sandbox.sandbox.faults.add(Fault(status=400, path="/users/", detail="user trait key too large"))
    async with connect(settings) as client:
        result = await client.call_tool("identify_user", {"user_id": "u-1", "name": "Jane"})
    assert result.is_error
    assert text_of(result) == (
        "Error executing tool identify_user: LogRocket refused the request while updating user 'u-1' "
        "(HTTP 400: user trait key too large)."
    )
    assert len(sandbox.sandbox.requests.items()) == 1  # a 400 is never retried
