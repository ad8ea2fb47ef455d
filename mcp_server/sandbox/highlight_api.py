"""Highlight's public graph as the sandbox emulates it, and a view of what it accepted.

Requests go through graphql-core against ``highlight_schema.graphql`` (the subset of Highlight's
public schema this server uses), with the statuses of the gqlgen server Highlight runs: 400 for a
body that is not a JSON request, 422 with ``errors`` for a document or variables that do not fit the
schema, 200 otherwise, with resolver failures as ``errors``. The resolvers answer as Highlight's do
(the secure id echoed, the decoded project id, ``BillingQuotaExceeded``, ``failed to decode <id>``,
pushPayload refusing ``messages``/``resources`` that are not JSON) and then do, at once, what
Highlight's queue worker does later: create the session, attach the user, properties, events and
feedback, or drop what the worker would drop (an unknown session or project, a non-object
``user_object``, a Track event whose payload is not a string). Dropped items are listed too, since the
real service never tells the caller about them.

Project ids: ``sandbox1`` or ``1`` is project 1; ``sandbox2`` or ``2`` is project 2, whose session
quota is used up; any other number decodes but names no project (accepted, then dropped); anything
else cannot be decoded. (Real ids are hashids; the sandbox knows only its own.)
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import graphql
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_server.adapters.highlight_documents import schema_sdl

PUBLIC_GRAPH_PATH = "/highlight/public"
CONTROL_PATH = "/_sandbox/highlight"
MAX_FIELD = 2000  # Highlight skips property values longer than this


@dataclass(frozen=True)
class HighlightProject:
    number: int
    verbose_id: str
    name: str
    quota_exceeded: bool = False


PROJECTS = (
    HighlightProject(1, "sandbox1", "acme-web"),
    HighlightProject(2, "sandbox2", "acme-over-quota", quota_exceeded=True),
)
DEFAULT_PROJECT = PROJECTS[0]


@dataclass
class HighlightSession:
    """One session as Highlight would store it, from the calls that reached it."""

    secure_id: str
    project: int
    created_ms: int
    client_id: str
    environment: str
    service_name: str | None
    client_version: str
    user_agent: str
    identifier: str | None = None
    user: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    payload_ids: list[int] = field(default_factory=list)

    def track_events(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("tag") == "Track"]

    def to_json(self) -> dict[str, Any]:
        return {
            "secure_id": self.secure_id,
            "project_id": self.project,
            "created_at": _iso(self.created_ms),
            "client_id": self.client_id,
            "environment": self.environment,
            "service_name": self.service_name,
            "client_version": self.client_version,
            "user_agent": self.user_agent,
            "identifier": self.identifier,
            "user_properties": dict(self.user),
            "session_properties": dict(self.properties),
            "payload_ids": list(self.payload_ids),
            "events": [dict(e) for e in self.events],
            "feedback": [dict(f) for f in self.feedback],
        }


class _Refused(Exception):
    """A resolver's error: answered as a GraphQL error in a 200."""


class HighlightGraph:
    """The emulated public graph: schema, resolvers and the sessions they built (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._sessions: dict[str, HighlightSession] = {}
        self._dropped: list[dict[str, Any]] = []
        # Every operation answered without errors, as received: (operationName, variables).
        self._received: deque[tuple[str | None, dict[str, Any]]] = deque(maxlen=1000)
        self.schema = graphql.build_schema(schema_sdl())
        resolvers: dict[str, graphql.GraphQLFieldResolver] = {
            "initializeSession": self._initialize_session,
            "identifySession": self._identify_session,
            "addSessionProperties": self._add_session_properties,
            "pushPayload": self._push_payload,
            "addSessionFeedback": self._add_session_feedback,
        }
        mutation = self.schema.mutation_type
        assert mutation is not None
        for name, fn in resolvers.items():
            mutation.fields[name].resolve = fn

    # -- what tests and people look at -------------------------------------------------------------

    def session(self, secure_id: str) -> HighlightSession | None:
        with self.lock:
            return self._sessions.get(secure_id)

    def sessions(self) -> list[HighlightSession]:
        with self.lock:
            return list(self._sessions.values())

    def dropped(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(d) for d in self._dropped]

    def received(self) -> list[tuple[str | None, dict[str, Any]]]:
        """The operations answered without errors, oldest first, with their variables exactly as sent."""
        with self.lock:
            return list(self._received)

    def clear(self) -> None:
        with self.lock:
            self._sessions.clear()
            self._dropped.clear()
            self._received.clear()

    # -- HTTP -------------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route(PUBLIC_GRAPH_PATH, self._endpoint, methods=["POST"]),
            Route(f"{CONTROL_PATH}/sessions", self._list, methods=["GET", "DELETE"]),
            Route(CONTROL_PATH + "/{project:int}/sessions/{secure_id}", self._one, methods=["GET"]),
        ]

    async def _endpoint(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _errors(400, [{"message": "transport not supported"}])
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError as exc:
            return _errors(400, [{"message": f"json request body could not be decoded: {exc}"}])
        if not isinstance(body, dict):
            return _errors(400, [{"message": "json request body could not be decoded: not an object"}])
        query, variables, operation = body.get("query"), body.get("variables"), body.get("operationName")
        if not isinstance(query, str) or not query.strip():
            return _errors(422, [_coded("no operation provided", "GRAPHQL_VALIDATION_FAILED")])
        if variables is not None and not isinstance(variables, dict):
            return _errors(400, [{"message": "json request body could not be decoded: variables is not an object"}])
        try:
            document = graphql.parse(query)
        except graphql.GraphQLError as exc:
            return _errors(422, [_coded(exc.message, "GRAPHQL_PARSE_FAILED", exc)])
        invalid = graphql.validate(self.schema, document)
        if invalid:
            return _errors(422, [_coded(e.message, "GRAPHQL_VALIDATION_FAILED", e) for e in invalid])
        context = {"user_agent": request.headers.get("user-agent", "")}
        result = graphql.execute_sync(
            self.schema,
            document,
            variable_values=variables,
            operation_name=operation if isinstance(operation, str) else None,
            context_value=context,
        )
        failures = result.errors or []
        if result.data is None and failures and all(e.path is None for e in failures):
            # No field ran: the operation or its variables do not fit, which gqlgen answers with 422.
            return _errors(422, [_coded(e.message, "GRAPHQL_VALIDATION_FAILED", e) for e in failures])
        payload: dict[str, Any] = {}
        if failures:
            payload["errors"] = [{"message": e.message, "path": e.path} for e in failures]
        else:
            with self.lock:
                self._received.append((operation if isinstance(operation, str) else None, dict(variables or {})))
        payload["data"] = result.data
        return JSONResponse(payload)

    async def _list(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear()
        return JSONResponse(
            {
                "public_graph": f"{str(request.base_url).rstrip('/')}{PUBLIC_GRAPH_PATH}",
                "projects": [
                    {"project_id": p.number, "verbose_id": p.verbose_id, "name": p.name, "over_quota": p.quota_exceeded}
                    for p in PROJECTS
                ],
                "sessions": [s.to_json() for s in self.sessions()],
                "dropped": self.dropped(),
            }
        )

    async def _one(self, request: Request) -> Response:
        found = self.session(request.path_params["secure_id"])
        if found is None or found.project != request.path_params["project"]:
            return JSONResponse({"detail": "No such session in this project."}, status_code=404)
        return JSONResponse(found.to_json())

    # -- resolvers (Highlight's answer, then what its worker would do) ------------------------------

    def _initialize_session(self, _root: Any, info: Any, **args: Any) -> dict[str, Any]:
        verbose_id: str = args["organization_verbose_id"]
        secure_id: str = args["session_secure_id"]
        number = _decode(verbose_id)
        project = next((p for p in PROJECTS if p.number == number), None)
        if project is not None and project.quota_exceeded:
            raise _Refused("BillingQuotaExceeded")
        with self.lock:
            existing = self._sessions.get(secure_id)
            if project is None:
                self._drop("initializeSession", secure_id, f"project {number} doesn't exist")
            elif existing is not None and existing.project != project.number:
                self._drop("initializeSession", secure_id, "the secure id belongs to a session of another project")
            elif existing is None:
                self._sessions[secure_id] = HighlightSession(
                    secure_id=secure_id,
                    project=project.number,
                    created_ms=time.time_ns() // 1_000_000,
                    client_id=args["client_id"],
                    environment=args["environment"],
                    service_name=args.get("serviceName"),
                    client_version=args["clientVersion"],
                    user_agent=info.context["user_agent"],
                )
        return {"secure_id": secure_id, "project_id": str(number)}

    def _identify_session(self, _root: Any, _info: Any, **args: Any) -> str:
        secure_id: str = args["session_secure_id"]
        user_object = args.get("user_object")
        with self.lock:
            session = self._sessions.get(secure_id)
            if session is None:
                self._drop("identifySession", secure_id, "no session with this secure id")
            elif not isinstance(user_object, dict):
                self._drop("identifySession", secure_id, "user_object is not a JSON object")
            else:
                identifier: str = args["user_identifier"]
                session.identifier = identifier
                session.user.update(_fields({"identifier": identifier, **user_object}))
                if "email" not in session.user and _EMAIL.match(identifier):
                    session.user["email"] = identifier
        return secure_id

    def _add_session_properties(self, _root: Any, _info: Any, **args: Any) -> str:
        secure_id: str = args["session_secure_id"]
        properties = args.get("properties_object")
        with self.lock:
            session = self._sessions.get(secure_id)
            if session is None:
                self._drop("addSessionProperties", secure_id, "no session with this secure id")
            elif not isinstance(properties, dict):
                self._drop("addSessionProperties", secure_id, "properties_object is not a JSON object")
            else:
                session.properties.update(_fields(properties))
        return secure_id

    def _push_payload(self, _root: Any, _info: Any, **args: Any) -> int:
        secure_id: str = args["session_secure_id"]
        payload_id = _int_id(args.get("payload_id"))
        # Checked before the mutation answers, as Highlight does.
        for name in ("messages", "resources", "web_socket_events"):
            text = args.get(name)
            if text is not None:
                try:
                    json.loads(text)
                except ValueError as exc:
                    raise _Refused(f"{name} is not valid JSON: {exc}") from None
        messages = json.loads(args["messages"])
        if not isinstance(messages, dict) or not isinstance(messages.get("messages", []), list):
            raise _Refused("messages must be a JSON object with a messages list")
        events: list[dict[str, Any] | None] = args["events"]["events"]  # [ReplayEventInput]: items may be null
        with self.lock:
            session = self._sessions.get(secure_id)
            if session is None:
                self._drop("pushPayload", secure_id, "no session with this secure id")
            else:
                session.payload_ids.append(payload_id)
                for event in events:
                    if event is None:
                        continue
                    stored = self._event(secure_id, payload_id, event)
                    if stored is not None:
                        session.events.append(stored)
        return len(json.dumps(events))

    def _add_session_feedback(self, _root: Any, _info: Any, **args: Any) -> str:
        secure_id: str = args["session_secure_id"]
        when = args["timestamp"]
        if not isinstance(when, str) or not _RFC3339.match(when):
            raise _Refused("time should be RFC3339Nano formatted string")
        with self.lock:
            session = self._sessions.get(secure_id)
            if session is None:
                self._drop("addSessionFeedback", secure_id, "no session with this secure id")
            else:
                session.feedback.append(
                    {
                        "verbatim": args["verbatim"],
                        "user_name": args.get("user_name"),
                        "user_email": args.get("user_email"),
                        "timestamp": datetime.fromisoformat(when).astimezone(UTC).isoformat().replace("+00:00", "Z"),
                    }
                )
        return secure_id

    # -- helpers (called with the lock held) ---------------------------------------------------------

    def _event(self, secure_id: str, payload_id: int, event: dict[str, Any]) -> dict[str, Any] | None:
        data = event["data"]
        if not isinstance(data, dict):
            self._drop("pushPayload", secure_id, "an event's data is not a JSON object")
            return None
        stored: dict[str, Any] = {
            "type": event["type"],
            "timestamp": _iso(int(event["timestamp"])),
            "sid": event["_sid"],
            "payload_id": payload_id,
        }
        if event["type"] != 5:
            return stored
        tag = data.get("tag")
        stored["tag"] = tag
        if not (isinstance(tag, str) and "Track" in tag):
            stored["payload"] = data.get("payload")
            return stored
        payload = data.get("payload")
        if not isinstance(payload, str):
            self._drop("pushPayload", secure_id, "a Track event's payload is not a string")
            return None
        stored["payload"] = payload
        try:
            decoded = json.loads(payload)
        except ValueError:
            decoded = {"payload": payload}
        if not isinstance(decoded, dict):
            decoded = {"payload": decoded}
        stored["name"] = decoded.get("event") or decoded.get("segment-event") or "unknown_event"
        stored["properties"] = _fields(decoded)
        return stored

    def _drop(self, operation: str, secure_id: str, reason: str) -> None:
        self._dropped.append({"operation": operation, "secure_id": secure_id, "reason": reason})


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def _decode(verbose_id: str) -> int:
    """A project id as Highlight decodes it: a number as it is, else a known verbose id, else an error."""
    if verbose_id.isdigit():
        return int(verbose_id)
    for project in PROJECTS:
        if project.verbose_id == verbose_id:
            return project.number
    raise _Refused(f"failed to decode {verbose_id}")


def _int_id(value: Any) -> int:
    """payload_id as gqlgen's IntID reads it: digits in a string (or a number); absent means 0."""
    if value is None:
        return 0
    text = str(value)
    if not re.fullmatch(r"[+-]?\d+", text):
        raise _Refused(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


def _fields(values: dict[str, Any]) -> dict[str, str]:
    """Values as Highlight keeps them on a session: text, without blanks, digit-only names or overlong values."""
    out: dict[str, str] = {}
    for key, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value)
        if text and not key.isdigit() and len(text) <= MAX_FIELD:
            out[key] = text
    return out


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _coded(message: str, code: str, error: graphql.GraphQLError | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"message": message}
    if error is not None and error.locations:
        item["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    item["extensions"] = {"code": code}
    return item


def _errors(status: int, errors: list[dict[str, Any]]) -> Response:
    return JSONResponse({"errors": errors, "data": None}, status_code=status)
