"""One classification of upstream failures, and the per-service wording that turns one into a sentence.

Every upstream (LogRocket's API, Highlight's public graph, an export file's host) fails the same few ways: an
HTTP status, no answer in time, a connection that could not be made or dropped, an answer too large. Which
error class each is (``error_class``) is decided here once; what the sentence says is the service's
``Wording``: a subclass names the service and its settings and overrides only the sentences it words
differently. A new upstream needs a name, the setting that points at it and what the call was doing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from mcp_server.adapters.errors import (
    UpstreamAuthError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)

# status: upstream answered with an error status; timeout: no answer within the read timeout; deadline: the
# call's overall time ran out; unreachable: no connection; dropped: a connection cut mid-answer; too_large:
# an answer larger than this server reads.
FailureKind = Literal["status", "timeout", "unreachable", "dropped", "too_large", "deadline"]


@dataclass(frozen=True)
class Failure:
    """What went wrong with a call, after retries; a service's ``Wording`` turns it into an error."""

    kind: FailureKind
    method: str
    attempts: int
    elapsed: float
    status: int | None = None
    detail: str | None = None  # upstream's own message, cleaned, shortened and inert
    retry_after: float | None = None
    error: str | None = None  # transport error description
    timeout: float | None = None  # the read timeout, or for "deadline" the deadline
    received: int | None = None  # "deadline": body bytes that had arrived, None if not even the head had


def error_class(f: Failure, *, missing: bool = False) -> type[UpstreamError]:
    """The error class of a failure; ``missing``: the service reads this status as "nothing at this address"."""
    if f.kind == "status":
        status = f.status or 0
        if missing or status == 404:
            return UpstreamNotFound
        if status in (401, 403):
            return UpstreamAuthError
        if status == 429:
            return UpstreamRateLimited
        if status >= 500:
            return UpstreamServerError
        return UpstreamRejected
    if f.kind in ("timeout", "deadline"):
        return UpstreamTimeout
    if f.kind == "too_large":
        return UpstreamBadResponse
    return UpstreamUnreachable  # unreachable, dropped


def deadline_sentence(service: str, doing: str, f: Failure) -> str:
    """A call cut at its deadline: whether the answer had started arriving, and how much of it had."""
    limit = f"{f.timeout:g} s at most" if f.timeout is not None else "its time limit"
    if f.received is None:
        return f"{service} had not answered while {doing} when this call's time ran out ({limit}; {tries(f)})."
    return (
        f"{service}'s answer while {doing} was still arriving when this call's time ran out ({limit}; "
        f"{f.received:,} bytes had arrived; {tries(f)})."
    )


def tries(f: Failure) -> str:
    return f"{f.attempts} attempt{'s' if f.attempts != 1 else ''} over {f.elapsed:.1f} s"


def said(f: Failure) -> str:
    """``: <upstream's message>`` to follow an HTTP status, or nothing."""
    return f": {f.detail}" if f.detail else ""


def wait_hint(f: Failure) -> str:
    return f"{f.retry_after:.0f} s" if f.retry_after is not None else "a minute"


@dataclass(frozen=True)
class Wording:
    """The sentences one service's failures are told in, for one call.

    ``doing`` is what the call was doing ("listing exports for app acme/web"); ``unsure`` is added where a call
    that was not repeated may still have been carried out; ``url`` and ``url_setting`` say where the service
    is and which setting points there.
    """

    service: str
    url: str
    url_setting: str
    doing: str
    unsure: str = ""

    def explain(self, f: Failure) -> UpstreamError:
        """The failure as an error of its class, with this service's sentence and facts."""
        cls = error_class(f, missing=f.kind == "status" and self.missing(f.status or 0))
        message = self.sentence(cls, f)
        if cls is UpstreamRateLimited:
            return UpstreamRateLimited(message, attempts=f.attempts, retry_after=f.retry_after)
        return cls(message, status=f.status, attempts=f.attempts)

    def sentence(self, cls: type[UpstreamError], f: Failure) -> str:
        if cls is UpstreamNotFound:
            return self.not_found(f)
        if cls is UpstreamAuthError:
            return self.auth(f)
        if cls is UpstreamRateLimited:
            return self.rate_limited(f)
        if cls is UpstreamServerError:
            return self.server_error(f)
        if cls is UpstreamRejected:
            return self.rejected(f)
        if cls is UpstreamBadResponse:
            return self.too_large(f)
        if f.kind == "deadline":
            return self.deadline(f)
        if cls is UpstreamTimeout:
            return self.timeout(f)
        return self.dropped(f) if f.kind == "dropped" else self.unreachable(f)

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    def missing(self, status: int) -> bool:
        """Statuses besides 404 that mean there is nothing at this address, for this service."""
        return False

    # -- the sentences: each service overrides the ones it says differently --------------------------------

    def not_found(self, f: Failure) -> str:
        return (
            f"{self.service} found nothing at this address while {self.doing} (HTTP {f.status}{said(f)}). Check "
            f"{self.url_setting} (now {self.url})."
        )

    def auth(self, f: Failure) -> str:
        return f"{self.service} refused this request while {self.doing} (HTTP {f.status}{said(f)})."

    def rate_limited(self, f: Failure) -> str:
        return (
            f"{self.service} is rate-limiting requests (HTTP 429) while {self.doing}; still limited after "
            f"{tries(f)}. Wait {wait_hint(f)} and try again."
        )

    def server_error(self, f: Failure) -> str:
        return (
            f"{self.service} had a server error (HTTP {f.status}{said(f)}) while {self.doing}; still failing after "
            f"{tries(f)}.{self.unsure} The problem is on {self.service}'s side: try again in a few minutes."
        )

    def rejected(self, f: Failure) -> str:
        return f"{self.service} refused the request while {self.doing} (HTTP {f.status}{said(f)})."

    def timeout(self, f: Failure) -> str:
        return (
            f"{self.service} did not answer within {f.timeout:g} s while {self.doing} ({tries(f)}).{self.unsure} "
            "Try again; if it keeps happening, raise SESSION_REPLAY_MCP_READ_TIMEOUT."
        )

    def deadline(self, f: Failure) -> str:
        return (
            f"{deadline_sentence(self.service, self.doing, f)}{self.unsure} Try again; if it keeps happening, "
            "raise SESSION_REPLAY_MCP_UPSTREAM_DEADLINE."
        )

    def too_large(self, f: Failure) -> str:
        return f"{self.service}'s answer while {self.doing} was larger than this server accepts."

    def dropped(self, f: Failure) -> str:
        return (
            f"The connection to {self.service} at {self.host} dropped while {self.doing} ({f.error}; {tries(f)})."
            f"{self.unsure} Check the network and {self.url_setting} (now {self.url})."
        )

    def unreachable(self, f: Failure) -> str:
        return (
            f"Could not connect to {self.service} at {self.host} while {self.doing} ({f.error}; {tries(f)}). "
            f"Check the network and {self.url_setting} (now {self.url})."
        )
