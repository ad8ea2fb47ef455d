"""push_highlight_event: record a custom event in a Highlight session, optionally identifying its user."""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Annotated

from mcp_types import CallToolResult, ToolAnnotations
from pydantic import AfterValidator, BaseModel, Field, PlainValidator, StringConstraints, WithJsonSchema

from mcp_server.adapters.errors import UpstreamError
from mcp_server.adapters.highlight import Scalar, as_text
from mcp_server.adapters.http import shared_deadline
from mcp_server.errors import InputError
from mcp_server.render.budget import Budget
from mcp_server.render.markdown import Markup, code, table_head, table_row
from mcp_server.timeparse import iso
from mcp_server.tools.output import answer
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
MAX_CHARS = 12_000
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


class EventSent(BaseModel):
    name: str
    properties: dict[str, Scalar] = Field(description="The event's properties as sent.")
    timestamp: str = Field(description="When the event was recorded (UTC, ISO 8601).")
    payload_id: int = Field(description="The pushPayload sequence number used for it in this session.")
    payload: str = Field(description="The Track event's payload exactly as sent: a JSON string.")


class PushHighlightEventOutput(BaseModel):
    session_secure_id: str = Field(description="Pass as session_secure_id to add more to this session.")
    new_session: bool = Field(description="True when this call started the session.")
    project_id: str | None = Field(
        description="The project id used: the one a new session was started in; for an existing session the "
        "configured one, if any."
    )
    session_url: str | None = Field(description="The session in Highlight's web app, when a link can be built.")
    endpoint: str = Field(description="The Highlight public graph the calls went to.")
    accepted: list[str] = Field(description="The mutations Highlight accepted, in order.")
    event: EventSent
    user_identifier: str | None = Field(description="Who the session was identified as, if this call did.")
    user_traits: dict[str, str] = Field(description="User traits sent with identifySession (values as strings).")
    session_properties: dict[str, str] = Field(description="Session properties sent (values as strings).")


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
    )
    if out.session_url is not None:
        no_link = ""
    elif hl.app_url is None:
        no_link = "the address of Highlight's web app is not known for this endpoint; set HIGHLIGHT_APP_URL"
    else:
        no_link = (
            "the project's numeric id is not known here; pass project_id (its number, or the id this server "
            "started a session with)"
        )
    return answer(_markdown(out, project_number, no_link), out)


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


def _markdown(out: PushHighlightEventOutput, project_number: str | None, no_link: str) -> str:
    ev = out.event
    lines: list[str] = []
    if out.new_session:
        lines.append(f"Started a new Highlight session and recorded the event {code(ev.name)} in it.")
    else:
        lines.append(f"Recorded the event {code(ev.name)} in Highlight session {code(out.session_secure_id)}.")
    lines.append("")
    origin = "new, its secure id generated here" if out.new_session else "existing"
    lines.append(f"- **Session:** {code(out.session_secure_id)} ({origin})")
    if out.project_id is not None:
        number = f" (Highlight project {code(project_number)})" if project_number else ""
        lines.append(f"- **Project:** {code(out.project_id)}{number}")
    if out.session_url:
        lines.append(f"- **Link:** {code(out.session_url, None)}")
    else:
        lines.append(f"- **Link:** none: {no_link}")
    lines.append(f"- **Endpoint:** {code(out.endpoint, None)}")
    lines.append("")
    lines.append(table_head(["step", "what was sent", "Highlight"]))
    steps = {
        "initializeSession": f"a new session in project {code(out.project_id or '?')}",
        "identifySession": f"user {code(out.user_identifier or '', 200)} with {_count(len(out.user_traits), 'trait')}",
        "addSessionProperties": _count(len(out.session_properties), "session property", "session properties"),
        "pushPayload": f"Track event {code(ev.name)} at {ev.timestamp} (payload {ev.payload_id}) with "
        f"{_count(len(ev.properties), 'property', 'properties')}",
    }
    for step in out.accepted:
        lines.append(table_row([step, Markup(steps[step]), "accepted"]))

    closing = [
        "",
        "**Accepted, not yet stored:** Highlight queues what it receives and processes it afterwards, so this "
        "confirms only that the steps above were accepted. A problem found later (for example a project id that "
        "names no project) is not reported back.",
    ]
    if out.new_session:
        closing.append("")
        closing.append(
            "This session has no screen recording. Highlight lists sessions once they show user activity, so it "
            "may stay out of the session list; its events and properties are kept with it."
        )
    closing.append("")
    closing.append(
        f"To add another event to this session, call "
        f"{code(f'push_highlight_event(event=..., session_secure_id={json.dumps(out.session_secure_id)})', None)}."
    )
    closing_text = "\n".join(closing)

    rows = [("event", k, v) for k, v in ev.properties.items()]
    rows += [("user trait", k, v) for k, v in out.user_traits.items()]
    rows += [("session property", k, v) for k, v in out.session_properties.items()]
    budget = Budget(MAX_CHARS, reserve=len(closing_text) + 300)
    for line in lines:
        budget.add(line)
    shown = 0
    if rows:
        budget.add("")
        budget.add(table_head(["of", "name", "value"]))
        for kind, key, value in rows:
            if not budget.add(table_row([kind, code(key, 100), code(as_text(value), 200)])):
                break
            shown += 1
    if shown < len(rows):
        closing_text = (
            f"\n{len(rows) - shown} more values are not shown here to keep this answer short; every value sent is "
            "in the structured result." + closing_text
        )
    return budget.close(closing_text)


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


TOOL = ToolSpec(NAME, TITLE, push_highlight_event, ANNOTATIONS, INSTRUCTIONS)
