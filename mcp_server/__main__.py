"""Command line: ``session-replay-mcp serve | sandbox | call | sync | index | doctor``.

Only what a command needs is imported, so starting the stdio server stays as fast as the SDK allows.
Everything this program logs goes to stderr: stdout belongs to the stdio transport (and, for
``call``, to the tool's answer).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mcp_server import __version__
from mcp_server.errors import ConfigError, UserFacingError
from mcp_server.logs import configure_logging
from mcp_server.redact import process_redactor
from mcp_server.settings import BY_ATTR, VARIABLES, Settings, is_unset, parse_bool

if TYPE_CHECKING:
    from mcp_server.http_app import HttpOptions
    from mcp_server.sandbox.server import SandboxServer

logger = logging.getLogger("mcp_server")


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    # key=value pairs may follow options ("call list_exports --sandbox limit=3"), which argparse leaves over.
    args, extra = parser.parse_known_args(argv)
    if extra and (args.command != "call" or any(e.startswith("-") or "=" not in e for e in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.pairs = [*args.pairs, *extra]
    configure_logging(
        args.log_level or ("WARNING" if args.command == "call" else "INFO"),
        with_pid=getattr(args, "workers", 1) > 1,
    )
    try:
        code = args.handler(args)
    except UserFacingError as exc:
        print(f"session-replay-mcp: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="session-replay-mcp", description="MCP server for session-replay data (LogRocket, Highlight.io)."
    )
    parser.add_argument("--version", action="version", version=f"session-replay-mcp {__version__}")
    log_level = BY_ATTR["log_level"]
    from_env = os.environ.get(log_level.name)
    parser.add_argument(
        str(log_level.option),
        dest=log_level.attr,
        default=None if is_unset(from_env) else str(from_env).strip().upper(),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help=f"{log_level.help} [env {log_level.name}]",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the MCP server")
    serve.add_argument("--transport", choices=["stdio", "streamable-http", "sse"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP transports: address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="HTTP transports: port (default 8000)")
    serve.add_argument(
        "--stateless",
        action="store_true",
        help="streamable-http: keep no session between requests, so any worker or machine can answer any request",
    )
    serve.add_argument(
        "--workers", type=int, default=1, help="streamable-http --stateless: worker processes to run (default 1)"
    )
    settings_flags(serve, serve=True)
    serve.set_defaults(handler=_serve)

    sandbox = commands.add_parser("sandbox", help="run only the emulator (LogRocket API, Highlight public graph)")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8090)
    sandbox.add_argument(
        "--export-cache-dir", help="write generated large exports (?events=N) here once and serve them from disk"
    )
    sandbox.set_defaults(handler=_sandbox)

    call = commands.add_parser("call", help="call one tool through an MCP client and print its answer")
    call.add_argument("tool", help="tool name, e.g. list_exports")
    call.add_argument(
        "pairs", nargs="*", metavar="key=value", help="arguments; values are read as JSON when they can be"
    )
    call.add_argument("--json", dest="json_args", help="arguments as one JSON object")
    call.add_argument("--structured", action="store_true", help="print the structured result (JSON) instead")
    settings_flags(call)
    call.set_defaults(handler=_call)

    sync = commands.add_parser("sync", help="fill the session index from LogRocket's exports")
    sync.add_argument("--since", help="index exports from this time: 7d, 24h, 2026-11-20, ... (default: continue)")
    sync.add_argument("--until", help="stop at sessions that started at this time (same forms)")
    sync.add_argument("--max-sessions", type=int, help="read at most this many new exports")
    settings_flags(sync)
    sync.set_defaults(handler=_sync)

    index = commands.add_parser("index", help="look after the session index: stats, forget-user, drop")
    index_commands = index.add_subparsers(dest="index_command", required=True)
    stats = index_commands.add_parser("stats", help="what the index holds and where")
    forget = index_commands.add_parser("forget-user", help="delete everything held about one user")
    forget.add_argument("who", metavar="EMAIL_OR_ID", help="the user's email or user id (case-insensitive)")
    drop = index_commands.add_parser("drop", help="delete the whole index")
    drop.add_argument("--yes", action="store_true", help="do it without asking")
    for sub in (stats, forget, drop):
        settings_flags(sub)
    index.set_defaults(handler=_index)

    doctor = commands.add_parser(
        "doctor", help="check the configuration and reach each upstream once; print what to fix"
    )
    settings_flags(doctor)
    doctor.set_defaults(handler=_doctor)
    return parser


_METAVARS = {
    "text": "TEXT",
    "number": "SECONDS",
    "whole": "N",
    "duration": "DURATION",
    "names": "A,B",
    "name set": "A,B",
}


def settings_flags(parser: argparse.ArgumentParser, *, serve: bool = False) -> None:
    """A flag for every setting a command takes (those of a running server only with ``serve``), from the table of
    variables in ``mcp_server.settings``: each mirrors its environment variable, and the flag wins."""
    parser.add_argument(
        "--sandbox-port", type=int, default=0, help="port for --sandbox (default: any free one); fix it to reuse URLs"
    )
    group = parser.add_argument_group("settings (each mirrors the environment variable in brackets; the flag wins)")
    for variable in VARIABLES:
        if variable.option is None or variable.attr == "log_level" or (variable.scope != "tools" and not serve):
            continue
        if variable.switch:
            group.add_argument(
                variable.option,
                dest=variable.attr,
                action="store_true",
                default=None,
                help=f"{variable.help} [env {variable.name}=true]",
            )
        else:
            group.add_argument(
                variable.option,
                dest=variable.attr,
                metavar=variable.metavar or _METAVARS.get(variable.kind, "VALUE"),
                help=f"{variable.help} [env {variable.name}]",
            )


def read_settings(args: argparse.Namespace) -> tuple[Settings, bool]:
    """The settings from the environment and the flags (a flag wins), and whether the sandbox was asked for."""
    env = dict(os.environ)
    for variable in VARIABLES:
        value = getattr(args, variable.attr, None)
        if value is not None and variable.attr != "log_level":
            env[variable.name] = "true" if value is True else str(value)
    sandbox = BY_ATTR["sandbox"].name
    raw = env.get(sandbox)
    sandbox_on = not is_unset(raw) and parse_bool(sandbox, str(raw).strip(), fail_safe=False)
    return Settings.from_env(env), sandbox_on


def _start_sandbox(args: argparse.Namespace, settings: Settings) -> tuple[Settings, SandboxServer]:
    from mcp_server.sandbox.server import SandboxServer

    sandbox = SandboxServer(port=args.sandbox_port).start()
    logger.info("%s", sandbox.banner())
    settings = sandbox.settings(settings)
    if settings.index_url is None:
        # The sandbox's sessions live as long as the sandbox: so does its index (a temporary file), filled as
        # the server starts, so find_sessions and session_stats have something to find.
        import atexit
        import shutil
        import tempfile

        scratch = tempfile.mkdtemp(prefix="session-replay-mcp-sandbox-")
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        settings = settings.with_overrides(index_url=f"{scratch}/index.db", sync_on_start=True, sync_first_days=8.0)
    return settings, sandbox


def _serve(args: argparse.Namespace) -> int:
    settings, sandbox_on = read_settings(args)
    _check_tools(settings)
    options: HttpOptions | None = None
    listener: socket.socket | None = None
    if args.transport == "stdio":
        if args.stateless or args.workers != 1:
            raise ConfigError("--stateless and --workers apply to --transport streamable-http only")
    else:
        from mcp_server.http_app import HttpOptions, check_options
        from mcp_server.http_auth import check_exposure

        options = HttpOptions(transport=args.transport, host=args.host, stateless=args.stateless)
        # Before anything starts: a refused configuration must not leave a sandbox or a socket behind.
        check_options(options, args.workers)
        check_exposure(settings, args.host, args.transport)
        listener = _listen(args.host, args.port)  # a port that is taken is reported before anything starts
    process_redactor.add(settings.secrets)
    sandbox = None
    try:
        if sandbox_on:
            settings, sandbox = _start_sandbox(args, settings)
        if options is None or listener is None:
            _serve_stdio(settings)
        else:
            _serve_http(settings, options, args, listener)
    finally:
        if sandbox is not None:
            sandbox.stop()
        if listener is not None:
            listener.close()
    return 0


def _check_tools(settings: Settings) -> None:
    """A tool selection that names no tool of ours is refused before a sandbox or a socket exists."""
    from mcp_server.server import select_tools

    select_tools(settings)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket for the HTTP transports, bound here so a taken port is a clear error up front."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host.strip("[]"), port))
    except OSError as exc:
        listener.close()
        raise ConfigError(
            f"cannot listen on {host} port {port}: {exc.strerror or exc}. Stop what is using it, or choose another "
            "port with --port."
        ) from None
    listener.set_inheritable(True)  # the worker processes of --workers N accept on it too
    return listener


def _serve_stdio(settings: Settings) -> None:
    import anyio

    from mcp_server.server import build_server, freeze_startup_heap

    server = build_server(settings)
    freeze_startup_heap()
    if sys.stdin.isatty():
        logger.info(
            "session-replay-mcp %s is serving MCP on stdio: an MCP client should start it. "
            "To try a tool by hand: session-replay-mcp call list_exports --sandbox",
            __version__,
        )
    anyio.run(server.run_stdio_async)


def _serve_http(settings: Settings, options: HttpOptions, args: argparse.Namespace, listener: socket.socket) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from mcp_server.http_app import WORKER_FACTORY, build_http_app, worker_environment
    from mcp_server.http_protocol import NoDelayHTTPProtocol
    from mcp_server.server import build_server, freeze_startup_heap

    path = "/mcp" if options.transport == "streamable-http" else "/sse"
    mode = f", stateless, {args.workers} worker(s)" if options.stateless else ""
    auth = "bearer token required" if settings.auth_token else "no token"
    port = listener.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    logger.info("MCP over %s at http://%s:%d%s (%s%s)", options.transport, host, port, path, auth, mode)
    common: dict[str, Any] = {
        "host": args.host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "http": NoDelayHTTPProtocol,
    }
    if args.workers == 1:
        app = build_http_app(build_server(settings), settings, options)
        freeze_startup_heap()
        uvicorn.Server(uvicorn.Config(app, **common)).run(sockets=[listener])
        return
    # Workers are fresh processes (spawned): they get the settings, the sandbox's address included, and the
    # HTTP options through their environment, and each builds its own server from them.
    environment = worker_environment(settings, options, args.log_level or "INFO")
    os.environ.clear()
    os.environ.update(environment)
    config = uvicorn.Config(WORKER_FACTORY, factory=True, workers=args.workers, **common)
    Multiprocess(config, sockets=[listener]).run()


def _sandbox(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mcp_server.sandbox.app import Sandbox
    from mcp_server.sandbox.server import SandboxServer
    from mcp_server.sandbox.world import SandboxWorld

    cache = Path(args.export_cache_dir) if args.export_cache_dir else None
    SandboxServer(Sandbox(SandboxWorld(export_cache_dir=cache)), host=args.host, port=args.port).serve_forever()
    return 0


def _call(args: argparse.Namespace) -> int:
    import anyio

    settings, sandbox_on = read_settings(args)
    _check_tools(settings)
    sandbox = None
    if sandbox_on:
        settings, sandbox = _start_sandbox(args, settings)
    try:
        return anyio.run(_call_async, settings, args)
    finally:
        if sandbox is not None:
            sandbox.stop()


def _doctor(args: argparse.Namespace) -> int:
    import anyio

    from mcp_server.doctor import report, run_checks

    settings, sandbox_on = read_settings(args)
    sandbox = None
    if sandbox_on:
        settings, sandbox = _start_sandbox(args, settings)
    try:
        found = anyio.run(run_checks, settings)
    finally:
        if sandbox is not None:
            sandbox.stop()
    text, code = report(found)
    print(text)
    return code


async def _call_async(settings: Settings, args: argparse.Namespace) -> int:
    from mcp import Client

    from mcp_server.server import build_server

    if settings.sync_on_start and args.tool in ("find_sessions", "session_stats"):
        # One-shot call against the sandbox: fill its fresh index first (a server would do it in the background).
        from mcp_server.library.cli import run_sync

        await run_sync(settings, since_ms=None, until_ms=None, max_sessions=None, show=sys.stderr)
    settings = settings.with_overrides(sync_on_start=False) if settings.sync_on_start else settings
    async with Client(build_server(settings)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        if args.tool not in tools:
            print(f"Unknown tool {args.tool!r}. Available: {', '.join(sorted(tools))}.", file=sys.stderr)
            return 2
        arguments = _arguments(args, tools[args.tool].input_schema)
        result = await client.call_tool(args.tool, arguments, progress_callback=_show_progress)
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    if result.is_error:
        print(text, file=sys.stderr)
        return 1
    if args.structured:
        print(json.dumps(result.structured_content, indent=2, ensure_ascii=False))
    else:
        print(text)
    return 0


async def _show_progress(progress: float, total: float | None, message: str | None) -> None:
    """Progress notifications (summarize_user_sessions waits minutes) go to stderr, not into the answer."""
    if message:
        print(message, file=sys.stderr, flush=True)


def _sync(args: argparse.Namespace) -> int:
    import anyio

    from mcp_server.library.cli import describe, run_sync
    from mcp_server.timeparse import parse_instant

    if args.max_sessions is not None and args.max_sessions < 1:
        raise UserFacingError("--max-sessions must be 1 or more")
    since_ms = parse_instant(args.since, field="--since") if args.since else None
    until_ms = parse_instant(args.until, field="--until") if args.until else None
    settings, sandbox_on = read_settings(args)
    sandbox = None
    if sandbox_on:
        settings, sandbox = _start_sandbox(args, settings)
    try:
        outcome = anyio.run(
            lambda: run_sync(
                settings, since_ms=since_ms, until_ms=until_ms, max_sessions=args.max_sessions, show=sys.stderr
            )
        )
    finally:
        if sandbox is not None:
            sandbox.stop()
    print(describe(outcome))
    return 0 if outcome.status != "running" else 3


def _index(args: argparse.Namespace) -> int:
    from mcp_server.library import cli

    settings, _ = read_settings(args)
    if args.index_command == "stats":
        print(cli.index_stats(settings))
    elif args.index_command == "forget-user":
        print(cli.forget_user(settings, args.who))
    else:
        if not args.yes:
            if not sys.stdin.isatty():
                raise UserFacingError("index drop deletes the whole index: pass --yes to confirm")
            if input("Delete the whole session index? [y/N] ").strip().lower() not in ("y", "yes"):
                print("Nothing deleted.")
                return 1
        print(cli.drop(settings))
    return 0


def _arguments(args: argparse.Namespace, schema: dict[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    if args.json_args:
        try:
            loaded = json.loads(args.json_args)
        except ValueError as exc:
            raise UserFacingError(f"--json is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise UserFacingError("--json must be a JSON object of arguments")
        arguments.update(loaded)
    properties = schema.get("properties", {})
    for pair in args.pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UserFacingError(f"argument {pair!r} is not key=value")
        arguments[key] = _value(raw, properties.get(key, {}))
    return arguments


def _value(raw: str, prop: dict[str, Any]) -> Any:
    """JSON when it parses, except that a bare number or word stays text where the tool takes text."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    takes_text = "string" in {prop.get("type"), *(o.get("type") for o in prop.get("anyOf", []))}
    if takes_text and not isinstance(value, str | dict | list) and value is not None:
        return raw
    return value


if __name__ == "__main__":
    main()
