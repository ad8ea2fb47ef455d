"""push_highlight_event: record a custom event in a Highlight session, optionally identifying its user."""

from __future__ import annotations

import copy
import math
import re
from typing import Annotated

from mcp_types import CallToolResult, ToolAnnotations
from pydantic import AfterValidator, Field, PlainValidator, StringConstraints, WithJsonSchema

from mcp_server.adapters.errors import UpstreamError
from mcp_server.adapters.highlight import Scalar, as_text
from mcp_server.adapters.http import shared_deadline
from mcp_server.errors import InputError
from mcp_server.results.base import answer
from mcp_server.results.push_highlight_event import EventSent, PushHighlightEventOutput
from mcp_server.timeparse import iso
from mcp_server.tools.runtime import ToolContext, runtime
from mcp_server.tools.spec import ToolSpec

NAME = "push_highlight_event"
TITLE = "Record an event in a Highlight session"
ANNOTATIONS = ToolAnnotations(
    title=TITLE,
    read_only_hint=False,
    # Mostly additive (a new session, a new event, more properties), but identifying an existing session
    # replaces the user it is attributed to, and that cannot be undone through this API.
    destructive_hint=True,
    idempotent_hint=False,  # every call records another event, and without a session id starts another session
    open_world_hint=True,
)
# Its line in the server's instructions.
INSTRUCTIONS = (
    f"- {NAME}: "
    "record a custom event with properties in a Highlight.io session, optionally identifying its user; "
    "starts a new session unless given session_secure_id (it writes)."
)
MAX_ITEMS = 100  # properties, traits or session properties per call
MAX_VALUE = 2000  # Highlight keeps property values up to 2,000 characters and drops longer ones
_SECURE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_SESSION_IN_URL = re.compile(r"/sessions/([A-Za-z0-9_-]{1,128})(?:[/?#]|$)")


def _secure_id(value: str | None) -> str | None:
    """A session secure id, also accepted inside a session's URL (…/sessions/<secure id>)."""
    if value is None:
        return None
    text = value.strip()
    found = _SESSION_IN_URL.search(text) if "/" in text else None
    if found:
        return found.group(1)
    if not _SECURE_ID.fullmatch(text):
        raise ValueError(
            "must be a Highlight session secure id (letters and digits, as in the session's URL "
            ".../sessions/<secure id>) or that URL"
        )
    return text


def _project_id(value: str | None) -> str | None:
    if value is not None and not _SECURE_ID.fullmatch(value):
        raise ValueError("must be a Highlight project id: letters, digits, '-' or '_' (for example 'ng2zox7e' or 12)")
    return value


def _value(value: object) -> Scalar:
    # One check with one message: a union of types would report every member's complaint.
    if isinstance(value, str):
        if len(value) > MAX_VALUE:
            raise ValueError(f"is {len(value):,} characters long; Highlight keeps values of up to {MAX_VALUE:,}")
        return value
    if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    raise ValueError("must be a string, a number or a boolean")


Key = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Value = Annotated[
    Scalar,
    PlainValidator(_value),
    WithJsonSchema({"anyOf": [{"type": "string", "maxLength": MAX_VALUE}, {"type": "number"}, {"type": "boolean"}]}),
]
Values = dict[Key, Value]


async def push_highlight_event(
    ctx: ToolContext,
    event: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=256),
        Field(description="The event's name, for example 'support_ticket_opened'."),
    ],
    properties: Annotated[
        Values | None,
        Field(
            max_length=MAX_ITEMS,
            description='Properties of the event, for example {"ticket_id": "T-1042", "priority": 2}. Values are '
            "strings (up to 2,000 characters), numbers or booleans. The name 'event' is reserved for the event's "
            "name.",
        ),
    ] = None,
    session_secure_id: Annotated[
        str | None,
        Field(min_length=1, max_length=512),
        AfterValidator(_secure_id),
        Field(
            description="Push into this existing session: its secure id (as returned by an earlier call, or in the "
            "session's URL .../sessions/<secure id>; the URL itself works too). Omit to start a new session."
        ),
    ] = None,
    user_identifier: Annotated[
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)] | None,
        Field(description="Identify the session's user, like H.identify: an email address or your user id."),
    ] = None,
    user_traits: Annotated[
        Values | None,
        Field(
            max_length=MAX_ITEMS,
            description='Traits of the identified user, for example {"plan": "pro"}; needs user_identifier. '
            "Highlight stores every value as a string.",
        ),
    ] = None,
    session_properties: Annotated[
        Values | None,
        Field(
            max_length=MAX_ITEMS,
            description='Properties of the whole session, for example {"tenant": "acme"}; Highlight stores every '
            "value as a string.",
        ),
    ] = None,
    project_id: Annotated[
        str | None,
        Field(min_length=1, max_length=128),
        AfterValidator(_project_id),
        Field(
            description="The Highlight project to start the session in (its id from H.init('<project id>')), "
            "instead of the configured HIGHLIGHT_PROJECT_ID."
        ),
    ] = None,
) -> Annotated[CallToolResult, PushHighlightEventOutput]:
    """Record a custom event (with properties) in a Highlight.io session's timeline, the way the browser SDK's
    H.track does, for example "support_ticket_opened" with the ticket's id. Without session_secure_id it starts
    a new session and returns its secure id: pass that back to add further events to the same session. It can
    also identify the session's user (user_identifier, user_traits; identifying an existing session replaces
    the user it is attributed to) and set session properties in the same call. It writes, and each call adds
    another event. Highlight processes everything asynchronously: the answer confirms what Highlight accepted,
    not that it is stored yet."""
    _check(properties, user_identifier, user_traits, session_properties)
    hl = runtime(ctx).highlight
    props = dict(properties or {})
    traits = {k: as_text(v) for k, v in (user_traits or {}).items()}
    session_props = {k: as_text(v) for k, v in (session_properties or {}).items()}
    accepted: list[str] = []
    new_session = session_secure_id is None
    # Only a new session needs the project id; later calls are keyed by the session's secure id alone.
    verbose_id = hl.project(project_id) if new_session else hl.configured_project(project_id)
    secure_id = session_secure_id or ""
    try:
        # Up to four requests, one deadline for them all: the call must end in time, not each of its steps.
        with shared_deadline(runtime(ctx).settings.upstream_deadline):
            project_number = None
            if session_secure_id is None:
                assert verbose_id is not None
                started = await hl.initialize_session(verbose_id)
                secure_id, project_number = started.secure_id, started.project_id
                accepted.append("initializeSession")
            elif verbose_id is not None:
                project_number = hl.project_number(verbose_id)
            if user_identifier is not None:
                await hl.identify_session(secure_id, user_identifier, user_traits or {})
                accepted.append("identifySession")
            if session_properties:
                await hl.add_session_properties(secure_id, session_properties)
                accepted.append("addSessionProperties")
            pushed = await hl.push_track_event(secure_id, event, props)
            accepted.append("pushPayload")
    except UpstreamError as exc:
        raise _after(exc, accepted, secure_id, new_session) from exc
    out = PushHighlightEventOutput(
        session_secure_id=secure_id,
        new_session=new_session,
        project_id=verbose_id,
        session_url=hl.session_url(project_number, secure_id),
        endpoint=hl.endpoint,
        accepted=accepted,
        event=EventSent(
            name=event,
            properties=props,
            timestamp=iso(pushed.timestamp_ms, milliseconds=True),
            payload_id=pushed.payload_id,
            payload=pushed.payload,
        ),
        user_identifier=user_identifier,
        user_traits=traits,
        session_properties=session_props,
        project_number=project_number,
        app_url_known=hl.app_url is not None,
    )
    return answer(out)


def _check(
    properties: dict[str, Scalar] | None,
    user_identifier: str | None,
    user_traits: dict[str, Scalar] | None,
    session_properties: dict[str, Scalar] | None,
) -> None:
    """Refuse what Highlight would silently drop or misread, before anything is sent."""
    if user_traits and user_identifier is None:
        raise InputError("user_traits need user_identifier: Highlight attaches traits to an identified user.")
    if properties and "event" in properties:
        raise InputError(
            "properties must not contain 'event': Highlight keeps the event's name under that key. "
            "Rename the property (for example to 'event_detail')."
        )
    for label, values in (
        ("properties", properties),
        ("user_traits", user_traits),
        ("session_properties", session_properties),
    ):
        for key, value in (values or {}).items():
            if key.isdigit():
                raise InputError(f"{label}: Highlight ignores names made only of digits ({key!r}); use a word.")
            if value == "":
                raise InputError(
                    f"{label}.{key} is blank: Highlight ignores blank values. Give it a value or leave it out."
                )


def _after(exc: UpstreamError, accepted: list[str], secure_id: str, new_session: bool) -> UpstreamError:
    """The error, plus what Highlight had already accepted in this call (its type and facts kept)."""
    if not accepted:
        return exc
    done = ", ".join(accepted)
    if new_session:
        note = (
            f" Before that, Highlight accepted {done}, so session {secure_id} was started: to finish, call "
            f'push_highlight_event again with session_secure_id="{secure_id}" instead of starting another session.'
        )
    else:
        note = f" Before that, Highlight accepted {done} for session {secure_id}."
    error = copy.copy(exc)
    error.args = (f"{exc}{note}",)
    return error


TOOL = ToolSpec(NAME, TITLE, push_highlight_event, ANNOTATIONS, INSTRUCTIONS)
