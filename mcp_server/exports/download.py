"""Download an export file as a stream of lines: never whole in memory, bounded in bytes, lines and time.

Gzip is recognised by ``Content-Encoding`` or by its magic bytes (storage often serves ``.jsonl.gz``
as plain ``application/gzip``). Decompression is bounded per step, so a small compressed file cannot
balloon in memory. A transfer that breaks after data arrived ends the stream with what was read
(``ReadStats.transfer_error`` says why) instead of failing the whole read. The time budget covers the
whole download, opening included: every wait (for the head, for each piece of the body) is cut where
the budget ends, so a server that stalls or trickles cannot hold the call past it.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import httpx2

from mcp_server import __version__
from mcp_server.adapters.errors import (
    UpstreamError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from mcp_server.adapters.http import describe_error, parse_retry_after
from mcp_server.exports.guard import ExportUrlPolicy, UrlRefused
from mcp_server.render.markdown import quoted

MAX_REDIRECTS = 5
_PIECE = 1 << 20  # decompress at most this much per step
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class DownloadLimits:
    max_bytes: int  # of export data after decompression
    time_budget: float  # seconds for the whole download
    max_line: int = 4 << 20
    retry_delay: float = 1.0  # before the one retry after a 429 or 5xx without Retry-After


@dataclass
class ReadStats:
    """What the download saw; rendered as the answer's reading notes."""

    wire_bytes: int = 0
    bytes: int = 0
    lines: int = 0
    too_long: int = 0
    compression: str | None = None
    byte_cap_hit: bool = False
    time_budget_hit: bool = False
    transfer_error: str | None = None
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return not (self.byte_cap_hit or self.time_budget_hit or self.transfer_error)


def export_client(policy: ExportUrlPolicy, *, connect_timeout: float, read_timeout: float) -> httpx2.AsyncClient:
    """The client for export hosts: no credentials of any kind, guarded connections, no env proxies."""
    from mcp_server.exports.guarded_transport import GuardedTransport

    return httpx2.AsyncClient(
        transport=GuardedTransport(policy),
        timeout=httpx2.Timeout(read_timeout, connect=connect_timeout),
        headers={"User-Agent": f"session-replay-mcp/{__version__}", "Accept-Encoding": "gzip"},
        follow_redirects=False,
        trust_env=False,
    )


async def stream_lines(
    client: httpx2.AsyncClient,
    url: str,
    policy: ExportUrlPolicy,
    limits: DownloadLimits,
    stats: ReadStats,
) -> AsyncIterator[list[bytes]]:
    """Yield batches of complete lines (newline removed). Raises before the first byte; after it, stops."""
    started = time.monotonic()
    deadline = started + limits.time_budget
    response = await _open(client, url, policy, started, limits)
    try:
        encoding = response.headers.get("content-encoding", "").lower()
        decoder: _Gunzip | None = _Gunzip() if encoding in ("gzip", "x-gzip", "deflate") else None
        if decoder is not None:
            stats.compression = f"{encoding} (Content-Encoding)"
        splitter = _LineSplitter(limits.max_line, stats)
        first = True
        raw = response.aiter_raw()
        while True:
            try:
                with anyio.move_on_after(deadline - time.monotonic()) as wait:
                    chunk = await raw.__anext__()
            except StopAsyncIteration:
                break
            except (httpx2.TransportError, httpx2.StreamError) as exc:
                stats.transfer_error = describe_error(exc)
                break
            if wait.cancelled_caught:
                stats.time_budget_hit = True  # the next piece did not come before the budget ran out
                break
            stats.wire_bytes += len(chunk)
            if first:
                first = False
                if decoder is None and chunk.startswith(_GZIP_MAGIC):
                    decoder = _Gunzip()
                    stats.compression = "gzip (magic bytes)"
            pieces = decoder.feed(chunk) if decoder is not None else (chunk,)
            for piece in pieces:
                room = limits.max_bytes - stats.bytes
                if len(piece) >= room:
                    piece = piece[:room]
                    stats.byte_cap_hit = True
                stats.bytes += len(piece)
                batch = splitter.feed(piece)
                if batch:
                    yield batch
                if stats.byte_cap_hit:
                    break
            if stats.byte_cap_hit:
                break
            if time.monotonic() - started > limits.time_budget:
                stats.time_budget_hit = True
                break
        # A read stopped early (cap, budget, broken transfer) ends inside the stream, and its last line is a
        # fragment: neither is a fault of the file, so neither is reported or parsed.
        if decoder is not None and stats.complete:
            for piece in decoder.finish(stats):
                batch = splitter.feed(piece)
                if batch:
                    yield batch
        tail = splitter.finish() if stats.complete else []
        if tail:
            yield tail
    finally:
        await response.aclose()
        stats.seconds = time.monotonic() - started


async def _open(
    client: httpx2.AsyncClient, url: str, policy: ExportUrlPolicy, started: float, limits: DownloadLimits
) -> httpx2.Response:
    """GET with redirects checked hop by hop; one retry for a 429, a 5xx, no answer or a failed connection (a GET
    is safe to repeat), all within the time budget."""
    policy.check_url(url)
    deadline = started + limits.time_budget
    current = url
    retried = False
    for _ in range(MAX_REDIRECTS + 1):
        try:
            with anyio.move_on_after(deadline - time.monotonic()) as wait:
                response = await client.send(client.build_request("GET", current), stream=True)
        except UrlRefused:
            raise
        except httpx2.TimeoutException as exc:
            if not retried:
                retried = True
                continue
            raise UpstreamTimeout(
                f"The export host {_host(current)} did not answer within {client.timeout.read:g} s "
                f"({describe_error(exc)}; 2 attempts). Try again; signed URLs expire, so if it keeps failing, call "
                "list_exports again for a fresh URL."
            ) from None
        except httpx2.TransportError as exc:
            if not retried:
                retried = True
                continue
            raise UpstreamUnreachable(
                f"Could not download the export from {_host(current)} ({describe_error(exc)}; 2 attempts). Check "
                "the network; if the URL is old, call list_exports again for a fresh one."
            ) from None
        if wait.cancelled_caught:
            raise UpstreamTimeout(
                f"The export host {_host(current)} did not answer within the {limits.time_budget:g} s a read may take "
                f"(SESSION_REPLAY_MCP_EXPORT_TIME_BUDGET){', after one retry' if retried else ''}. Try again later."
            )
        if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
            await response.aclose()
            location = response.headers["location"]
            try:
                target = str(httpx2.URL(current).join(location))
            except (httpx2.InvalidURL, ValueError) as exc:
                raise UrlRefused(
                    f"The export URL redirected to {location[:120]!r}, which is not a valid URL ({exc})."
                ) from None
            policy.check_url(target, hop=f"The export URL redirected to {target[:120]!r}, which was refused: ")
            current = target
            continue
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if response.status_code == 429 or response.status_code >= 500:
            wait_for = retry_after if retry_after is not None else limits.retry_delay
            # Only while the retry leaves most of the budget for the download itself.
            if not retried and time.monotonic() - started + wait_for < limits.time_budget / 2:
                retried = True
                await response.aclose()
                await anyio.sleep(wait_for)
                continue
        if response.status_code >= 400:
            body = (await response.aread())[:4096].decode("utf-8", "replace")
            await response.aclose()
            raise _http_error(response.status_code, body, retried=retried, retry_after=retry_after)
        return response
    raise UpstreamError(f"The export URL redirected more than {MAX_REDIRECTS} times; giving up.")


def _http_error(status: int, body: str, *, retried: bool, retry_after: float | None) -> UpstreamError:
    code = re.search(r"<Code>([^<]{1,80})</Code>", body)
    message = re.search(r"<Message>([^<]{1,200})</Message>", body)
    said = ": " + quoted(" ".join(m.group(1) for m in (code, message) if m), 200) if code or message else ""
    expired = "expired" in body.lower() or (code is not None and code.group(1) in ("ExpiredToken", "AccessDenied"))
    if status in (400, 401, 403) and (expired or "signature" in body.lower() or status == 403):
        return UpstreamError(
            f"The export host refused the download (HTTP {status}{said}). Export links are signed and expire: "
            "call list_exports again to get a fresh URL for this session.",
            status=status,
        )
    if status in (404, 410):
        return UpstreamNotFound(
            f"The export file is not there (HTTP {status}{said}). Call list_exports again for a current URL.",
            status=status,
        )
    again = ", also on a second try" if retried else ""
    if status == 429:
        wait = f"{retry_after:.0f} s" if retry_after is not None else "a minute"
        return UpstreamRateLimited(
            f"The export host is rate-limiting downloads (HTTP 429{said}){again}. Wait {wait} and try again.",
            retry_after=retry_after,
        )
    if status >= 500:
        return UpstreamServerError(
            f"The export host failed (HTTP {status}{said}){again}. Try again in a minute.", status=status
        )
    return UpstreamError(f"The export host refused the download (HTTP {status}{said}).", status=status)


class _Gunzip:
    """Streaming gzip/zlib decoder with bounded output per step; handles concatenated gzip members."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(47)  # 32 + 15: gzip or zlib header, detected

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        while data:
            piece = self._d.decompress(data, _PIECE)
            if piece:
                out.append(piece)
            if self._d.unconsumed_tail:
                data = self._d.unconsumed_tail
            elif self._d.eof and self._d.unused_data:
                data = self._d.unused_data
                self._d = zlib.decompressobj(47)
            else:
                break
        return out

    def finish(self, stats: ReadStats) -> list[bytes]:
        tail = self._d.flush()
        if not self._d.eof and stats.transfer_error is None:
            stats.transfer_error = "the gzip stream ended early (truncated file)"
        return [tail] if tail else []


class _LineSplitter:
    """Cuts byte pieces into lines; a line longer than ``max_line`` is skipped (and counted), never buffered."""

    def __init__(self, max_line: int, stats: ReadStats) -> None:
        self._max = max_line
        self._stats = stats
        self._partial = bytearray()
        self._skipping = False

    def feed(self, piece: bytes) -> list[bytes]:
        if self._skipping:
            newline = piece.find(b"\n")
            if newline < 0:
                return []
            self._skipping = False
            self._stats.too_long += 1
            piece = piece[newline + 1 :]
        lines = piece.split(b"\n")
        tail = lines.pop()
        if lines and self._partial:
            self._partial += lines[0]
            lines[0] = bytes(self._partial)
            self._partial.clear()
            if len(lines[0]) > self._max:
                self._stats.too_long += 1
                lines[0] = b""
        self._partial += tail
        if len(self._partial) > self._max:
            self._partial.clear()
            self._skipping = True
        self._stats.lines += len(lines)
        return lines

    def finish(self) -> list[bytes]:
        if self._skipping:
            self._stats.too_long += 1
            self._skipping = False
        if self._partial.strip():
            self._stats.lines += 1
            line = bytes(self._partial)
            self._partial.clear()
            return [line]
        return []


def _host(url: str) -> str:
    return httpx2.URL(url).host
