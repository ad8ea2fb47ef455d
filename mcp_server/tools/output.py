"""Every tool answers twice: Markdown for the model to read, structured content for programs."""

from __future__ import annotations

from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel


def answer(markdown: str, structured: BaseModel) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=markdown)],
        structured_content=structured.model_dump(mode="json", by_alias=True),
    )
