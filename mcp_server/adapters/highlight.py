"""Highlight.io's public graph (its ingestion GraphQL API): start, identify and annotate sessions.

Facts this adapter relies on (Highlight's open-source backend and browser SDK):
- One endpoint takes ``POST`` with a JSON body ``{operationName, query, variables}``; there is no auth
  header. The project's public id (its "verbose id") is sent only with ``initializeSession``; every
  later call is keyed by the session's secure id, which the client generates (28 random letters and
  digits, like the browser SDK).
- ``addTrackProperties`` was removed from the schema in 2022. A track event is an rrweb custom event
  (type 5, tag ``Track``) whose payload is a JSON *string* of the properties with the event name under
  ``event``, sent with ``pushPayload``.
- ``pushPayload`` takes ``messages`` and ``resources`` as JSON strings and parses them before it
  answers; ``payload_id`` counts up per session; ``Timestamp`` arguments are RFC 3339 strings.
- gqlgen's statuses: 400 for a body it cannot decode, 422 for an invalid document or variables, and
  200 otherwise, with a resolver's failure as GraphQL ``errors`` (``BillingQuotaExceeded``, or
  ``failed to decode <id>`` for a project id that is not one).
- Everything is queued and processed later: a 200 means "accepted", not "stored".
"""

from __future__ import annotations

import json
import logging
import secrets
import string
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2

from mcp_server import __version__
from mcp_server.adapters.highlight_documents import IDENTIFY, INITIALIZE, PROPERTIES, PUSH, Operation
from mcp_server.adapters.highlight_errors import HighlightErrors
from mcp_server.adapters.http import HttpPolicy, Reply, Sleep
from mcp_server.adapters.paths import UnsafeSegment, path
from mcp_server.errors import ConfigError
from mcp_server.settings import Settings

logger = logging.getLogger(__name__)

HOSTED_APP_URL = "https://app.highlight.io"
SECURE_ID_LENGTH = 28
_ALPHANUMERIC = string.ascii_letters + string.digits
# Empty console, network and WebSocket recordings, in the JSON-string shapes pushPayload parses.
EMPTY_MESSAGES = '{"messages":[]}'
EMPTY_RESOURCES = '{"resources":[]}'
EMPTY_WEB_SOCKET_EVENTS = '{"webSocketEvents":[]}'
# rrweb's event type for custom events, and the tag Highlight reads as a track event.
CUSTOM_EVENT = 5
TRACK_TAG = "Track"
# payload_id for a session this process has not pushed to yet: seconds since this date. See _next_payload_id.
_PAYLOAD_ID_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z
_MAX_TRACKED_SESSIONS = 10_000

Scalar = str | int | float | bool


@dataclass(frozen=True)
class StartedSession:
    secure_id: str
    project_id: str  # Highlight's numeric project id, decoded from the verbose id


@dataclass(frozen=True)
class PushedEvent:
    payload_id: int
    timestamp_ms: int
    payload: str  # the custom event's payload exactly as sent: a JSON string


def new_secure_id() -> str:
    """A session secure id as Highlight's browser SDK makes one: 28 random letters and digits."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(SECURE_ID_LENGTH))


def as_text(value: Scalar) -> str:
    """A value as the browser SDK sends it in user and session objects: strings as they are, others as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


class HighlightClient:
    """Typed calls to one Highlight public graph over one long-lived HTTP client."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        sleep: Sleep = anyio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self.endpoint = settings.highlight_public_graph_url
        self._http = HttpPolicy.for_api(settings, transport=transport, sleep=sleep)
        self._errors = HighlightErrors(self.endpoint, redact=self._http.redact)
        self.hosted = self._errors.hosted
        self._clock = clock
        # Last payload_id sent per session secure id, oldest first (bounded).
        self._payload_ids: OrderedDict[str, int] = OrderedDict()
        # Verbose project id -> numeric project id, as initializeSession answered (for links).
        self._project_numbers: dict[str, str] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- configuration ----------------------------------------------------------------------------

    def project(self, override: str | None = None) -> str:
        """The project id to start sessions in: ``override``, else HIGHLIGHT_PROJECT_ID (ConfigError if neither)."""
        project = self.configured_project(override)
        if not project:
            raise ConfigError(
                "HIGHLIGHT_PROJECT_ID is not set. Set it to your Highlight project id (the id in your setup "
                "snippet, H.init('<project id>'); with LaunchDarkly's endpoint, your client-side ID) in the "
                "server's environment, or pass project_id, then retry. To try the tool without an account, "
                "start the server with --sandbox."
            )
        return project

    def configured_project(self, override: str | None = None) -> str | None:
        """``override``, else HIGHLIGHT_PROJECT_ID, else None."""
        return override or self._settings.highlight_project_id

    @property
    def app_url(self) -> str | None:
        """Highlight's web app: HIGHLIGHT_APP_URL, else app.highlight.io for the hosted endpoint, else unknown."""
        return self._settings.highlight_app_url or (HOSTED_APP_URL if self.hosted else None)

    def project_number(self, verbose_id: str) -> str | None:
        """The numeric project id links need: a numeric id as it is, else one learnt from initializeSession."""
        if verbose_id.isdigit():
            return verbose_id
        return self._project_numbers.get(verbose_id)

    def session_url(self, project_number: str | None, secure_id: str) -> str | None:
        """The session in Highlight's web app, when the app's address and the numeric project id are known."""
        app = self.app_url
        if app is None or project_number is None:
            return None
        try:
            return f"{app.rstrip('/')}/{path(project_number, 'sessions', secure_id)}"
        except UnsafeSegment:
            return None  # an id from upstream that would climb out of its place: no link rather than a wrong one

    # -- mutations --------------------------------------------------------------------------------

    async def initialize_session(self, verbose_id: str) -> StartedSession:
        secure_id = new_secure_id()
        # A fresh client id per session: Highlight copies a user's identity onto earlier sessions with the
        # same client id, and sessions started here for different users must never share one.
        client_id = new_secure_id()
        variables = {
            "session_secure_id": secure_id,
            "organization_verbose_id": verbose_id,
            "enable_strict_privacy": False,
            "enable_recording_network_contents": False,
            "clientVersion": __version__,
            "firstloadVersion": __version__,
            "clientConfig": json.dumps({"sender": "session-replay-mcp", "recording": False}),
            "environment": "production",
            "appVersion": None,
            "serviceName": "session-replay-mcp",
            "fingerprint": client_id,
            "client_id": client_id,
            "privacy_setting": "default",
        }
        result = await self.send(INITIALIZE, variables, project=verbose_id)
        if not isinstance(result, dict) or not isinstance(result.get("secure_id"), str):
            raise self._errors.bad_shape(INITIALIZE, "an object with secure_id and project_id")
        project_number = str(result.get("project_id", ""))
        if project_number:
            self._project_numbers[verbose_id] = project_number
        started = StartedSession(secure_id=result["secure_id"], project_id=project_number)
        self._remember(started.secure_id, 0)
        return started

    async def identify_session(self, secure_id: str, user_identifier: str, traits: Mapping[str, Scalar]) -> None:
        # Always an object, never null: Highlight's worker fails on anything else, silently.
        user_object = {k: as_text(v) for k, v in traits.items()}
        variables = {"session_secure_id": secure_id, "user_identifier": user_identifier, "user_object": user_object}
        await self.send(IDENTIFY, variables)

    async def add_session_properties(self, secure_id: str, properties: Mapping[str, Scalar]) -> None:
        variables = {
            "session_secure_id": secure_id,
            "properties_object": {k: as_text(v) for k, v in properties.items()},
        }
        await self.send(PROPERTIES, variables)

    async def push_track_event(self, secure_id: str, name: str, properties: Mapping[str, Scalar]) -> PushedEvent:
        """Record ``name`` with ``properties`` as a Track event, exactly as the browser SDK's ``H.track`` does."""
        payload_id = self._next_payload_id(secure_id)
        timestamp_ms = int(self._clock() * 1000)
        # The SDK adds the name last, under "event"; the payload is a JSON string, not an object.
        payload = json.dumps({**properties, "event": name}, ensure_ascii=False, separators=(",", ":"))
        event = {
            "type": CUSTOM_EVENT,
            "timestamp": timestamp_ms,
            "_sid": payload_id,  # one event per payload here, so its sequence number can follow the payload's
            "data": {"tag": TRACK_TAG, "payload": payload},
        }
        variables = {
            "session_secure_id": secure_id,
            "payload_id": str(payload_id),
            "events": {"events": [event]},
            "messages": EMPTY_MESSAGES,
            "resources": EMPTY_RESOURCES,
            "web_socket_events": EMPTY_WEB_SOCKET_EVENTS,
            "errors": [],
            "is_beacon": False,
            "has_session_unloaded": False,
        }
        await self.send(PUSH, variables)
        return PushedEvent(payload_id=payload_id, timestamp_ms=timestamp_ms, payload=payload)

    # -- plumbing ---------------------------------------------------------------------------------

    def _next_payload_id(self, secure_id: str) -> int:
        """The next payload_id for this session: one more than the last sent from this process.

        A session started here counts from 1, as the SDK does. For one this process has not pushed to
        (started by a browser, or before a restart) the count cannot be known, so it starts at the
        seconds since 2024: larger than any counter a browser reaches in a session and than any id
        sent before a restart, and still within 32 bits for decades. Highlight sorts a session's
        stored chunks by payload_id; a gap in the sequence does no harm.
        """
        last = self._payload_ids.get(secure_id)
        if last is None:
            last = max(0, int(self._clock()) - _PAYLOAD_ID_EPOCH - 1)
        self._remember(secure_id, last + 1)
        return last + 1

    def _remember(self, secure_id: str, payload_id: int) -> None:
        self._payload_ids[secure_id] = payload_id
        self._payload_ids.move_to_end(secure_id)
        while len(self._payload_ids) > _MAX_TRACKED_SESSIONS:
            self._payload_ids.popitem(last=False)

    async def send(self, op: Operation, variables: Mapping[str, Any], *, project: str | None = None) -> Any:
        """Send one operation; return its field's result, or raise an UpstreamError that says what to do.

        ``project`` is the verbose project id the operation carries, named if Highlight cannot decode it.
        """
        body = {"operationName": op.name, "query": op.document, "variables": dict(variables)}
        reply = await self._http.request(
            "POST",
            self.endpoint,
            json_body=body,
            headers={"Content-Type": "application/json"},
            idempotent=op.idempotent,
            explain=self._errors.explain(op),
            # gqlgen explains these in GraphQL's own error format; read them below.
            ok_statuses=frozenset({400, 422}),
        )
        logger.debug("highlight %s: HTTP %d", op.name, reply.status)
        parsed = self._json(reply, op)
        errors = parsed.get("errors")
        if errors:
            raise self._errors.graphql(op, reply.status, _messages(errors), project)
        if reply.status != 200:  # a 400 or 422 in some other shape, say from a proxy
            raise self._errors.refused(op, reply.status, self._http.error_detail(reply))
        data = parsed.get("data")
        if not isinstance(data, dict) or data.get(op.field) is None:
            raise self._errors.bad_shape(op, f"a GraphQL response with data.{op.field}")
        return data[op.field]

    def _json(self, reply: Reply, op: Operation) -> dict[str, Any]:
        if _is_web_page(reply):
            raise self._errors.web_page(op, reply.status)
        try:
            parsed = json.loads(reply.body)
        except ValueError:
            raise self._errors.not_json(op, reply.status, reply.text) from None
        if not isinstance(parsed, dict):
            raise self._errors.bad_shape(op, "a GraphQL response object")
        return parsed


def _messages(errors: Any) -> list[str]:
    items = errors if isinstance(errors, list) else [errors]
    out: list[str] = []
    for item in items:
        message = item.get("message") if isinstance(item, dict) else item
        out.append(str(message) if message is not None else "no message")
    return out


def _is_web_page(reply: Reply) -> bool:
    content_type = reply.headers.get("content-type", "").lower()
    start = reply.body.lstrip()[:15].lower()
    return "text/html" in content_type or start.startswith((b"<!doctype", b"<html"))
