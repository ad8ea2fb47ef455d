"""The shared HTTP policy: what is retried, for how long, and how upstream error bodies are read."""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest

from mcp_server.adapters.errors import UpstreamError
from mcp_server.adapters.failures import Failure
from mcp_server.adapters.http import HttpPolicy, Reply, RetryPolicy, parse_retry_after

pytestmark = pytest.mark.anyio


def policy(handler: httpx2.MockTransport, **retry: Any) -> HttpPolicy:
    sleeps: list[float] = []
    now = [0.0]

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    p = HttpPolicy(
        connect_timeout=1,
        read_timeout=1,
        retry=RetryPolicy(**retry),
        transport=handler,
        sleep=sleep,
        clock=lambda: now[0],
    )
    p.sleeps = sleeps  # type: ignore[attr-defined]
    return p


def explain(f: Failure) -> UpstreamError:
    return UpstreamError(f"{f.kind} {f.status} after {f.attempts}")


def counting(statuses: list[int], headers: dict[str, str] | None = None) -> tuple[httpx2.MockTransport, list[int]]:
    seen: list[int] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        status = statuses[min(len(seen), len(statuses) - 1)]
        seen.append(status)
        return httpx2.Response(status, headers=headers or {}, json={"ok": True})

    return httpx2.MockTransport(handle), seen


async def test_non_idempotent_calls_repeat_a_429_but_never_a_5xx() -> None:
    transport, seen = counting([500, 200])
    p = policy(transport)
    with pytest.raises(UpstreamError, match="status 500 after 1"):
        await p.request("POST", "https://x.test/a", idempotent=False, explain=explain)
    transport, seen = counting([429, 200])
    p = policy(transport)
    reply = await p.request("POST", "https://x.test/a", idempotent=False, explain=explain)
    assert reply.status == 200 and seen == [429, 200]


async def test_backoff_grows_with_jitter_and_retry_after_is_honoured() -> None:
    transport, _ = counting([503, 503, 503, 200])
    p = policy(transport, base_delay=1.0, max_delay=8.0)
    await p.request("GET", "https://x.test/a", idempotent=True, explain=explain)
    sleeps = p.sleeps  # type: ignore[attr-defined]
    assert [0.5 <= sleeps[0] <= 1.0, 1.0 <= sleeps[1] <= 2.0, 2.0 <= sleeps[2] <= 4.0] == [True] * 3
    transport, _ = counting([429, 200], {"retry-after": "3"})
    p = policy(transport, base_delay=0.1)
    await p.request("GET", "https://x.test/a", idempotent=True, explain=explain)
    assert 3.0 <= p.sleeps[0] <= 3.1  # type: ignore[attr-defined]


async def test_retries_stop_at_the_deadline() -> None:
    transport, _ = counting([503])
    p = policy(transport, base_delay=4.0, max_delay=8.0, deadline=5.0, max_retries=10)
    with pytest.raises(UpstreamError):
        await p.request("GET", "https://x.test/a", idempotent=True, explain=explain)
    assert sum(p.sleeps) < 5.0  # type: ignore[attr-defined]


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (parse_retry_after(soon) or 0) <= 31
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"detail": "token signature is invalid"}', "token signature is invalid"),
        (b'{"message": "nope"}', "nope"),
        (b"userID too large (max 1024 characters)", "userID too large (max 1024 characters)"),
        (b"<html><body>502 Bad Gateway</body></html>", None),
        (b"", None),
        (b"line one\nline two\x1b[31m", "line one line two[31m"),
    ],
)
def test_error_details_are_read_from_json_or_text(body: bytes, detail: str | None) -> None:
    p = policy(httpx2.MockTransport(lambda r: httpx2.Response(200)))
    assert p.error_detail(Reply(400, httpx2.Headers(), body)) == detail


async def test_oversized_answers_are_refused() -> None:
    big = httpx2.MockTransport(lambda r: httpx2.Response(200, content=b"x" * 2048))
    p = HttpPolicy(connect_timeout=1, read_timeout=1, retry=RetryPolicy(), transport=big, max_response_bytes=1024)
    with pytest.raises(UpstreamError, match="too_large"):
        await p.request("GET", "https://x.test/a", idempotent=True, explain=explain)


async def test_an_answer_that_trickles_in_is_cut_at_the_deadline() -> None:
    """Each byte comes well within the read timeout, so only the call's deadline can end it."""
    failures: list[Failure] = []

    async def slowly() -> AsyncIterator[bytes]:
        for _ in range(1000):
            yield b"x"
            await anyio.sleep(0.02)

    def keep(f: Failure) -> UpstreamError:
        failures.append(f)
        return UpstreamError(f.kind)

    trickle = httpx2.MockTransport(lambda r: httpx2.Response(200, content=slowly()))
    p = HttpPolicy(connect_timeout=1, read_timeout=1, retry=RetryPolicy(deadline=0.3), transport=trickle)
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="deadline"):
        await p.request("GET", "https://x.test/a", idempotent=True, explain=keep)
    assert time.monotonic() - started < 10  # the whole answer takes 20 s: only the deadline ends it sooner
    (failure,) = failures
    assert failure.attempts == 1 and failure.timeout == 0.3
    assert failure.received is not None and 1 <= failure.received < 1000
