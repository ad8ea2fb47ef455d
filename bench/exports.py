"""read_session_export on big exports: throughput, memory and follow-up latency, with a baseline in the same run.

    python bench/exports.py [--sizes 10,100,500]

For each size (MB of JSON Lines, SDK-style events with headers and bodies, as the sandbox generates them):
- baseline: read the same file from local disk line by line and orjson.loads every line;
- the tool, end to end: a real server process over stdio downloads the export from the sandbox (its own
  process, on loopback), parses and indexes it, and answers with the digest;
- the server process's peak memory growth during that call (VmHWM after minus VmRSS before);
- a follow-up call on the same export (another focus), answered from the on-disk index.
Targets: throughput >= 0.5x the baseline on 100 MB; memory growth < 64 MB on 500 MB; answers within budget;
follow-up < 5% of the first call.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx2
import orjson
from mcp import Client, StdioServerParameters

from mcp_server.sandbox.world import DEFAULT_APP

SCRIPT = shutil.which("session-replay-mcp", path=str(Path(sys.executable).parent)) or "session-replay-mcp"
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("LOGROCKET_", "SESSION_REPLAY"))}
GENERATED = Path(tempfile.gettempdir()) / "session-replay-mcp-bench-exports"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox() -> tuple[subprocess.Popen[bytes], str, int]:
    port = free_port()
    proc = subprocess.Popen(
        [SCRIPT, "--log-level", "WARNING", "sandbox", "--port", str(port), "--export-cache-dir", str(GENERATED)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx2.get(base + "/", timeout=1)
            return proc, base, port
        except httpx2.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def export_url(base: str, events: int) -> str:
    headers = {"Authorization": f"token {DEFAULT_APP.api_key}"}
    listing = httpx2.get(
        f"{base}/v1/orgs/{DEFAULT_APP.org}/apps/{DEFAULT_APP.app}/data-export/", params={"limit": "48"}, headers=headers
    ).json()
    plain = [s["url"] for s in listing["sessions"] if ".jsonl.gz" not in s["url"]]
    return f"{plain[3]}&events={events}"


def download(url: str, path: Path) -> int:
    """Fetch the export to disk (this also makes the sandbox write it once); return its size."""
    with httpx2.stream("GET", url, timeout=600) as response, path.open("wb") as file:
        response.raise_for_status()
        for chunk in response.iter_raw(1 << 20):
            file.write(chunk)
    return path.stat().st_size


def baseline(path: Path) -> float:
    """Seconds to read the file from disk and orjson.loads every line (best of two)."""
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        with path.open("rb") as file:
            for line in file:
                if line.strip():
                    orjson.loads(line)
        best = min(best, time.perf_counter() - started)
    return best


def proc_status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def server_pid() -> int:
    """The spawned server: our child whose command line says `serve`."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me and b"serve" in cmdline:
            return int(entry.name)
    raise RuntimeError("server process not found")


async def measure(url: str, env: dict[str, str]) -> dict[str, float]:
    params = StdioServerParameters(command=SCRIPT, args=["--log-level", "WARNING", "serve"], env=env)
    async with Client(params, read_timeout_seconds=900) as client:
        await client.call_tool("list_exports", {"limit": 1})
        pid = server_pid()
        rss_before = proc_status(pid, "VmRSS")
        started = time.perf_counter()
        first = await client.call_tool("read_session_export", {"url": url})
        first_s = time.perf_counter() - started
        hwm = proc_status(pid, "VmHWM")
        assert not first.is_error, first.content
        follow = []
        sizes = [len(first.content[0].text)]  # type: ignore[union-attr]
        for focus in ("errors", "network", "console"):
            started = time.perf_counter()
            result = await client.call_tool("read_session_export", {"url": url, "focus": focus})
            follow.append(time.perf_counter() - started)
            sizes.append(len(result.content[0].text))  # type: ignore[union-attr]
        data = first.structured_content or {}
    return {
        "first_s": first_s,
        "bytes": float(data["reading"]["bytes"]),
        "growth": float(hwm - rss_before),
        "follow_s": statistics.median(follow),
        "max_chars": float(max(sizes)),
        "complete": float(data["reading"]["complete"]),
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)  # the SDK configured INFO when the servers were built
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,500", help="export sizes in MB")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    proc, base, port = start_sandbox()
    work = Path(tempfile.mkdtemp(prefix="srm-bench-"))
    try:
        sample = work / "sample.jsonl"
        per_event = download(export_url(base, 20_000), sample) / 20_000
        print(f"sandbox exports: SDK-style events, {per_event:.0f} bytes per event on average")
        print(
            f"{'size':>8} {'baseline':>12} {'tool':>12} {'ratio':>6} {'mem growth':>11} {'1st call':>9} "
            f"{'follow-up':>10} {'share':>7} {'longest answer':>15}"
        )
        for mb in sizes:
            events = int(mb * 1_000_000 / per_event)
            url = export_url(base, events)
            local = work / f"{mb}.jsonl"
            size = download(url, local)
            base_s = baseline(local)
            env = {
                **ENV,
                "LOGROCKET_API_URL": f"{base}/v1",
                "LOGROCKET_API_KEY": DEFAULT_APP.api_key,
                "LOGROCKET_APP_ID": f"{DEFAULT_APP.org}/{DEFAULT_APP.app}",
                "LOGROCKET_EXPORT_ALLOWED_HOSTS": f"127.0.0.1:{port}",
                "SESSION_REPLAY_MCP_CACHE_DIR": str(work / f"cache-{mb}"),
                "SESSION_REPLAY_MCP_CACHE_MAX_BYTES": str(8 << 30),
                "SESSION_REPLAY_MCP_EXPORT_MAX_BYTES": str(4 << 30),
                "SESSION_REPLAY_MCP_EXPORT_TIME_BUDGET": "900",
            }
            m = anyio.run(measure, url, env)
            local.unlink()
            base_mbs = size / 1e6 / base_s
            tool_mbs = m["bytes"] / 1e6 / m["first_s"]
            print(
                f"{size / 1e6:7.0f}M {base_mbs:8.0f} MB/s {tool_mbs:8.0f} MB/s {tool_mbs / base_mbs:6.2f} "
                f"{m['growth'] / 1e6:8.1f} MB {m['first_s']:8.2f}s {m['follow_s'] * 1000:8.0f}ms "
                f"{m['follow_s'] / m['first_s'] * 100:6.2f}% {m['max_chars']:10.0f} chars"
                + ("" if m["complete"] else "  (read incomplete!)")
            )
        print(
            "targets: ratio >= 0.5 at 100 MB; growth < 64 MB at 500 MB; follow-up < 5% of the first call; "
            "answers <= 20,000 characters (the default budget)"
        )
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
