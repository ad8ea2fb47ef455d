"""Download an export file as a stream of lines: never whole in memory, bounded in bytes, lines and time.

Compression is told from the body's first bytes, with ``Content-Encoding`` as a hint (storage often
serves ``.jsonl.gz`` as plain ``application/gzip``, and some servers label plain bodies gzip, or send
raw deflate as ``deflate``). Decompression is bounded per step, so a small compressed file cannot
balloon in memory, and damaged compressed data ends the read with what came before it. A transfer that
breaks after data arrived ends the stream with what was read (``Reading.transfer_error`` says why)
instead of failing the whole read. The time budget covers the whole download, opening included: every
wait (for the head, for each piece of the body) is cut where the budget ends, so a server that stalls
or trickles cannot hold the call past it; and it is checked after every decompressed piece, once the
consumer has parsed it, so a file that is cheap to send but costly to read stops on time too.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, replace

import anyio
import anyio.lowlevel
import httpx2

from mcp_server import __version__
from mcp_server.adapters.errors import (
    UpstreamError,
)
from mcp_server.adapters.failures import Failure, Wording, said, wait_hint
from mcp_server.adapters.http import describe_error, parse_retry_after
from mcp_server.exports.guard import ExportUrlPolicy, UrlRefused, parse_url
from mcp_server.exports.summary import Reading
from mcp_server.render.markdown import quoted

MAX_REDIRECTS = 5
PIECE = 256 << 10  # decompress at most this much per step (then the deadline is checked)
_GZIP_MAGIC = b"\x1f\x8b"
_ERROR_TEXT = 4096  # bytes of an error answer's body read to explain it


@dataclass(frozen=True)
class DownloadLimits:
    max_bytes: int  # of export data after decompression
    time_budget: float  # seconds for the whole download
    max_line: int = 4 << 20
    retry_delay: float = 1.0  # before the one retry after a 429 or 5xx without Retry-After


# What the download saw is the start of the summary's reading notes.
ReadStats = Reading


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


async def stream_blocks(
    client: httpx2.AsyncClient,
    url: str,
    policy: ExportUrlPolicy,
    limits: DownloadLimits,
    stats: ReadStats,
) -> AsyncGenerator[bytes, None]:
    """Yield blocks of complete lines (``block.split(b"\\n")`` gives them, newlines removed). Raises before the
    first byte; after it, stops.

    Close it with ``aclosing``: ``stats.seconds`` is set when it closes.
    """
    started = time.monotonic()
    deadline = started + limits.time_budget
    response = await _open(client, url, policy, started, limits)
    try:
        encoding = response.headers.get("content-encoding", "").lower().strip()
        declared = encoding in ("gzip", "x-gzip", "deflate")
        decoder: _Decompressor | None = None
        decided = False  # whether (and how) the body is compressed, told from its first bytes
        head = b""  # the body's first bytes, until there are enough to tell what it is
        splitter = _LineSplitter(limits.max_line, stats)
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
            if not decided:
                head += chunk
                if len(head) < 2:
                    continue
                chunk, head, decided = head, b"", True
                decoder = _choose_decoder(chunk, encoding if declared else None, stats)
            for block in _blocks(chunk, decoder, splitter, stats, limits.max_bytes):
                if block is not None:
                    yield block
                else:  # a piece with no complete line (blank lines are only counted): still let others run
                    await anyio.lowlevel.checkpoint()
                if stats.byte_cap_hit:
                    break
                if time.monotonic() > deadline:  # checked per decompressed piece, parsing included
                    stats.time_budget_hit = True
                    break
            if not stats.complete:
                break
        if head:  # a body of one byte
            decoder = _choose_decoder(head, encoding if declared else None, stats)
            for block in _blocks(head, decoder, splitter, stats, limits.max_bytes):
                if block is not None:
                    yield block
        # A read stopped early (cap, budget, broken transfer) ends inside the stream, and its last line is a
        # fragment: neither is a fault of the file, so neither is reported or parsed.
        if decoder is not None and stats.complete:
            for piece in decoder.finish(stats):
                block = splitter.feed(piece)
                if block is not None:
                    yield block
        tail = splitter.finish() if stats.complete else None
        if tail is not None:
            yield tail
    finally:
        await response.aclose()
        stats.seconds = time.monotonic() - started


def _blocks(
    chunk: bytes, decoder: _Decompressor | None, splitter: _LineSplitter, stats: Reading, max_bytes: int
) -> Iterator[bytes | None]:
    """A block of lines (None: no line completed) per decompressed piece of one network chunk (each bounded)."""
    pieces = decoder.feed(chunk, stats) if decoder is not None else (chunk,)
    for piece in pieces:
        room = max_bytes - stats.bytes
        if len(piece) >= room:
            piece = piece[:room]
            stats.byte_cap_hit = True
        stats.bytes += len(piece)
        yield splitter.feed(piece)
        if stats.byte_cap_hit:
            return


def _choose_decoder(first: bytes, encoding: str | None, stats: Reading) -> _Decompressor | None:
    """How the body is compressed, from its first bytes (headers are often wrong, both ways)."""
    if first.startswith(_GZIP_MAGIC):
        how = f"{encoding} (Content-Encoding)" if encoding in ("gzip", "x-gzip") else "gzip (magic bytes)"
        stats.compression = how
        return _Decompressor(31)
    if encoding is None:
        return None
    if _is_zlib_header(first):
        stats.compression = f"{encoding} (Content-Encoding, zlib)"
        return _Decompressor(15)
    if encoding == "deflate":
        stats.compression = "deflate (Content-Encoding, raw deflate)"
        return _Decompressor(-15)
    # Content-Encoding says gzip, but the body is not: read it as it is.
    stats.compression = f"none (Content-Encoding said {encoding}, but the body is not compressed)"
    return None


def _is_zlib_header(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and (data[0] << 8 | data[1]) % 31 == 0


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
                response = await client.send(client.build_request("GET", parse_url(current)), stream=True)
        except UrlRefused:
            raise
        except httpx2.TimeoutException as exc:
            if not retried:
                retried = True
                continue
            failure = Failure("timeout", "GET", 2, time.monotonic() - started, error=describe_error(exc))
            raise ExportHostWording.at(current).explain(replace(failure, timeout=client.timeout.read)) from None
        except httpx2.TransportError as exc:
            if not retried:
                retried = True
                continue
            failure = Failure("unreachable", "GET", 2, time.monotonic() - started, error=describe_error(exc))
            raise ExportHostWording.at(current).explain(failure) from None
        if wait.cancelled_caught:
            attempts = 2 if retried else 1
            failure = Failure("deadline", "GET", attempts, time.monotonic() - started, timeout=limits.time_budget)
            raise ExportHostWording.at(current).explain(failure)
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
            body = (await _error_text(response, deadline)).decode("utf-8", "replace")
            raise _http_error(current, response.status_code, body, retried=retried, retry_after=retry_after)
        return response
    raise UpstreamError(f"The export URL redirected more than {MAX_REDIRECTS} times; giving up.")


async def _error_text(response: httpx2.Response, deadline: float) -> bytes:
    """The start of an error answer's body (what storage says went wrong): 4 KB at most, within the time budget,
    so an error page that never ends costs neither memory nor the rest of the call."""
    raw = b""
    try:
        with anyio.move_on_after(deadline - time.monotonic()):
            async for piece in response.aiter_raw():  # raw: a compressed error page is inflated below, bounded
                raw += piece
                if len(raw) >= 16 * _ERROR_TEXT:
                    break
    except (httpx2.TransportError, httpx2.StreamError):
        pass  # what arrived is enough to explain the status
    finally:
        await response.aclose()
    encoding = response.headers.get("content-encoding", "").lower().strip()
    if encoding in ("gzip", "x-gzip", "deflate") or raw.startswith(_GZIP_MAGIC):
        try:
            return zlib.decompressobj(47).decompress(raw, _ERROR_TEXT)  # 47: gzip or zlib, told from the header
        except zlib.error:
            return b""
    return raw[:_ERROR_TEXT]


def _http_error(url: str, status: int, body: str, *, retried: bool, retry_after: float | None) -> UpstreamError:
    # Storage services (GCS, S3, Azure) explain a refusal in XML: <Code> and <Message>.
    code = re.search(r"<Code>([^<]{1,80})</Code>", body)
    message = re.search(r"<Message>([^<]{1,200})</Message>", body)
    detail = quoted(" ".join(m.group(1) for m in (code, message) if m), 200) if code or message else None
    expired = "expired" in body.lower() or (code is not None and code.group(1) in ("ExpiredToken", "AccessDenied"))
    failure = Failure("status", "GET", 2 if retried else 1, 0.0, status=status, detail=detail, retry_after=retry_after)
    return ExportHostWording.at(url, signed=expired or "signature" in body.lower()).explain(failure)


@dataclass(frozen=True)
class ExportHostWording(Wording):
    """An export file's host (signed storage URLs): most failures are fixed by a fresh URL from list_exports."""

    signed: bool = False  # the refusal mentions an expired link or a signature

    @classmethod
    def at(cls, url: str, *, signed: bool = False) -> ExportHostWording:
        return cls("The export host", url, "", "downloading the export", signed=signed)

    def missing(self, status: int) -> bool:
        return status == 410

    def _refused(self, f: Failure) -> str:
        return f"The export host refused the download (HTTP {f.status}{said(f)})."

    def _expired(self, f: Failure) -> str:
        return (
            f"The export host refused the download (HTTP {f.status}{said(f)}). Export links are signed and expire: "
            "call list_exports again to get a fresh URL for this session."
        )

    def auth(self, f: Failure) -> str:
        return self._expired(f) if self.signed or f.status == 403 else self._refused(f)

    def rejected(self, f: Failure) -> str:
        return self._expired(f) if self.signed and f.status == 400 else self._refused(f)

    def not_found(self, f: Failure) -> str:
        return f"The export file is not there (HTTP {f.status}{said(f)}). Call list_exports again for a current URL."

    def rate_limited(self, f: Failure) -> str:
        return (
            f"The export host is rate-limiting downloads (HTTP 429{said(f)}){_again(f)}. Wait {wait_hint(f)} and "
            "try again."
        )

    def server_error(self, f: Failure) -> str:
        return f"The export host failed (HTTP {f.status}{said(f)}){_again(f)}. Try again in a minute."

    def timeout(self, f: Failure) -> str:
        return (
            f"The export host {_host(self.url)} did not answer within {f.timeout:g} s ({f.error}; {f.attempts} "
            "attempts). Try again; signed URLs expire, so if it keeps failing, call list_exports again for a fresh "
            "URL."
        )

    def deadline(self, f: Failure) -> str:
        retried = ", after one retry" if f.attempts > 1 else ""
        return (
            f"The export host {_host(self.url)} did not answer within the {f.timeout:g} s a read may take "
            f"(SESSION_REPLAY_MCP_EXPORT_TIME_BUDGET){retried}. Try again later."
        )

    def unreachable(self, f: Failure) -> str:
        return (
            f"Could not download the export from {_host(self.url)} ({f.error}; {f.attempts} attempts). Check the "
            "network; if the URL is old, call list_exports again for a fresh one."
        )

    dropped = unreachable


def _again(f: Failure) -> str:
    return ", also on a second try" if f.attempts > 1 else ""


class _Decompressor:
    """Streaming gzip, zlib or raw deflate with bounded output per step; handles concatenated gzip members.

    Damaged data ends the stream with what was decoded before it (``Reading.damaged``); bytes after the
    end of the compressed data that do not start another gzip member are ignored and counted, as gzip does.
    """

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._d = zlib.decompressobj(wbits)
        self._ended = False

    def feed(self, data: bytes, stats: Reading) -> Iterator[bytes]:
        while data and not self._ended:
            try:
                piece = self._d.decompress(data, PIECE)
            except zlib.error as exc:
                stats.damaged = f"the compressed data is damaged after {stats.bytes:,} bytes ({exc})"
                self._ended = True
                return
            if piece:
                yield piece
            if self._d.unconsumed_tail:
                data = self._d.unconsumed_tail
            elif self._d.eof and self._d.unused_data:
                data = self._d.unused_data
                if self._wbits == 31 and data.startswith(_GZIP_MAGIC[: len(data)]):
                    self._d = zlib.decompressobj(31)  # the next gzip member
                else:
                    self._ignore(data, stats)
                    return
            else:
                return
        if self._ended and data:
            self._ignore(data, stats)

    def _ignore(self, data: bytes, stats: Reading) -> None:
        self._ended = True
        stats.ignored_bytes += len(data)

    def finish(self, stats: Reading) -> list[bytes]:
        if self._ended:
            return []
        tail = self._d.flush()
        if not self._d.eof and stats.transfer_error is None:
            stats.transfer_error = "the compressed stream ended early (truncated file)"
        return [tail] if tail else []


class _LineSplitter:
    """Cuts byte pieces into blocks of whole lines (``block.split(b"\\n")`` gives the lines, newlines removed);
    a line longer than ``max_line`` is skipped (counted, and left as an empty line), never buffered. Splitting
    and counting the lines of a block is left to whoever parses it: a block sent to the parse worker
    (parallel.py) is never split here. Pieces of blank lines only are counted here, never split at all."""

    def __init__(self, max_line: int, stats: ReadStats) -> None:
        self._max = max_line
        self._stats = stats
        self._partial = bytearray()
        self._skipping = False

    def feed(self, piece: bytes) -> bytes | None:
        """The block of lines this piece completes, or None."""
        if not self._partial and not self._skipping and (not piece or piece.isspace()):
            # Only whitespace: count its lines as blank without making one object per line. (isspace stops at
            # the first other byte; strip() would copy every piece that ends with a newline, that is, all.)
            blank = piece.count(b"\n")
            self._stats.lines += blank
            self._stats.blank += blank
            return None
        if self._skipping:
            newline = piece.find(b"\n")
            if newline < 0:
                return None
            self._skipping = False
            self._stats.too_long += 1
            piece = piece[newline + 1 :]
        last = piece.rfind(b"\n")
        if last < 0:
            block = None
            self._partial += piece
        else:
            if not self._partial:
                block = piece[:last]
            elif len(self._partial) + piece.find(b"\n") > self._max:
                self._stats.too_long += 1
                block = piece[piece.find(b"\n") : last]  # starts with a newline: the long line left empty
            else:
                block = b"".join((self._partial, memoryview(piece)[:last]))
            self._partial.clear()
            self._partial += memoryview(piece)[last + 1 :]
        if len(self._partial) > self._max:
            self._partial.clear()
            self._skipping = True
        return block

    def finish(self) -> bytes | None:
        if self._skipping:
            self._stats.too_long += 1
            self._skipping = False
        if self._partial.strip():
            block = bytes(self._partial)
            self._partial.clear()
            return block
        return None


def _host(url: str) -> str:
    return httpx2.URL(url).host
