"""Shared fixtures: one sandbox (a real HTTP server on loopback) and MCP clients connected in memory."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_types import CallToolResult

from mcp_server.__main__ import main
from mcp_server.redact import RedactingFilter
from mcp_server.sandbox.app import Sandbox
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.world import SandboxWorld
from mcp_server.server import build_server
from mcp_server.settings import Settings

# A fixed "now" for the synthetic world, so generated sessions (and snapshots) never change.
ANCHOR_MS = 1_795_000_000_000  # 2026-11-18T11:06:40Z
SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: unknown, and so ignored, under -p no:xdist
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: one worker more than there are cores.

    Much of the suite waits (on timeouts it provokes, child processes, sockets), so one extra worker keeps
    the cores busy; more would only repeat collection and module fixtures (measured on 2 cores: 3 workers
    take 50 s, 2 take 75 s, 4 take 60 s).
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or config.option.numprocesses == "logical":
        return None  # asked for explicitly: pytest-xdist's own answer
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores + 1


@pytest.fixture(autouse=True, scope="session")
def _private_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Nothing a test runs writes a session index into the real user's data directory."""
    previous = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("data"))
    yield
    if previous is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = previous


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(Sandbox(SandboxWorld(anchor_ms=ANCHOR_MS, highlights_delay=0.2, history=0))) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    """The shared sandbox, with faults and the request log cleared around each test."""
    sandbox_server.sandbox.faults.clear()
    sandbox_server.sandbox.requests.clear()
    yield sandbox_server
    sandbox_server.sandbox.faults.clear()


@pytest.fixture
def settings(sandbox: SandboxServer, tmp_path: Path) -> Settings:
    """Settings for the sandbox's demo app: a fast retry policy (fault tests take milliseconds), a fresh cache."""
    return sandbox.settings(
        Settings(
            retry_base_delay=0.01,
            read_timeout=2.0,
            cache_dir=str(tmp_path / "cache"),
            index_url=str(tmp_path / "index.db"),
        )
    )


@asynccontextmanager
async def connect(settings: Settings, **client_options: Any) -> AsyncIterator[Client]:
    """An MCP client talking to a freshly built server, in memory."""
    async with Client(build_server(settings), **client_options) as client:
        yield client


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def normalize(text: str) -> str:
    """Make output that embeds the sandbox's port and signing time comparable across runs."""
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    text = re.sub(r"X-Goog-Date=\d{8}T\d{6}Z", "X-Goog-Date=DATE", text)
    return re.sub(r"X-Goog-Signature=[0-9a-f]{64}", "X-Goog-Signature=SIG", text)


def check_snapshot(name: str, actual: str) -> None:
    """Compare with tests/snapshots/<name>; UPDATE_SNAPSHOTS=1 rewrites it (then review the diff)."""
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        if os.environ.get("UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"snapshot {name} did not exist and was written; review it and run again")
    assert actual == path.read_text(encoding="utf-8"), f"output differs from tests/snapshots/{name}"


@pytest.fixture
def captured_logs() -> Iterator[list[str]]:
    """Every log line the process emits during the test, as the server's stderr handler would write it."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@dataclass(frozen=True)
class Ran:
    """What a command run in process ended with, as ``subprocess.run`` would report it."""

    returncode: int
    stdout: str
    stderr: str


# Variables a developer's shell may hold that must not reach the command under test.
OURS = ("LOGROCKET_", "HIGHLIGHT_", "SESSION_REPLAY")


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """``session-replay-mcp <args>`` run in this process (main(), exit status, stdout and stderr), with none of
    our variables set but ``env``: what the console script does, without the cost of starting Python.

    Logging stays pytest's (``configure_logging`` would replace its handlers); ``captured_logs`` sees it.
    """
    monkeypatch.setattr("mcp_server.__main__.configure_logging", lambda *args, **kwargs: None)

    def run(*args: str, env: dict[str, str] | None = None) -> Ran:
        for var in [v for v in os.environ if v.startswith(OURS)]:
            monkeypatch.delenv(var)
        for var, value in (env or {}).items():
            monkeypatch.setenv(var, value)
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exit:
            code = 0 if exit.code is None else exit.code if isinstance(exit.code, int) else 1
        else:
            code = 0
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return run
