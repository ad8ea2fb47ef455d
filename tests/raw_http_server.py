"""A loopback server that answers each request with bytes a test wrote, exactly as written (framing faults,
interim responses, junk after a response), over plain TCP or TLS; it counts connections and requests."""

from __future__ import annotations

import socket
import ssl
import threading
from collections import deque
from pathlib import Path
from types import TracebackType

TLS_DIR = Path(__file__).parent / "tls"

CLOSE = b""  # as a scripted answer: close the connection without answering


def response(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    """A well-formed response with a Content-Length (plus ``headers``)."""
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunked(*chunks: bytes, trailer: str = "") -> bytes:
    """A chunked response carrying ``chunks`` (each with a chunk extension), then an optional trailer."""
    out = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
    for chunk in chunks:
        out.append(b"%x;ext=1\r\n%s\r\n" % (len(chunk), chunk))
    out.append(b"0\r\n" + (trailer.encode() + b"\r\n" if trailer else b"") + b"\r\n")
    return b"".join(out)


class RawHttpServer:
    def __init__(self, *, tls: bool = False) -> None:
        self.answers: deque[bytes | tuple[bytes, bool]] = deque()
        self.connections = 0
        self.requests: list[bytes] = []
        self._tls: ssl.SSLContext | None = None
        if tls:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(TLS_DIR / "leaf.pem", TLS_DIR / "leaf.key")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def answer(self, data: bytes, *, then_close: bool = False) -> None:
        """Queue the bytes that answer the next request (``CLOSE``: close instead of answering)."""
        self.answers.append((data, then_close))

    def __enter__(self) -> RawHttpServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stopping = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                self.requests.append(head)
                item = self.answers.popleft()
                data, then_close = item if isinstance(item, tuple) else (item, False)
                if data == CLOSE:
                    return
                conn.sendall(data)
                if then_close:
                    return
        except (OSError, ssl.SSLError, IndexError):
            return
        finally:
            conn.close()
