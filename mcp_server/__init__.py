"""session-replay-mcp: an MCP server for session-replay data (LogRocket, Highlight.io)."""

__version__ = "0.1.0"
