"""What the index holds about one session: small, typed facts cut to display size, never a session body."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Display sizes: every value the index stores is cut to these (the export itself stays the source of detail).
TYPE_CHARS = 120
MESSAGE_CHARS = 300
URL_CHARS = 500
NAME_CHARS = 200
TRAIT_CHARS = 200
MAX_TRAITS = 30
MAX_DEVICE = 20
MAX_PAGES = 100
MAX_ERRORS = 100
MAX_REQUESTS = 100
MAX_EVENTS = 50


def cut(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fold(text: str | None) -> str:
    """Full Unicode case folding (``ß`` → ``ss``), after NFC; computed here so both backends compare the same."""
    if not text:
        return ""
    return unicodedata.normalize("NFC", text).casefold()


# A path segment that names one record rather than a kind of page: numbers, UUIDs, long hex, or a token
# mixing letters and digits (order ids like "ord_8f2k3l9").
_ID_SEGMENT = re.compile(
    r"^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{8,}"
    r"|(?=[^/]*\d)[A-Za-z0-9_-]{8,}|\d+-[0-9a-f-]{36})$",
    re.IGNORECASE,
)


def generalise_url(url: str) -> str:
    """``https://api.x/orders/123?a=1`` → ``https://api.x/orders/{id}``: one pattern for every record's URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("?", 1)[0]
    segments = [("{id}" if _ID_SEGMENT.match(s) else s) for s in parts.path.split("/")]
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return origin + "/".join(segments)


@dataclass(frozen=True)
class ErrorFact:
    """One distinct error of a session (grouped by type and message)."""

    error_type: str
    message: str
    count: int
    first_offset_ms: int | None
    page: str | None


@dataclass(frozen=True)
class RequestFact:
    """Failed requests of a session with one method, URL and status (0: no response)."""

    method: str
    url: str
    status: int
    count: int

    @property
    def pattern(self) -> str:
        return generalise_url(self.url)


@dataclass(frozen=True)
class EventFact:
    name: str
    count: int


@dataclass(frozen=True)
class ExportRef:
    """Where a session's export was found: its URL, when that expires, and the listing position to re-list it."""

    url: str
    expires_ms: int | None
    listing_cursor: str | None  # the cursor sent for the listing page that held it (None: the first page)
    listing_date_ms: int | None  # the date sent with that first page, if any


@dataclass(frozen=True)
class SessionFacts:
    app: str
    session_id: str
    export: ExportRef
    started_ms: int
    ended_ms: int
    user_id: str | None = None
    user_name: str | None = None
    user_email: str | None = None
    traits: dict[str, str] = field(default_factory=dict)
    device: dict[str, str] = field(default_factory=dict)
    pages: tuple[str, ...] = ()  # distinct pages, in order of first visit
    pages_total: int = 0  # page views (navigation changes), including repeats and any beyond ``pages``
    events: int = 0
    errors: int = 0
    failed_requests: int = 0
    console_errors: int = 0
    console_warnings: int = 0
    custom_events: int = 0
    error_list: tuple[ErrorFact, ...] = ()
    requests: tuple[RequestFact, ...] = ()
    custom: tuple[EventFact, ...] = ()
    complete: bool = True  # False when the export was only read in part (size cap)

    @property
    def duration_ms(self) -> int:
        return self.ended_ms - self.started_ms

    @property
    def user_key(self) -> str | None:
        """Who, for counting users: the user id, else the email, else the name."""
        return self.user_id or self.user_email or self.user_name
