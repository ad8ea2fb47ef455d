"""Async adapters for the upstream APIs; they know nothing of MCP."""
