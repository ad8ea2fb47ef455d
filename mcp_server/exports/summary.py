"""The typed summary of one exported session: what the index builder produces, the cache stores and
every reader (the tool, the Markdown renderer, the session library) reads.

The per-session facts, where to find them:

- who: ``user`` (``user_id``, ``name``, ``email``, ``traits``); ``session_id`` when the metadata has one;
- when: ``first_ms``, ``last_ms`` (epoch ms), ``duration_ms``; ``offset(t)`` turns a time into ms from the start;
- device: ``device`` (browser, device type, OS, country... as the metadata names them); all of ``meta``;
- pages: ``pages`` (in order, first ``MAX_PAGES``), ``pages_total``;
- counts: ``counts`` (one typed field per kind), ``other_types`` (unknown event types by frequency);
- errors: ``errors`` (distinct: ``type``, ``message``, ``count``, ``first_t``, ``last_t``, ``page``, ``pages``),
  ``errors_distinct``;
- failed requests: ``failed_groups`` (``method``, ``url``, ``status``, ``count``, ``first_t``), ``failed_requests``
  (one by one, first ones), ``failed_total``;
- custom events: ``custom_names`` (``name``, ``count``), ``custom_events`` (first ones, with properties);
- how it was read: ``reading`` (complete or where and why it stopped, skipped lines by reason).

Every field is typed, so renaming one is a type error rather than a silent 0, and every list is
capped when it is built (the whole summary also fits ``SUMMARY_MAX_BYTES``). Times are epoch
milliseconds (``*_t``, ``first_ms``...); offsets from the session start are derived, never stored.
Strings were cut to their display size when indexed; they are still untrusted recorded content.
"""

from __future__ import annotations

import msgspec

SUMMARY_MAX_BYTES = 1 << 20

# A scalar as the index keeps it: nested values of recorded properties become (cut) JSON text.
Scalar = str | int | float | bool | None


class UserInfo(msgspec.Struct, kw_only=True):
    """Who the session identified as (the last identify call that named anyone)."""

    user_id: str | None = None
    name: str | None = None
    email: str | None = None
    traits: dict[str, str] = msgspec.field(default_factory=dict)


class PageVisit(msgspec.Struct, kw_only=True):
    t: int | None
    href: str


class ErrorGroup(msgspec.Struct, kw_only=True):
    """One distinct error (same type and message), however many times it happened."""

    type: str
    message: str
    count: int
    first_t: int | None
    last_t: int | None
    page: str | None = None  # where it first happened
    pages: list[str] = msgspec.field(default_factory=list)  # distinct pages it happened on (capped)


class FailedRequest(msgspec.Struct, kw_only=True):
    t: int | None
    method: str
    url: str
    status: int | None  # None: no response was recorded
    duration: int | None = None
    page: str | None = None


class FailedRequestGroup(msgspec.Struct, kw_only=True):
    """Failed requests with the same method, URL and status (None: no response), however many there were."""

    method: str
    url: str
    status: int | None
    count: int
    first_t: int | None


class ConsoleGroup(msgspec.Struct, kw_only=True):
    level: str  # ERROR or WARN
    message: str
    count: int
    first_t: int | None
    page: str | None = None


class CustomEvent(msgspec.Struct, kw_only=True):
    t: int | None
    name: str
    properties: dict[str, Scalar] = msgspec.field(default_factory=dict)


class NameCount(msgspec.Struct, kw_only=True):
    name: str
    count: int


class Moment(msgspec.Struct, kw_only=True):
    t: int | None
    kind: str  # error, failed request, console error, identify, custom event, navigation
    text: str


class Counts(msgspec.Struct, kw_only=True):
    """Events by kind; ``network_failed``, ``console_error`` and ``console_warn`` are subsets."""

    meta: int = 0
    identify: int = 0
    navigation: int = 0
    click: int = 0
    input: int = 0
    redux: int = 0
    console: int = 0
    console_error: int = 0
    console_warn: int = 0
    network: int = 0
    network_failed: int = 0
    error: int = 0
    custom: int = 0
    other: int = 0

    @property
    def total(self) -> int:
        subsets = self.network_failed + self.console_error + self.console_warn
        counted: tuple[int, ...] = msgspec.structs.astuple(self)
        return sum(counted) - subsets


class Reading(msgspec.Struct, kw_only=True):
    """How the export was read: what arrived, what was skipped, and where (and why) reading stopped."""

    wire_bytes: int = 0
    bytes: int = 0  # export data read, after decompression
    lines: int = 0
    parsed: int = 0
    blank: int = 0
    invalid_json: int = 0
    not_utf8: int = 0
    not_object: int = 0
    too_long: int = 0
    compression: str | None = None
    byte_cap_hit: bool = False
    time_budget_hit: bool = False
    transfer_error: str | None = None
    damaged: str | None = None  # the compressed data broke: what was before the damage was read
    ignored_bytes: int = 0  # after the end of the compressed data (trailing garbage)
    seconds: float = 0.0  # the whole read, download included
    max_bytes: int = 0
    time_budget: float = 0.0
    shapes: dict[str, int] = msgspec.field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not (self.byte_cap_hit or self.time_budget_hit or self.transfer_error or self.damaged)


class SessionSummary(msgspec.Struct, kw_only=True):
    """Everything the digest shows, for one export."""

    first_ms: int | None = None
    last_ms: int | None = None
    session_id: str | None = None  # from the session's metadata, when it carries one
    user: UserInfo | None = None
    meta: dict[str, Scalar] = msgspec.field(default_factory=dict)
    device: dict[str, str] = msgspec.field(default_factory=dict)  # browser, device, os, country... from meta
    counts: Counts = msgspec.field(default_factory=Counts)
    other_types: list[NameCount] = msgspec.field(default_factory=list)  # most frequent first
    pages: list[PageVisit] = msgspec.field(default_factory=list)
    pages_total: int = 0
    errors: list[ErrorGroup] = msgspec.field(default_factory=list)  # in order of first occurrence
    errors_distinct: int = 0  # distinct errors in the session (the list may hold fewer)
    failed_requests: list[FailedRequest] = msgspec.field(default_factory=list)  # in time order
    failed_total: int = 0
    failed_groups: list[FailedRequestGroup] = msgspec.field(default_factory=list)  # most frequent first
    console: list[ConsoleGroup] = msgspec.field(default_factory=list)
    console_distinct: int = 0
    custom_events: list[CustomEvent] = msgspec.field(default_factory=list)  # the first ones, in order
    custom_names: list[NameCount] = msgspec.field(default_factory=list)  # most frequent first
    timeline: list[Moment] = msgspec.field(default_factory=list)  # the most important moments, in time order
    items: dict[str, int] = msgspec.field(default_factory=dict)  # items kept per listing (focus file)
    items_dropped: dict[str, int] = msgspec.field(default_factory=dict)
    pending_requests: int = 0  # requests still awaiting a response where reading stopped
    reading: Reading = msgspec.field(default_factory=Reading)

    @property
    def duration_ms(self) -> int | None:
        if self.first_ms is None or self.last_ms is None:
            return None
        return self.last_ms - self.first_ms

    def offset(self, t: int | None) -> int | None:
        """Milliseconds from the session start, or None when either time is unknown."""
        return t - self.first_ms if t is not None and self.first_ms is not None else None


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(SessionSummary)


def encode_summary(summary: SessionSummary) -> bytes:
    return _ENCODER.encode(summary)


def decode_summary(data: bytes) -> SessionSummary:
    """Raises ``msgspec.ValidationError`` / ``msgspec.DecodeError`` for data that is not a summary."""
    return _DECODER.decode(data)
