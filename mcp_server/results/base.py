"""The one shape of a tool's answer: a typed result that renders its own Markdown."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from mcp_server.timeparse import iso

T = TypeVar("T")

# A fact the Markdown shows but the structured content leaves out (so the output schema stays what clients
# were told): not in the schema, not dumped. It needs a default, since clients' structured content lacks it.
MarkdownOnly = Annotated[T, SkipJsonSchema(), Field(exclude=True)]

# A JSON object of any keys. Pydantic writes ``dict[str, Any]`` as ``{type: object, additionalProperties: true}``,
# which means the same, but a Python client then walks every key of every object on every result it validates (a
# listing's 200 rows: over a third of the client's validation of a follow-up call).
JsonObject = Annotated[dict[str, Any], WithJsonSchema({"type": "object"})]

# A moment, kept as a datetime for the Markdown to reason about, written in the structured content as this
# server writes every time (``timeparse.iso``: UTC, ``Z``).
UtcTime = Annotated[
    datetime,
    PlainSerializer(lambda moment: iso(round(moment.timestamp() * 1000)), return_type=str),
    WithJsonSchema({"type": "string"}),
]


class ToolResult(BaseModel):
    """A tool's answer: ``model_dump()`` is its structured content (the tool's output schema, from this class),
    ``render()`` its Markdown, written from the fields alone and within the tool's size budget."""

    # MarkdownOnly fields may hold domain objects (an export's typed summary), checked by type only.
    model_config = ConfigDict(arbitrary_types_allowed=True)

    def render(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} must say how it renders")


def answer(result: ToolResult) -> CallToolResult:
    """The MCP result of a tool call: the Markdown for the model to read, the structured content for programs."""
    return CallToolResult(
        content=[TextContent(type="text", text=result.render())],
        structured_content=result.model_dump(mode="json", by_alias=True),
    )
