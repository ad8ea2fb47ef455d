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
