"""identify_user: set a LogRocket user's name, email and traits from outside the browser."""

from __future__ import annotations

from typing import Annotated, Any

from mcp_types import CallToolResult, ToolAnnotations
from pydantic import AfterValidator, Field, StrictBool, StrictInt, StringConstraints

from mcp_server.errors import InputError
from mcp_server.results.base import answer
from mcp_server.results.identify_user import IdentifyUserOutput, UserRecord
from mcp_server.tools.arguments import MAX_TEXT
from mcp_server.tools.runtime import ToolContext, runtime
from mcp_server.tools.spec import ToolSpec
from mcp_server.validation import email_address

NAME = "identify_user"
TITLE = "Identify a LogRocket user"
ANNOTATIONS = ToolAnnotations(
    title=TITLE,
    read_only_hint=False,
    destructive_hint=True,  # overwrites name/email/traits and deletes traits sent blank
    idempotent_hint=True,  # the same call twice leaves the same record
    open_world_hint=True,
)
# Its line in the server's instructions.
INSTRUCTIONS = f"- {NAME}: set a user's name, email and traits in LogRocket (it writes)."

TraitKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]
TraitValue = Annotated[str, StringConstraints(max_length=MAX_TEXT)] | StrictBool | StrictInt | None


async def identify_user(
    ctx: ToolContext,
    user_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_TEXT,
            description="The user's id in your app, exactly as passed to LogRocket.identify() "
            "(for example 'google-oauth2|abc123').",
        ),
    ],
    name: Annotated[
        str | None,
        Field(min_length=1, max_length=MAX_TEXT, description="Display name to set. Omit to leave it unchanged."),
    ] = None,
    email: Annotated[
        str | None,
        Field(max_length=MAX_TEXT, description="Email address to set. Omit to leave it unchanged."),
        AfterValidator(email_address),
    ] = None,
    traits: Annotated[
        dict[TraitKey, TraitValue] | None,
        Field(
            max_length=200,
            description='Traits to add or overwrite, for example {"plan": "pro", "seats": 12}. Values may be '
            'strings, integers, booleans or null. A trait set to null or "" is DELETED. Traits not listed '
            "keep their values.",
        ),
    ] = None,
) -> Annotated[CallToolResult, IdentifyUserOutput]:
    """Create or update a user in LogRocket: set their name, email and traits (for example plan or company)
    so sessions can be found and filtered by them. Use it when someone asks to tag, label or correct a user's
    details in LogRocket. It writes: existing values are overwritten, a trait given as null or "" is deleted,
    and traits not mentioned are kept. Returns the user record as LogRocket now stores it (trait values
    become strings)."""
    if name is None and email is None and not traits:
        raise InputError(
            "Nothing to update: give at least one of name, email or traits "
            '(a trait set to null or "" deletes that trait).'
        )
    lr = runtime(ctx).logrocket
    body: dict[str, Any] = {}
    if name is not None:
        body["name"] = name
    if email is not None:
        body["email"] = email
    deleted: list[str] = []
    if traits:
        # LogRocket's documented way to delete a trait is a blank value; null is sent as "".
        body["traits"] = {k: ("" if v is None else v) for k, v in traits.items()}
        deleted = [k for k, v in traits.items() if v is None or v == ""]
    user = await lr.identify_user(user_id, body)
    app = lr.app
    record = UserRecord(userID=user.user_id, name=user.name, email=user.email, traits=user.traits)
    out = IdentifyUserOutput(app_id=str(app), user=record, deleted_traits=deleted)
    return answer(out)


TOOL = ToolSpec(NAME, TITLE, identify_user, ANNOTATIONS, INSTRUCTIONS)
