"""push_highlight_event's answer: what Highlight accepted, in which session, and how to add to it."""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from mcp_server.adapters.highlight import Scalar, as_text
from mcp_server.render.budget import Budget
from mcp_server.render.markdown import Markup, code, table_head, table_row
from mcp_server.results.base import MarkdownOnly, ToolResult

MAX_CHARS = 12_000


class EventSent(BaseModel):
    name: str
    properties: dict[str, Scalar] = Field(description="The event's properties as sent.")
    timestamp: str = Field(description="When the event was recorded (UTC, ISO 8601).")
    payload_id: int = Field(description="The pushPayload sequence number used for it in this session.")
    payload: str = Field(description="The Track event's payload exactly as sent: a JSON string.")


class PushHighlightEventOutput(ToolResult):
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
    # The project's number (for the Markdown beside its id), and whether Highlight's web app address is known:
    # without a session_url, the Markdown says which of the two is missing.
    project_number: MarkdownOnly[str | None] = None
    app_url_known: MarkdownOnly[bool] = True

    def render(self) -> str:
        ev = self.event
        lines: list[str] = []
        if self.new_session:
            lines.append(f"Started a new Highlight session and recorded the event {code(ev.name)} in it.")
        else:
            lines.append(f"Recorded the event {code(ev.name)} in Highlight session {code(self.session_secure_id)}.")
        lines.append("")
        origin = "new, its secure id generated here" if self.new_session else "existing"
        lines.append(f"- **Session:** {code(self.session_secure_id)} ({origin})")
        if self.project_id is not None:
            number = f" (Highlight project {code(self.project_number)})" if self.project_number else ""
            lines.append(f"- **Project:** {code(self.project_id)}{number}")
        if self.session_url:
            lines.append(f"- **Link:** {code(self.session_url, None)}")
        else:
            lines.append(f"- **Link:** none: {_no_link(self.app_url_known)}")
        lines.append(f"- **Endpoint:** {code(self.endpoint, None)}")
        lines.append("")
        lines.append(table_head(["step", "what was sent", "Highlight"]))
        steps = {
            "initializeSession": f"a new session in project {code(self.project_id or '?')}",
            "identifySession": f"user {code(self.user_identifier or '', 200)} with "
            f"{_count(len(self.user_traits), 'trait')}",
            "addSessionProperties": _count(len(self.session_properties), "session property", "session properties"),
            "pushPayload": f"Track event {code(ev.name)} at {ev.timestamp} (payload {ev.payload_id}) with "
            f"{_count(len(ev.properties), 'property', 'properties')}",
        }
        for step in self.accepted:
            lines.append(table_row([step, Markup(steps[step]), "accepted"]))

        closing = [
            "",
            "**Accepted, not yet stored:** Highlight queues what it receives and processes it afterwards, so this "
            "confirms only that the steps above were accepted. A problem found later (for example a project id that "
            "names no project) is not reported back.",
        ]
        if self.new_session:
            closing.append("")
            closing.append(
                "This session has no screen recording. Highlight lists sessions once they show user activity, so it "
                "may stay out of the session list; its events and properties are kept with it."
            )
        closing.append("")
        closing.append(
            f"To add another event to this session, call "
            f"{code(f'push_highlight_event(event=..., session_secure_id={json.dumps(self.session_secure_id)})', None)}."
        )
        closing_text = "\n".join(closing)

        rows = [("event", k, v) for k, v in ev.properties.items()]
        rows += [("user trait", k, v) for k, v in self.user_traits.items()]
        rows += [("session property", k, v) for k, v in self.session_properties.items()]
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


def _no_link(app_url_known: bool) -> str:
    if not app_url_known:
        return "the address of Highlight's web app is not known for this endpoint; set HIGHLIGHT_APP_URL"
    return (
        "the project's numeric id is not known here; pass project_id (its number, or the id this server "
        "started a session with)"
    )


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"
