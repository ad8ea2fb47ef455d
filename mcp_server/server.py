"""build_server: the MCP server, its tools (filtered by read-only mode and selection) and its lifespan."""

from __future__ import annotations

import functools
import gc
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx2
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult, InputRequiredResult, TextContent
from pydantic import ValidationError

from mcp_server import __version__
from mcp_server.adapters.highlight import HighlightClient
from mcp_server.adapters.logrocket import LogRocketClient
from mcp_server.clock import REAL_CLOCK, Clock
from mcp_server.errors import ConfigError, UserFacingError
from mcp_server.exports.reader import ExportReader
from mcp_server.guide import PROMPTS, instructions
from mcp_server.library.background import keep_synced
from mcp_server.library.service import Library
from mcp_server.redact import process_redactor
from mcp_server.schema import inline_definitions
from mcp_server.settings import Settings
from mcp_server.text import clean_text
from mcp_server.tools import ALL_TOOLS, TOOL_NAMES
from mcp_server.tools.runtime import Runtime
from mcp_server.tools.spec import ToolSpec
from mcp_server.validation import describe_validation_error

SERVER_NAME = "session-replay-mcp"
logger = logging.getLogger(__name__)


class SessionReplayServer(MCPServer[Runtime]):
    """MCPServer whose tool errors read as instructions to the caller, never as tracebacks."""

    def __init__(self, *args: Any, arg_names: Mapping[str, frozenset[str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._arg_names = arg_names

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Runtime, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        # One line per call, like an access log: which tool, how it ended, how long it took. Never the
        # arguments (URLs, emails); the name only when it is one of ours (a caller may send anything).
        started = time.perf_counter()
        outcome = "crashed"
        try:
            result = await self._call_tool(name, arguments, context)
            outcome = "answered"
            return result
        except UnexpectedToolError:
            outcome = "failed unexpectedly"
            raise
        except ToolError:
            outcome = "answered with a tool error"
            raise
        finally:
            logger.info(
                "%s %s in %.0f ms",
                name if name in self._arg_names else "unknown tool",
                outcome,
                (time.perf_counter() - started) * 1000,
            )

    async def _call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Runtime, Any] | None
    ) -> CallToolResult | InputRequiredResult:
        known = self._arg_names.get(name)
        unknown = sorted(set(arguments) - known) if known is not None else []
        if unknown:
            named = ", ".join(repr(clean_text(u, 60)) for u in unknown[:5])
            raise ToolError(
                f"Error executing tool {name}: unknown argument{'s' if len(unknown) > 1 else ''} "
                f"{process_redactor(named)}. {name} takes: {', '.join(sorted(known or ()))}."
            )
        try:
            result = await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                message = describe_validation_error(cause)
            elif isinstance(cause, UserFacingError):
                message = str(cause)
            elif isinstance(exc, UnexpectedToolError):
                raise  # a bug: the SDK logs it and tells the client only that the tool failed
            else:
                message = str(exc).removeprefix(f"Error executing tool {name}: ")
            raise ToolError(f"Error executing tool {name}: {process_redactor(message)}") from cause
        return _redacted(result)


def _redacted(result: CallToolResult | InputRequiredResult) -> CallToolResult | InputRequiredResult:
    """The result with every secret replaced, in its text and its structured content.

    Results quote upstream answers (URLs, traits, Markdown), so an upstream that echoes the request back could
    put the API key into one; this is the last place everything a tool answers passes through.
    """
    if not isinstance(result, CallToolResult):
        return result
    content = [
        block.model_copy(update={"text": process_redactor(block.text)}) if isinstance(block, TextContent) else block
        for block in result.content
    ]
    structured = process_redactor.json(result.structured_content)
    return result.model_copy(update={"content": content, "structured_content": structured})


def freeze_startup_heap() -> None:
    """For a serving process, once its server is built: leave what start-up made (modules, schemas, the server)
    out of later garbage collections. Each full collection otherwise walks all of it, a pause of about 60 ms
    that whichever tool call sets it off pays. (No collection first: it would cost start-up as much.)"""
    gc.freeze()


def select_tools(settings: Settings) -> list[ToolSpec]:
    """The tools to register: the selection (all by default), minus every write tool in read-only mode."""
    if settings.enabled_tools is not None:
        unknown = sorted(settings.enabled_tools - TOOL_NAMES)
        if unknown:
            raise ConfigError(
                f"Unknown tool name(s) in the tool selection: {', '.join(unknown)}. "
                f"Available: {', '.join(sorted(TOOL_NAMES))}."
            )
    return [
        spec
        for spec in ALL_TOOLS
        if (settings.enabled_tools is None or spec.name in settings.enabled_tools)
        and not (settings.read_only and spec.writes)
    ]


def build_server(
    settings: Settings,
    *,
    logrocket_transport: httpx2.AsyncBaseTransport | None = None,
    highlight_transport: httpx2.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
) -> SessionReplayServer:
    """Build the server. The ``*_transport`` arguments replace the network, ``clock`` real time (tests, benchmarks)."""
    process_redactor.add(settings.secrets)
    specs = select_tools(settings)
    tools = [_tool(spec) for spec in specs]
    server = SessionReplayServer(
        SERVER_NAME,
        title="Session Replay",
        description="Session-replay data for AI agents: LogRocket exports, users and highlights.",
        instructions=instructions(settings, specs),
        version=__version__,
        tools=tools,
        lifespan=_lifespan(settings, logrocket_transport, highlight_transport, clock or REAL_CLOCK),
        arg_names={t.name: frozenset(t.parameters.get("properties", {})) for t in tools},
    )
    for prompt in PROMPTS:
        server.add_prompt(prompt)
    return server


@functools.cache
def _tool(spec: ToolSpec) -> Tool:
    # Once per process: deriving a tool's schemas from its signature takes milliseconds, and a process
    # that builds many servers (tests, HTTP workers) would otherwise pay it for every tool of every one.
    tool = Tool.from_function(
        spec.fn,
        name=spec.name,
        title=spec.title,
        description=inspect.cleandoc(spec.fn.__doc__ or ""),
        annotations=spec.annotations,
        structured_output=True,
    )
    # Unknown arguments are refused (see call_tool), and the schema says so.
    tool.parameters["additionalProperties"] = False
    if tool.fn_metadata.output_schema is not None:
        tool.fn_metadata.output_schema = inline_definitions(tool.fn_metadata.output_schema)
    return tool


def _lifespan(
    settings: Settings,
    logrocket_transport: httpx2.AsyncBaseTransport | None,
    highlight_transport: httpx2.AsyncBaseTransport | None,
    clock: Clock,
) -> Callable[[MCPServer[Runtime]], Any]:
    @asynccontextmanager
    async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        async with AsyncExitStack() as stack:
            logrocket = LogRocketClient(settings, transport=logrocket_transport)
            stack.push_async_callback(logrocket.aclose)
            highlight = HighlightClient(settings, transport=highlight_transport)
            stack.push_async_callback(highlight.aclose)
            exports = ExportReader(settings)
            stack.push_async_callback(exports.aclose)
            library = Library(settings)
            stack.callback(library.close)
            rt = Runtime(
                settings=settings,
                logrocket=logrocket,
                highlight=highlight,
                exports=exports,
                library=library,
                clock=clock,
            )
            if settings.sync_every > 0 or settings.sync_on_start:
                # The background sync stops with the server (the task group is cancelled on the way out).
                tasks = await stack.enter_async_context(anyio.create_task_group())
                stack.callback(tasks.cancel_scope.cancel)
                tasks.start_soon(keep_synced, rt)
            yield rt

    return lifespan
