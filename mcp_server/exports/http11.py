"""HTTP/1.1 for export downloads: httpcore's connection interface, framed by llhttp (httptools) in C.

httpcore's own HTTP/1.1 connection runs every body byte through h11, which copies it four times over and
spends Python on every piece read: on this project's profile, about a quarter of a first call's CPU on a
100 MB export, and a good part of a sync's cost per file. Here the response head and the body's framing
(length, chunked, or up to the close) are parsed in C, and body bytes are handed on as they arrive, in
reads of up to ``READ_BYTES``. Everything above the connection (httpx's client, timeouts, errors, the
pool and its keep-alive) is unchanged. Export downloads are GETs without a body; nothing else is sent.
"""

from __future__ import annotations

import enum
import re
import select
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable

import anyio
import httpcore2
from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

READ_BYTES = 1 << 20  # take whatever has arrived, up to this much, per read
# A response head (status line and headers) larger than this is refused, as are as many bytes in a row without
# body data once the head is read (chunk headers, extensions, trailers): h11's bound, which came before.
MAX_HEAD = 100 << 10
_UNSAFE = re.compile(rb"[\r\n\0]")


class _State(enum.Enum):
    NEW = "new"
    ACTIVE = "active"
    IDLE = "idle"
    CLOSED = "closed"


class _Message:
    """The parser's callbacks for one response (llhttp calls them from ``feed_data``)."""

    def __init__(self) -> None:
        self.parser = HttpResponseParser(self)
        # What h11 accepted before: both framings (the chunks win, as RFC 9112 says) and bare LF line ends.
        self.parser.set_dangerous_leniencies(lenient_chunked_length=True, lenient_optional_cr_before_lf=True)
        self.fault: str | None = None  # why a callback stopped the parser
        self.idle = 0  # bytes fed since the head, or since the body last grew
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        # Bytes came after the message in the reads that carried it: the connection cannot be reused. (Bytes that come
        # later, once it is idle, are seen only while still on the socket, as with httpcore's own connection.)
        self.after = False
        self.body: list[bytes] = []
        self.received = 0  # body bytes
        self.length: int | None = None  # Content-Length, when the body is framed by it
        self.chunked = False
        self.keep_alive = False  # what the head said (llhttp forgets it once the message is complete)

    def on_message_begin(self) -> None:
        if self.complete:  # a second response where none was asked for
            self.after = True

    def on_status(self, status: bytes) -> None:
        if not self.complete:
            self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.complete:
            self.after = True
            return
        if self.head_done:  # a trailer: nothing here reads them, but they count towards MAX_HEAD
            self.idle += len(name) + len(value)
            if self.idle > MAX_HEAD:
                self.fault = _flooded()
                raise ValueError(self.fault)
            return
        value = value.strip(b" \t")  # llhttp keeps trailing blanks; h11 did not, and a Location must not
        self.headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length" and value.isdigit():
            self.length = int(value)
        elif lowered == b"transfer-encoding":
            # Chunked when it is the last coding listed (else the body runs to the close): llhttp's reading.
            self.chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"

    def on_headers_complete(self) -> None:
        if 100 <= self.parser.get_status_code() < 200:  # interim (100 Continue, 103 Early Hints): the real one follows
            if self.chunked or self.length:
                self.fault = "An interim (1xx) response came with a body."
                raise ValueError(self.fault)
            self.reason, self.headers, self.length, self.chunked = b"", [], None, False
            return
        self.head_done = True
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            self.after = True
            return
        self.body.append(body)
        self.received += len(body)

    def on_message_complete(self) -> None:
        if self.head_done:
            self.complete = True

    def feed(self, data: bytes) -> None:
        grew_from = self.received if self.head_done else None
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade:
            raise httpcore2.RemoteProtocolError(
                "The server switched protocols, which downloads never ask for."
            ) from None
        except HttpParserError as exc:
            if self.complete:  # junk after a complete response: the response stands, the connection is not reused
                self.after = True
                return
            raise httpcore2.RemoteProtocolError(self.fault or f"Malformed HTTP response ({exc}).") from None
        if grew_from is not None and not self.complete:
            self.idle = 0 if self.received > grew_from else self.idle + len(data)
            if self.idle > MAX_HEAD:
                raise httpcore2.RemoteProtocolError(_flooded())

    def framed(self) -> bool:
        """Whether the body's end is announced (length or chunks), so an early close means it is incomplete."""
        return self.chunked or self.length is not None

    def take(self) -> bytes:
        """The body bytes parsed since the last call, as one piece (chunked bodies come in as many as they have)."""
        pieces, self.body = self.body, []
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


class ExportConnection(httpcore2.AsyncConnectionInterface):
    """One keep-alive HTTP/1.1 connection to one origin, opened through the pool's (guarded) network backend."""

    def __init__(
        self,
        origin: httpcore2.Origin,
        backend: httpcore2.AsyncNetworkBackend,
        tls_context: Callable[[], ssl.SSLContext],
        keepalive_expiry: float | None,
    ) -> None:
        self._origin = origin
        self._backend = backend
        self._tls_context = tls_context
        self._keepalive_expiry = keepalive_expiry
        self._stream: httpcore2.AsyncNetworkStream | None = None
        self._readable: Callable[[], bool] = _never
        self._state = _State.NEW
        self._expire_at: float | None = None
        self._requests = 0

    async def handle_async_request(self, request: httpcore2.Request) -> httpcore2.Response:
        if request.url.origin != self._origin:
            raise RuntimeError(f"Attempted to send request to {request.url.origin} on connection to {self._origin}")
        if self._state not in (_State.NEW, _State.IDLE):
            raise httpcore2.ConnectionNotAvailable()
        self._state = _State.ACTIVE
        self._expire_at = None
        self._requests += 1
        timeouts = request.extensions.get("timeout", {})
        try:
            stream = self._stream if self._stream is not None else await self._connect(timeouts.get("connect"))
            await stream.write(_request_head(request), timeouts.get("write"))
            message = _Message()
            head = 0
            while not message.head_done:
                data = await stream.read(READ_BYTES, timeouts.get("read"))
                if not data:
                    raise httpcore2.RemoteProtocolError("Server disconnected without sending a response.")
                head += len(data)
                message.feed(data)
                if not message.head_done and head > MAX_HEAD:
                    raise httpcore2.RemoteProtocolError(f"The response head is larger than {MAX_HEAD} bytes.")
            version = b"HTTP/" + message.parser.get_http_version().encode()
            return httpcore2.Response(
                status=message.parser.get_status_code(),
                headers=message.headers,
                content=_Body(self, stream, message, timeouts.get("read")),
                extensions={"http_version": version, "reason_phrase": message.reason},
            )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.aclose()
            raise

    async def _connect(self, timeout: float | None) -> httpcore2.AsyncNetworkStream:
        host = self._origin.host.decode("ascii")
        stream = await self._backend.connect_tcp(host, self._origin.port, timeout=timeout)
        try:
            if self._origin.scheme == b"https":
                stream = await stream.start_tls(self._tls_context(), server_hostname=host, timeout=timeout)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            raise
        self._stream = stream
        self._readable = _readability(stream.get_extra_info("socket"))
        return stream

    async def _finished(self, message: _Message) -> None:
        """The response was read to its end (or given up): keep the connection for the next one, or close it."""
        if message.complete and not message.after and self._state is _State.ACTIVE and message.keep_alive:
            self._state = _State.IDLE
            if self._keepalive_expiry is not None:
                self._expire_at = time.monotonic() + self._keepalive_expiry
        else:
            await self.aclose()

    async def aclose(self) -> None:
        self._state = _State.CLOSED
        if self._stream is not None:
            stream, self._stream = self._stream, None
            self._readable = _never  # the descriptor may soon name another socket
            await stream.aclose()

    def can_handle_request(self, origin: httpcore2.Origin) -> bool:
        return origin == self._origin

    def is_available(self) -> bool:
        return self._state is _State.IDLE

    def has_expired(self) -> bool:
        if self._expire_at is not None and time.monotonic() > self._expire_at:
            return True
        # Idle, yet something arrived (or the server closed it): this connection cannot carry another request.
        # (httpcore's own connection asks its stream the same way: a poll of the socket.)
        return self._state is _State.IDLE and self._stream is not None and self._readable()

    def is_idle(self) -> bool:
        return self._state is _State.IDLE

    def is_closed(self) -> bool:
        return self._state is _State.CLOSED

    def is_connected(self) -> bool:
        return self._stream is not None and self._state is not _State.CLOSED

    def info(self) -> str:
        return f"{str(self._origin)!r}, HTTP/1.1, {self._state.name}, Request Count: {self._requests}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.info()}]>"


class _Body:
    """The response body as httpcore streams it: pieces as they are read, then the connection is released."""

    def __init__(
        self,
        connection: ExportConnection,
        stream: httpcore2.AsyncNetworkStream,
        message: _Message,
        timeout: float | None,
    ) -> None:
        self._connection = connection
        self._stream = stream
        self._message = message
        self._timeout = timeout
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        message = self._message
        try:
            piece = message.take()
            if piece:
                yield piece
            while not message.complete:
                data = await self._stream.read(READ_BYTES, self._timeout)
                if not data:
                    if message.framed():
                        raise httpcore2.RemoteProtocolError(_incomplete(message))
                    message.complete = True  # the body ends where the connection does
                    break
                message.feed(data)
                piece = message.take()
                if piece:
                    yield piece
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.aclose()
            raise

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._connection._finished(self._message)


def _never() -> bool:
    return False


def _readability(sock: socket.socket | None) -> Callable[[], bool]:
    """A check of whether ``sock`` has something to read (or was closed), made once per connection.

    The pool asks every connection whether it has expired each time a request starts or a response ends; a
    sync keeps dozens of connections and makes thousands of requests, and asking the stream each time (anyio
    rebuilds its attribute table, peer name included) was a tenth of the sync's CPU. One registered poll
    object per connection makes it one system call.
    """
    if sock is None or sock.fileno() < 0:
        return lambda: True  # no socket to ask: treat it as closed, as httpcore does
    fd = sock.fileno()
    if not hasattr(select, "poll"):  # Windows
        return lambda: bool(select.select([fd], [], [], 0)[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return lambda: bool(poller.poll(0))


def _flooded() -> str:
    return f"The response sent more than {MAX_HEAD} bytes without body data (chunk headers or trailers)."


def _incomplete(message: _Message) -> str:
    # Worded as h11 words it, so the answer reads the same whichever connection class read the file.
    if message.chunked:
        return "peer closed connection without sending complete message body (incomplete chunked read)"
    return (
        f"peer closed connection without sending complete message body (received {message.received} bytes, "
        f"expected {message.length})"
    )


def _request_head(request: httpcore2.Request) -> bytes:
    """``GET target HTTP/1.1`` and the headers httpx prepared (Host included). Export downloads have no body."""
    if request.method != b"GET":
        raise httpcore2.LocalProtocolError("Export downloads are GET requests only.")
    lines = [b"GET " + request.url.target + b" HTTP/1.1"]
    for name, value in request.headers:
        if _UNSAFE.search(name) or _UNSAFE.search(value):
            raise httpcore2.LocalProtocolError("A request header holds a line break or a NUL.")
        if name.lower() in (b"content-length", b"transfer-encoding") and value.strip() not in (b"", b"0"):
            raise httpcore2.LocalProtocolError("Export downloads send no body.")
        lines.append(name + b": " + value)
    if _UNSAFE.search(request.url.target):
        raise httpcore2.LocalProtocolError("The request target holds a line break or a NUL.")
    return b"\r\n".join(lines) + b"\r\n\r\n"
