"""``session-replay-mcp doctor``: is this configuration going to work? Checks it, reaches each upstream once.

Each check is an async function in ``CHECKS`` that returns ``Finding``s: what it looked at, whether it is
fine, and what to do when it is not. A new check is one more function in the list. Every upstream is asked
once (no retries) and nothing is written upstream: LogRocket is asked for one exported session, Highlight for
``__typename``, the cache gets a file that is removed at once, and the session index is opened (created or
migrated as a server would on first use) and counted.
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import anyio
import anyio.to_thread

from mcp_server.adapters.errors import UpstreamAuthError, UpstreamError, UpstreamNotFound
from mcp_server.adapters.highlight import HighlightClient
from mcp_server.adapters.highlight_documents import Operation
from mcp_server.adapters.logrocket import LogRocketClient
from mcp_server.errors import ConfigError
from mcp_server.exports.cache import default_cache_dir
from mcp_server.settings import ENV_VARS, Settings

Status = Literal["ok", "warning", "problem"]
# A query every GraphQL server answers and that does nothing: is the public graph there at all?
PROBE = Operation("doctorProbe", "__typename", "query doctorProbe { __typename }", "checking the endpoint", True)


@dataclass(frozen=True)
class Finding:
    status: Status
    subject: str
    said: str  # what was found
    fix: str = ""  # what to do, when it is not "ok"

    def line(self) -> str:
        label = {"ok": "ok", "warning": "WARNING", "problem": "PROBLEM"}[self.status]
        text = f"{label:8} {self.subject}: {self.said}"
        return f"{text}\n         Fix: {self.fix}" if self.fix else text


Check = Callable[[Settings], Awaitable[list[Finding]]]


async def check_configuration(settings: Settings) -> list[Finding]:
    found: list[Finding] = []
    try:
        _, app = settings.logrocket_credentials()
    except ConfigError as exc:
        found.append(Finding("problem", "LogRocket settings", str(exc).split(". ")[0] + ".", _rest(str(exc))))
    else:
        source = "LOGROCKET_APP_ID" if settings.logrocket_app_id else "the API key"
        found.append(
            Finding("ok", "LogRocket settings", f"app {app} (from {source}), API {settings.logrocket_api_url}")
        )
    if settings.highlight_project_id:
        found.append(
            Finding(
                "ok",
                "Highlight settings",
                f"project {settings.highlight_project_id}, endpoint {settings.highlight_public_graph_url}",
            )
        )
    else:
        found.append(
            Finding(
                "warning",
                "Highlight settings",
                f"{ENV_VARS['highlight_project_id']} is not set: push_highlight_event can start a session only "
                "when a call names project_id.",
                f"set {ENV_VARS['highlight_project_id']} to your Highlight project id (as in H.init('<id>')), "
                "or ignore this if you do not push events to Highlight.",
            )
        )
    if settings.read_only:
        found.append(Finding("ok", "Mode", "read-only: tools that write are not offered"))
    return found


async def check_logrocket(settings: Settings) -> list[Finding]:
    try:
        _, app = settings.logrocket_credentials()
    except ConfigError:
        return [Finding("warning", "LogRocket API", "not checked: the settings above are incomplete.")]
    client = LogRocketClient(_once(settings))
    try:
        page = await client.list_exports(cursor=None, limit=1, date_ms=None)
    except UpstreamAuthError as exc:
        return [
            Finding(
                "problem",
                "LogRocket API",
                f"the API key was refused ({exc}).",
                f"check {ENV_VARS['logrocket_api_key']} (LogRocket: Settings > API Keys) and that it belongs to {app}.",
            )
        ]
    except UpstreamNotFound as exc:
        return [
            Finding(
                "problem",
                "LogRocket API",
                f"app {app} was not found ({exc}).",
                f"set {ENV_VARS['logrocket_app_id']} to the App ID LogRocket shows (org/app).",
            )
        ]
    except UpstreamError as exc:
        return [
            Finding("problem", "LogRocket API", str(exc), f"check {ENV_VARS['logrocket_api_url']} and the network.")
        ]
    finally:
        await client.aclose()
    listed = "1 exported session listed" if page.files else "no exported sessions yet"
    return [Finding("ok", "LogRocket API", f"the key is accepted and app {app} answers ({listed})")]


async def check_highlight(settings: Settings) -> list[Finding]:
    client = HighlightClient(_once(settings))
    try:
        await client.send(PROBE, {})
    except UpstreamError as exc:
        return [
            Finding(
                "problem",
                "Highlight endpoint",
                str(exc),
                "as the message says; or ignore this if you do not push events to Highlight.",
            )
        ]
    finally:
        await client.aclose()
    return [Finding("ok", "Highlight endpoint", f"{settings.highlight_public_graph_url} answers GraphQL")]


async def check_cache(settings: Settings) -> list[Finding]:
    root = cache_root(settings)
    try:
        await anyio.to_thread.run_sync(_write_and_remove, root)
    except OSError as exc:
        return [
            Finding(
                "problem",
                "Export cache",
                f"{root} is not writable ({exc.strerror or exc}).",
                f"set {ENV_VARS['cache_dir']} to a directory this user can write.",
            )
        ]
    return [Finding("ok", "Export cache", f"{root} is writable")]


async def check_index(settings: Settings) -> list[Finding]:
    from mcp_server.library.service import Library

    def count() -> str:
        library = Library(settings)
        try:
            info = library.store.info()
        finally:
            library.close()
        n = info["sessions"]
        return f"{info['backend']} at {info['location']}, {n} session{'s' if n != 1 else ''} indexed"

    from mcp_server.library.db import database_errors, index_unavailable

    try:
        try:
            said = await anyio.to_thread.run_sync(count)
        except database_errors() as exc:
            raise index_unavailable(exc) from None
    except ConfigError as exc:
        return [Finding("problem", "Session index", str(exc).split(". ")[0] + ".", _rest(str(exc)))]
    return [Finding("ok", "Session index", said)]


# In order; each sees the same settings. Add a check by appending it here.
CHECKS: list[Check] = [check_configuration, check_logrocket, check_highlight, check_cache, check_index]


async def run_checks(settings: Settings, checks: list[Check] | None = None) -> list[Finding]:
    found: list[Finding] = []
    for check in checks if checks is not None else CHECKS:
        found += await check(settings)
    return found


def report(found: list[Finding]) -> tuple[str, int]:
    """The lines to print, and the exit status: 1 when something must be fixed, else 0."""
    problems = sum(f.status == "problem" for f in found)
    warnings = sum(f.status == "warning" for f in found)
    lines = [f.line() for f in found]
    if problems:
        lines.append(f"{problems} problem(s) to fix{f' and {warnings} warning(s)' if warnings else ''}.")
    else:
        lines.append("Everything checked works" + (f" ({warnings} warning(s) above)." if warnings else "."))
    return "\n".join(lines), 1 if problems else 0


def cache_root(settings: Settings) -> Path:
    """Where the export reader keeps its cache (SESSION_REPLAY_MCP_CACHE_DIR, else the user cache directory)."""
    return Path(settings.cache_dir).expanduser() if settings.cache_dir else default_cache_dir()


def _write_and_remove(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-"):
        pass


def _once(settings: Settings) -> Settings:
    """One request per upstream: no retries, and no minute-long wait for an answer."""
    return settings.with_overrides(max_retries=0, upstream_deadline=min(settings.upstream_deadline, 20.0))


def _rest(message: str) -> str:
    """The advice part of a ConfigError's message (after its first sentence)."""
    head, _, rest = message.partition(". ")
    return rest or head
