"""Run ``session-replay-mcp serve`` over HTTP in its own process group, wait for /health, always clean up."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx2

from tests.test_transports import CLEAN_ENV, SCRIPT, free_port

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@dataclass
class Served:
    base: str
    process: subprocess.Popen[bytes]
    # What the server wrote, read once it has stopped.
    stdout: str = ""
    stderr: str = ""
    log_path: str = field(default="", repr=False)

    def log_so_far(self) -> str:
        """What the server has written to stderr until now (it keeps running)."""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


@contextmanager
def serve(
    *args: str, env: Mapping[str, str] | None = None, log_level: str = "INFO", port: int | None = None
) -> Iterator[Served]:
    """``serve <args> --port P`` with a clean environment plus ``env``; yields once ``GET /health`` answers."""
    port = port or free_port()
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile() as err:
        # A file, not a pipe: a chatty server must never block on a full pipe nobody reads.
        process = subprocess.Popen(
            [SCRIPT, "--log-level", log_level, "serve", *args, "--port", str(port)],
            env={**CLEAN_ENV, **(env or {})},
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: workers go down with it, whatever happens
        )
        served = Served(f"http://127.0.0.1:{port}", process, log_path=err.name)
        try:
            _wait_for_health(served, err)
            yield served
        finally:
            _stop(process)
            out.seek(0)
            err.seek(0)
            served.stdout = out.read().decode(errors="replace")
            served.stderr = err.read().decode(errors="replace")


def _wait_for_health(served: Served, err: tempfile._TemporaryFileWrapper[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx2.get(f"{served.base}/health", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        if _exited(served.process) or time.monotonic() > deadline:
            err.seek(0)
            raise RuntimeError(f"server did not start: {err.read().decode(errors='replace')}")
        time.sleep(0.05)


def _exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether it ended, without reaping it: while unreaped, its pid (and so its process group id) stays ours."""
    if process.returncode is not None:
        return True
    return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _stop(process: subprocess.Popen[bytes]) -> None:
    if not _exited(process):
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        else:
            return  # uvicorn's parent process waits for its workers before it exits
    if process.returncode is None:
        # Hung, or ended on its own and not yet reaped: end what is left of the group it leads.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: the parent pid is the 2nd field after it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry))
    return found
