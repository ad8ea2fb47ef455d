"""Logging setup shared by the CLI and the HTTP worker processes: stderr only, secrets redacted."""

from __future__ import annotations

import logging
import sys

from mcp_server.redact import RedactingFilter

LOG_LEVEL_VAR = "SESSION_REPLAY_MCP_LOG_LEVEL"


def configure_logging(level: str, *, with_pid: bool = False) -> None:
    """Send every record to stderr through the redacting filter; ``with_pid`` tells worker processes apart."""
    handler = logging.StreamHandler(sys.stderr)
    pid = " [%(process)d]" if with_pid else ""
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s{pid} %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Request lines would carry signed download URLs; our own logs say what matters.
    for noisy in ("httpx2", "httpcore2", "httpx", "httpcore", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sdk_http = logging.getLogger("mcp.server.streamable_http")
    if not any(isinstance(f, NoSessionToTerminate) for f in sdk_http.filters):
        sdk_http.addFilter(NoSessionToTerminate())


class NoSessionToTerminate(logging.Filter):
    """Drops the SDK's "Terminating session: None", which stateless HTTP logs after every request (there is no
    session to terminate); a real session's termination is still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Terminating session: None"
