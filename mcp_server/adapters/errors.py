"""Typed upstream failures. Each carries a finished sentence for the caller; the type is for code."""

from __future__ import annotations

from mcp_server.errors import UserFacingError


class UpstreamError(UserFacingError):
    """An upstream API call failed; ``str(error)`` says why and what to do."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class UpstreamAuthError(UpstreamError):
    """401/403: the credentials were refused."""


class UpstreamNotFound(UpstreamError):
    """404: the org, app or object does not exist."""


class UpstreamRejected(UpstreamError):
    """Another 4xx: upstream refused this request as malformed or invalid."""


class UpstreamRateLimited(UpstreamError):
    """429, still after every retry the policy allowed."""

    def __init__(self, message: str, *, status: int | None = 429, attempts: int = 1, retry_after: float | None = None):
        super().__init__(message, status=status, attempts=attempts)
        self.retry_after = retry_after


class UpstreamServerError(UpstreamError):
    """5xx, still after every retry the policy allowed."""


class UpstreamTimeout(UpstreamError):
    """Upstream accepted the connection but did not answer in time."""


class UpstreamUnreachable(UpstreamError):
    """No connection could be made (DNS, refused, TLS) or it dropped mid-answer."""


class UpstreamBadResponse(UpstreamError):
    """Upstream answered 2xx with something we cannot read (not JSON, wrong shape, too large)."""
