"""The HTTP policy shared by every upstream: timeouts, retries, body limits and failure facts.

Retries use exponential backoff with jitter and honour ``Retry-After``. What may be retried depends
on whether a repeat is safe: a connection that never opened, or a 429 (the server refused to do the
work), is always safe to repeat; a 5xx, a timeout or a dropped connection may mean the request was
processed, so only idempotent calls repeat those. Every call also has an overall deadline, so
retries never outlast what an MCP host waits for a tool result. The deadline also bounds each attempt:
a read timeout starts again with every byte, so an answer that trickles in would otherwise hold the call
for as long as the server cares to keep sending.
"""

from __future__ import annotations

import email.utils
import functools
import json
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2

from mcp_server import __version__
from mcp_server.adapters.errors import UpstreamError
from mcp_server.adapters.failures import Failure, FailureKind
from mcp_server.redact import process_redactor
from mcp_server.render.markdown import quoted
from mcp_server.settings import Settings

logger = logging.getLogger(__name__)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every upstream client of the process: loading the certificates takes tens of ms.

    Made on first use, so SSL_CERT_FILE and SSL_CERT_DIR are read then, once per process."""
    return httpx2.create_ssl_context()


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    # Longest Retry-After we are willing to sleep through; longer ones end the call with a message.
    max_retry_after: float = 20.0
    # Wall-clock budget for one call, retries included.
    deadline: float = 45.0


# The end (time.monotonic()) that every upstream request made in this context shares, besides its own deadline:
# a tool call of several requests (push_highlight_event's steps) must end within one deadline, not one each.
_shared_end: ContextVar[float | None] = ContextVar("upstream_shared_end", default=None)


@contextmanager
def shared_deadline(seconds: float) -> Iterator[None]:
    """Every upstream request made inside (in this task) ends within ``seconds`` of now, retries included."""
    token = _shared_end.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _shared_end.reset(token)


@dataclass(frozen=True)
class Reply:
    """A finished upstream response: status, headers and the whole (decoded, size-capped) body."""

    status: int
    headers: httpx2.Headers
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


Explain = Callable[[Failure], UpstreamError]
Sleep = Callable[[float], Awaitable[None]]

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
_DETAIL_CHARS = 300


class HttpPolicy:
    """One long-lived ``httpx2.AsyncClient`` plus the retry and failure rules for one upstream."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        retry: RetryPolicy,
        headers: Mapping[str, str] | None = None,
        redact: Callable[[str], str] = lambda s: s,
        sleep: Sleep = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx2.AsyncBaseTransport | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.read_timeout = read_timeout
        self.retry = retry
        self._redact = redact
        self._sleep = sleep
        self._clock = clock
        self._max_response_bytes = max_response_bytes
        self._timeout = httpx2.Timeout(read_timeout, connect=connect_timeout)
        self._headers = dict(headers or {})
        self._transport = transport
        self._client: httpx2.AsyncClient | None = None

    @classmethod
    def for_api(
        cls, settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None, sleep: Sleep = anyio.sleep
    ) -> HttpPolicy:
        """The policy every upstream JSON API shares: the configured timeouts, retries and deadline."""
        return cls(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            retry=RetryPolicy(
                max_retries=settings.max_retries,
                base_delay=settings.retry_base_delay,
                deadline=settings.upstream_deadline,
            ),
            headers={"User-Agent": f"session-replay-mcp/{__version__}", "Accept": "application/json"},
            redact=process_redactor,
            transport=transport,
            sleep=sleep,
        )

    @property
    def redact(self) -> Callable[[str], str]:
        """This upstream's redactor: what an adapter quotes from an answer goes through it first."""
        return self._redact

    @property
    def client(self) -> httpx2.AsyncClient:
        # Made on first use, then kept for the server's life: loading TLS certificates is the costliest
        # part of start-up, and a server that is only listed (or only uses other upstreams) never needs it.
        if self._client is None:
            self._client = httpx2.AsyncClient(
                timeout=self._timeout,
                headers=self._headers,
                transport=self._transport,
                follow_redirects=False,
                limits=httpx2.Limits(max_connections=50, max_keepalive_connections=20),
                # An injected transport (tests, benchmarks) makes its own connections: no certificates to load.
                verify=_tls_context() if self._transport is None else True,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        explain: Explain,
        idempotent: bool,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        ok_statuses: frozenset[int] = frozenset(),
    ) -> Reply:
        """Send with retries; return a 2xx reply (or one in ``ok_statuses``); raise ``explain(failure)``."""
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            failure: Failure | None = None
            retryable = False
            retry_after: float | None = None
            progress = _Progress()
            try:
                with anyio.move_on_after(self._remaining(started)) as scope:
                    reply = await self._send(
                        method, url, params=params, json_body=json_body, headers=headers, progress=progress
                    )
                if scope.cancelled_caught:
                    raise _DeadlinePassed
            except _DeadlinePassed:
                failure = self._failure(
                    "deadline", method, attempt, started, timeout=self.retry.deadline, received=progress.received
                )
            except httpx2.ConnectTimeout as exc:
                failure = self._failure("unreachable", method, attempt, started, error=describe_error(exc))
                retryable = True  # never connected: nothing was sent
            except httpx2.ConnectError as exc:
                failure = self._failure("unreachable", method, attempt, started, error=describe_error(exc))
                retryable = True
            except httpx2.TimeoutException as exc:
                failure = self._failure(
                    "timeout", method, attempt, started, error=describe_error(exc), timeout=self.read_timeout
                )
                retryable = idempotent
            except _TooLarge:
                failure = self._failure("too_large", method, attempt, started)
            except (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError) as exc:
                failure = self._failure("dropped", method, attempt, started, error=describe_error(exc))
                retryable = idempotent
            else:
                status = reply.status
                if 200 <= status < 300 or status in ok_statuses:
                    return reply
                retry_after = parse_retry_after(reply.headers.get("retry-after"))
                failure = self._failure(
                    "status",
                    method,
                    attempt,
                    started,
                    status=status,
                    detail=self.error_detail(reply),
                    retry_after=retry_after,
                )
                retryable = status == 429 or (status >= 500 and idempotent)

            if not retryable or attempt > self.retry.max_retries:
                raise explain(failure)
            delay = self._delay(attempt, retry_after)
            if delay > self.retry.max_retry_after or delay >= self._remaining(started):
                raise explain(failure)
            logger.info(
                "%s %s: %s; retry %d of %d in %.2fs",
                method,
                _path(url),
                failure.status or failure.kind,
                attempt,
                self.retry.max_retries,
                delay,
            )
            await self._sleep(delay)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
        progress: _Progress,
    ) -> Reply:
        request = self.client.build_request(method, url, params=params, json=json_body, headers=headers)
        response = await self.client.send(request, stream=True)
        progress.received = 0
        try:
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self._max_response_bytes:
                raise _TooLarge
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                progress.received = size
                if size > self._max_response_bytes:
                    raise _TooLarge
                chunks.append(chunk)
        finally:
            await response.aclose()
        return Reply(response.status_code, response.headers, b"".join(chunks))

    def _remaining(self, started: float) -> float:
        """Seconds left for this call: its own deadline, or the shared one of the tool call if that ends first."""
        own = self.retry.deadline - (self._clock() - started)
        shared = _shared_end.get()
        return own if shared is None else min(own, shared - time.monotonic())

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            # Honour the server's wish, with a little jitter so many clients do not return in lockstep.
            return retry_after + random.uniform(0, min(1.0, self.retry.base_delay))
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2.0 ** (attempt - 1))
        # "Equal jitter": at least half the backoff, spread over the other half.
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _failure(self, kind: FailureKind, method: str, attempt: int, started: float, **facts: Any) -> Failure:
        return Failure(kind=kind, method=method, attempts=attempt, elapsed=self._clock() - started, **facts)

    def error_detail(self, reply: Reply) -> str | None:
        """Upstream's error message from a JSON ``detail``/``message``/``error`` field or a short text body."""
        text = reply.text.strip()
        if not text:
            return None
        detail: Any = text
        if text[:1] in "{[":
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                for key in ("detail", "message", "error", "errors"):
                    if parsed.get(key):
                        detail = parsed[key]
                        break
        if not isinstance(detail, str):
            detail = str(detail)
        if detail.lstrip().startswith("<"):
            return None  # an HTML error page says nothing useful
        return quoted(self._redact(detail), _DETAIL_CHARS)


class _TooLarge(Exception):
    pass


class _DeadlinePassed(Exception):
    pass


@dataclass
class _Progress:
    """How far one attempt got: body bytes received, None until the response head arrived."""

    received: int | None = None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def describe_error(exc: BaseException) -> str:
    """``ReadError: [Errno 104] Connection reset by peer``: the type, and the first text found along its causes.

    httpx2 often wraps the operating system's error in exceptions without text of their own.
    """
    seen: BaseException | None = exc
    for _ in range(8):
        # Cancellations (a time limit firing) are not errors: their text names internal cancel scopes.
        if not isinstance(seen, Exception):
            break
        text = str(seen).strip()
        if text:
            return f"{type(exc).__name__}: {text}"
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


def _path(url: str) -> str:
    return httpx2.URL(url).path
