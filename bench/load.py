"""N concurrent MCP clients over Streamable HTTP for a fixed time, against a baseline measured in the same run.

    python bench/load.py [--clients 8] [--duration 20] [--workers 2] [--exports 4] [--mode auto|legacy]

Two servers take the same load, one after the other, each in its own process group on loopback:
- baseline: a bare MCPServer with one trivial tool (bench/bare_server.py), served by uvicorn with the SDK's
  stateless Streamable HTTP app and the same number of workers: what MCP over HTTP costs by itself;
- `session-replay-mcp serve --transport streamable-http --stateless --workers W` with a caller token, on
  the sandbox (its own process, as a remote API would be), logging at INFO (one line per tool call).
Each client keeps one MCP session and calls, in turns, list_exports(limit=10) and read_session_export on one
of a few export URLs (every one read once before the clock starts, so reads come from the export cache).
Printed: requests/s, p50/p99 latency per tool, errors, and the server processes' memory (RSS) after the
warm-up, half-way and at the end.
Targets: zero errors; no memory growth in the second half of the run (< 5%).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_server.sandbox.world import DEFAULT_APP

HERE = Path(__file__).parent
SCRIPT = shutil.which("session-replay-mcp", path=str(Path(sys.executable).parent)) or "session-replay-mcp"
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("LOGROCKET_", "HIGHLIGHT_", "SESSION_REPLAY"))}
TOKEN = "load-bench-caller-token-2b7e151628aed2a6"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(command: list[str], env: dict[str, str], ready_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` in its own process group, wait until ``ready_url`` answers, end the group afterwards."""
    with open(log, "wb") as err:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx2.get(ready_url, timeout=1)
                break
            except httpx2.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # not yet reaped, so the group id is still this one's
            proc.wait()


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found = [pid]
    for p in found:
        found += [c for c, parent in parents.items() if parent == p]
    return found


def rss_mb(pids: list[int]) -> dict[str, float]:
    """Resident memory of each process, keyed by its pid and role."""
    out: dict[str, float] = {}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[f"{pid} ({role(pid)})"] = int(line.split()[1]) / 1024
        except OSError:
            pass
    return out


def role(pid: int) -> str:
    """What a server process is: uvicorn's parent, one of its workers, or multiprocessing's resource tracker."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return "gone"
    if "resource_tracker" in command:
        return "tracker"
    return "worker" if "multiprocessing" in command else "parent"


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


async def run_clients(
    url: str,
    headers: dict[str, str],
    calls: list[tuple[str, dict[str, Any]]],
    clients: int,
    seconds: float,
    mode: str,
    tally: Tally,
) -> float:
    """``clients`` sessions calling ``calls`` in turns until ``seconds`` pass; returns the time taken."""
    stop = time.monotonic() + seconds

    async def one(index: int) -> None:
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(streamable_http_client(url, http_client=http), mode=mode) as client,
        ):
            turn = index  # clients start at different points of the rotation
            while time.monotonic() < stop:
                tool, arguments = calls[turn % len(calls)]
                turn += 1
                started = time.perf_counter()
                try:
                    result = await client.call_tool(tool, arguments)
                except Exception as exc:
                    tally.errors.append(f"{tool}: {exc!r}"[:300])
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                if result.is_error:
                    text = " ".join(getattr(b, "text", "") for b in result.content)
                    tally.errors.append(f"{tool}: {text}"[:300])
                else:
                    tally.latencies.setdefault(tool, []).append(elapsed)

    started = time.monotonic()
    async with anyio.create_task_group() as tg:
        for i in range(clients):
            tg.start_soon(one, i)
    return time.monotonic() - started


@dataclass
class Result:
    name: str
    elapsed: float
    tally: Tally
    memory: list[tuple[str, dict[str, float]]]
    warm_up_calls: int


async def measure(
    name: str,
    url: str,
    headers: dict[str, str],
    calls: list[tuple[str, dict[str, Any]]],
    server_pid: int,
    args: argparse.Namespace,
) -> Result:
    warm = Tally()
    await run_clients(url, headers, calls, args.clients, 2.0, args.mode, warm)  # connections, caches, imports
    memory = [("after warm-up", rss_mb(tree(server_pid)))]
    tally = Tally()
    tally.errors += warm.errors
    first = await run_clients(url, headers, calls, args.clients, args.duration / 2, args.mode, tally)
    memory.append(("half-way", rss_mb(tree(server_pid))))
    second = await run_clients(url, headers, calls, args.clients, args.duration / 2, args.mode, tally)
    memory.append(("at the end", rss_mb(tree(server_pid))))
    return Result(name, first + second, tally, memory, sum(len(v) for v in warm.latencies.values()))


def report(result: Result, baseline: Result | None) -> bool:
    """Print one server's figures; False when a target is missed."""
    t = result.tally
    total = sum(len(v) for v in t.latencies.values())
    rps = total / result.elapsed
    line = f"\n{result.name}: {total} calls in {result.elapsed:.1f} s = {rps:.0f} calls/s"
    if baseline is not None:
        base_rps = sum(len(v) for v in baseline.tally.latencies.values()) / baseline.elapsed
        line += f" (x{rps / base_rps:.2f} of the baseline's {base_rps:.0f}/s)"
    print(line)
    for tool, values in sorted(t.latencies.items()):
        q = statistics.quantiles(values, n=100)
        print(f"  {tool:<22} {len(values):6d} calls   p50 {q[49]:7.1f} ms   p99 {q[98]:7.1f} ms")
    print(f"  errors: {len(t.errors)}  [target 0]")
    for error in t.errors[:5]:
        print(f"    {error}")
    print("  server memory (RSS, MB):")
    for label, sample in result.memory:
        parts = "  ".join(f"{name}: {mb:.1f}" for name, mb in sample.items())
        print(f"    {label:<14} total {sum(sample.values()):7.1f}   ({parts})")
    start, half, end = (sum(s.values()) for _, s in result.memory)
    growth = (end - half) / half * 100
    print(
        f"  growth: {end - start:+.1f} MB over the run, {end - half:+.1f} MB ({growth:+.1f}%) over its second half"
        "  [target < 5%]"
    )
    return not t.errors and growth < 5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of measured load per server")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--exports", type=int, default=4, help="distinct export URLs read in turns")
    parser.add_argument("--mode", default="auto", help="MCP client mode: auto (2026-07-28 here) or legacy")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        sandbox_port, bare_port, server_port = free_port(), free_port(), free_port()
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        bare_cmd = [sys.executable, str(HERE / "bare_http.py"), "--port", str(bare_port)]
        bare_cmd += ["--workers", str(args.workers)]
        bare_url = f"http://127.0.0.1:{bare_port}"
        with process(bare_cmd, ENV, f"{bare_url}/", logs / "bare.log") as bare:  # "/" is a quick 404 when up
            echo: list[tuple[str, dict[str, Any]]] = [("echo", {"text": "hello"})]
            baseline = anyio.run(measure, "bare MCPServer (baseline)", f"{bare_url}/mcp", {}, echo, bare.pid, args)

        sandbox_cmd = [SCRIPT, "--log-level", "WARNING", "sandbox", "--port", str(sandbox_port)]
        env = {
            **ENV,
            "LOGROCKET_API_URL": f"{sandbox}/v1",
            "LOGROCKET_API_KEY": DEFAULT_APP.api_key,
            "LOGROCKET_APP_ID": f"{DEFAULT_APP.org}/{DEFAULT_APP.app}",
            "LOGROCKET_EXPORT_ALLOWED_HOSTS": f"127.0.0.1:{sandbox_port}",
            "SESSION_REPLAY_MCP_CACHE_DIR": str(logs / "cache"),
            "SESSION_REPLAY_MCP_AUTH_TOKEN": TOKEN,
        }
        server_cmd = [SCRIPT, "serve", "--transport", "streamable-http", "--stateless"]
        server_cmd += ["--workers", str(args.workers), "--port", str(server_port)]
        with (
            process(sandbox_cmd, ENV, f"{sandbox}/", logs / "sandbox.log"),
            process(server_cmd, env, f"http://127.0.0.1:{server_port}/health", logs / "server.log") as server,
        ):
            url = f"http://127.0.0.1:{server_port}/mcp"
            headers = {"authorization": f"Bearer {TOKEN}"}
            exports = anyio.run(list_urls, url, headers, args.exports)
            calls: list[tuple[str, dict[str, Any]]] = []
            for export in exports:
                calls += [("list_exports", {"limit": 10}), ("read_session_export", {"url": export})]
            ours = anyio.run(measure, "session-replay-mcp", url, headers, calls, server.pid, args)
        answered = (logs / "server.log").read_text().count(" answered in ")

    print(
        f"{args.clients} concurrent MCP clients ({args.mode} mode) over Streamable HTTP, stateless, "
        f"{args.workers} worker(s), {args.duration:g} s of load each, {os.cpu_count()} CPUs shared by clients, "
        "servers and sandbox"
    )
    ok = report(baseline, None)
    ok = report(ours, baseline) and ok
    # Every call a client saw succeed must be one the server logged as answered, and no other.
    seen = sum(len(v) for v in ours.tally.latencies.values()) + ours.warm_up_calls + 1 + len(exports)
    print(f"  tool calls answered: {seen} seen by the clients, {answered} logged by the server's workers")
    sys.exit(0 if ok and seen == answered else 1)


async def list_urls(url: str, headers: dict[str, str], n: int) -> list[str]:
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        listed = await client.call_tool("list_exports", {"limit": n})
        urls = [s["url"] for s in (listed.structured_content or {})["sessions"]]
        for export in urls:  # read each once, so the measured reads are the cached follow-ups
            await client.call_tool("read_session_export", {"url": export})
    return urls


if __name__ == "__main__":
    main()
