"""Baseline for bench/load.py: the bare MCPServer of bare_server.py, over the SDK's stateless Streamable HTTP.

    python bench/bare_http.py --port 8001 --workers 2

Served like `session-replay-mcp serve --stateless --workers N` (uvicorn workers, TCP_NODELAY on every
connection), so the two differ only in what runs behind the MCP endpoint.
"""

from __future__ import annotations

import argparse

import uvicorn
from bare_server import server
from starlette.applications import Starlette

from mcp_server.http_protocol import NoDelayHTTPProtocol


def create_app() -> Starlette:
    return server.streamable_http_app(stateless_http=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bare_http:create_app",
        factory=True,
        port=args.port,
        workers=args.workers,
        http=NoDelayHTTPProtocol,
        log_level="warning",
    )
