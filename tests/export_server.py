"""A tiny HTTP file server on loopback for export bodies a test writes byte by byte (hostile content,
odd compression, wrong headers): the sandbox serves realistic exports, this serves whatever a test needs."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from mcp_server.settings import Settings


class ExportFiles:
    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, dict[str, str]]] = {}
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.split("?")[0].lstrip("/")
                if name not in files:
                    self.send_error(404)
                    return
                body, headers = files[name]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: shutdown() waits for the loop to notice (0.5 s by default, at every test's end).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self.port = self._server.server_address[1]

    def __enter__(self) -> ExportFiles:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def put(self, name: str, body: bytes, headers: dict[str, str] | None = None) -> str:
        self.files[name] = (body, headers or {})
        return f"http://127.0.0.1:{self.port}/{name}"

    def allow(self, settings: Settings) -> Settings:
        """``settings`` that let exports be read from this server (plain http on loopback)."""
        return settings.with_overrides(export_allowed_hosts=(*settings.export_allowed_hosts, f"127.0.0.1:{self.port}"))
