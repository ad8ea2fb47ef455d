"""The GraphQL documents sent to Highlight's public graph, written once, and the schema they follow.

Operation names are the ones Highlight's browser SDK uses, so the requests look familiar in
Highlight's own logs. Variable declarations follow the schema's nullability exactly (the SDK's are
sometimes stricter). ``tests/test_highlight_documents.py`` validates each one against
``highlight_schema.graphql``, a faithful subset of the real schema; the sandbox serves that schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

INITIALIZE_SESSION = """
mutation initializeSession(
  $session_secure_id: String!
  $organization_verbose_id: String!
  $enable_strict_privacy: Boolean!
  $enable_recording_network_contents: Boolean!
  $clientVersion: String!
  $firstloadVersion: String!
  $clientConfig: String!
  $environment: String!
  $appVersion: String
  $serviceName: String
  $fingerprint: String!
  $client_id: String!
  $privacy_setting: String
) {
  initializeSession(
    session_secure_id: $session_secure_id
    organization_verbose_id: $organization_verbose_id
    enable_strict_privacy: $enable_strict_privacy
    enable_recording_network_contents: $enable_recording_network_contents
    clientVersion: $clientVersion
    firstloadVersion: $firstloadVersion
    clientConfig: $clientConfig
    environment: $environment
    appVersion: $appVersion
    serviceName: $serviceName
    fingerprint: $fingerprint
    client_id: $client_id
    privacy_setting: $privacy_setting
  ) {
    secure_id
    project_id
  }
}
""".strip()

IDENTIFY_SESSION = """
mutation identifySession($session_secure_id: String!, $user_identifier: String!, $user_object: Any) {
  identifySession(session_secure_id: $session_secure_id, user_identifier: $user_identifier, user_object: $user_object)
}
""".strip()

ADD_SESSION_PROPERTIES = """
mutation addSessionProperties($session_secure_id: String!, $properties_object: Any) {
  addSessionProperties(session_secure_id: $session_secure_id, properties_object: $properties_object)
}
""".strip()

PUSH_PAYLOAD = """
mutation PushPayload(
  $session_secure_id: String!
  $payload_id: ID
  $events: ReplayEventsInput!
  $messages: String!
  $resources: String!
  $web_socket_events: String
  $errors: [ErrorObjectInput]!
  $is_beacon: Boolean
  $has_session_unloaded: Boolean
) {
  pushPayload(
    session_secure_id: $session_secure_id
    payload_id: $payload_id
    events: $events
    messages: $messages
    resources: $resources
    web_socket_events: $web_socket_events
    errors: $errors
    is_beacon: $is_beacon
    has_session_unloaded: $has_session_unloaded
  )
}
""".strip()


@dataclass(frozen=True)
class Operation:
    """One mutation as this server sends it, and whether a repeat of it is harmless."""

    name: str  # operationName
    field: str  # the mutation field, which is also the key of its result under "data"
    document: str
    doing: str  # "while <doing>" in messages
    # Retries. The HTTP policy always repeats a request whose connection never opened, and a 429 (the
    # server refused to do any work). Repeating after a timeout, a dropped connection or a 5xx is safe only
    # when doing the work twice changes nothing: true for identifySession and addSessionProperties (they
    # set the same values again), false for pushPayload (the event would be recorded twice).
    # initializeSession counts as unsafe too: Highlight's own worker returns the existing session for a
    # repeated secure id, but the successor service behind this API is closed source, and a duplicate
    # session is worse than asking the caller to try again.
    idempotent: bool


INITIALIZE = Operation("initializeSession", "initializeSession", INITIALIZE_SESSION, "starting a session", False)
IDENTIFY = Operation("identifySession", "identifySession", IDENTIFY_SESSION, "identifying the session's user", True)
PROPERTIES = Operation(
    "addSessionProperties", "addSessionProperties", ADD_SESSION_PROPERTIES, "adding session properties", True
)
PUSH = Operation("PushPayload", "pushPayload", PUSH_PAYLOAD, "pushing the event", False)

# Everything this server can send.
OPERATIONS: tuple[Operation, ...] = (INITIALIZE, IDENTIFY, PROPERTIES, PUSH)


@cache
def schema_sdl() -> str:
    """The schema subset (SDL) the documents are written against; it ships inside the package."""
    return files("mcp_server.adapters").joinpath("highlight_schema.graphql").read_text(encoding="utf-8")
