"""Run the sandbox as a real HTTP server on loopback, in a background thread or in the foreground."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn

from mcp_server.sandbox.app import Sandbox
from mcp_server.sandbox.highlight_api import CONTROL_PATH as HIGHLIGHT_CONTROL_PATH
from mcp_server.sandbox.highlight_api import DEFAULT_PROJECT as HIGHLIGHT_PROJECT
from mcp_server.sandbox.highlight_api import PROJECTS as HIGHLIGHT_PROJECTS
from mcp_server.sandbox.highlight_api import PUBLIC_GRAPH_PATH
from mcp_server.sandbox.injector import tracking_protocol
from mcp_server.sandbox.world import DEFAULT_APP, SandboxWorld
from mcp_server.settings import Settings

logger = logging.getLogger(__name__)


class SandboxServer:
    """The sandbox on ``host:port`` (port 0 picks a free one), served by uvicorn on its own thread.

    A thread keeps the emulator's work off the event loop of the MCP server under test, as a
    remote API would be.
    """

    def __init__(self, sandbox: Sandbox | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox or Sandbox()
        # IPPROTO_TCP, not the default 0: asyncio only sets TCP_NODELAY on accepted sockets whose protocol says TCP,
        # and without it small responses wait ~40 ms for a delayed ACK.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self.sandbox.app,
            # The protocol records each connection, so faults can reset or cut it (see sandbox/injector.py).
            http=tracking_protocol(self.sandbox.connections),
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def world(self) -> SandboxWorld:
        return self.sandbox.world

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def requests_in_progress(self) -> int:
        """Requests the server is still answering (a fault still playing counts)."""
        return len(self._server.server_state.tasks)

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def highlight_url(self) -> str:
        """The emulated Highlight public graph (self-hosted Highlight also serves it at ``/public``)."""
        return f"{self.url}{PUBLIC_GRAPH_PATH}"

    def settings(self, base: Settings | None = None, *, app: str | None = None) -> Settings:
        """``base`` pointed at this sandbox: the demo app's key (or that of ``app``, e.g. "acme/mobile") and the
        Highlight sandbox project, with session links that open the sandbox's view of a session."""
        spec = DEFAULT_APP
        if app is not None:
            org, _, name = app.partition("/")
            found = self.world.app(org, name)
            assert found is not None, f"no sandbox app {app}"
            spec = found.spec
        base = base or Settings()
        return base.with_overrides(
            logrocket_api_url=self.api_url,
            logrocket_api_key=spec.api_key,
            logrocket_app_id=f"{spec.org}/{spec.app}",
            # The sandbox serves its export files itself, on loopback: allow exactly this address.
            export_allowed_hosts=(*base.export_allowed_hosts, f"{self.host}:{self.port}"),
            highlight_public_graph_url=self.highlight_url,
            highlight_project_id=HIGHLIGHT_PROJECT.verbose_id,
            highlight_app_url=f"{self.url}{HIGHLIGHT_CONTROL_PATH}",
        )

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.005)
        logger.info("sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._socket.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (``session-replay-mcp sandbox``)."""
        logger.info("%s", self.banner())
        self._server.run(sockets=[self._socket])

    def banner(self) -> str:
        lines = [f"sandbox: LogRocket API emulator on {self.api_url}"]
        for app in self.world.apps.values():
            lines.append(f"  app {app.app_id}: LOGROCKET_API_KEY={app.spec.api_key} ({len(app.sessions)} sessions)")
        lines.append(f"sandbox: Highlight public graph emulator on {self.highlight_url}")
        for project in HIGHLIGHT_PROJECTS:
            note = " (session quota used up)" if project.quota_exceeded else ""
            lines.append(f"  project {project.name}: HIGHLIGHT_PROJECT_ID={project.verbose_id}{note}")
        lines.append(f"  sessions received: {self.url}{HIGHLIGHT_CONTROL_PATH}/sessions")
        lines.append(f"  info: {self.url}/   faults: {self.url}/_sandbox/faults")
        return "\n".join(lines)
