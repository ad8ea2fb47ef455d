"""The session library's targets: sync throughput and memory, and query latency on a 100,000-session index.

    python bench/library.py [--sessions 1000] [--export-kb 200] [--single-mb 50] [--index-sessions 100000]
                            [--queries 60] [--postgres URL] [--skip-sync] [--skip-queries]
                            [--repeat 1] [--concurrency N] [--work-dir DIR] [--latency MS]

Sync: the sandbox (its own process, on loopback) lists ``--sessions`` exports of about ``--export-kb`` KB each
(SDK lines, half of them gzip), written to disk once and then served from there so the generator is not
measured. The sync (sessions/s, MB/s of export data, peak RSS growth and RSS sampled during it) runs in
this process through the Syncer with the default concurrency, into a fresh SQLite index and export cache.
Baseline, timed in the same run: reading one large export of ``--single-mb`` MB through the same export
reader. Target (issue 13): sync MB/s >= single-export MB/s (ratio >= 1), memory flat. ``--repeat N`` runs the
pair N times (fresh index and cache each time) and reports every ratio and their median. The CPU seconds of
this process and of the sandbox's during each part are printed too: the sandbox shares the machine's cores.
``--latency MS`` makes every export download wait that long for its answer (a sandbox stall fault), as a storage
host far away does: what several downloads at once are for. ``--work-dir`` puts the export cache and index
elsewhere than the temporary directory: a sync still creates one small cache file per export (from a worker
thread, a batch at a time), and on this machine's shared disk creating a file costs from 0.05 to 1.5 ms depending
on the moment and the folder (0.9 ms in /tmp, 0.05 ms under ~/.cache, where a user's cache is).

Queries: an index of ``--index-sessions`` sessions is filled through the index writer with generated facts
(5,000 users over 30 days; errors, failed requests, pages and events drawn from fixed vocabularies), then
find_sessions by user (a random user's email each time) and session_stats(group_by="errors", since="7d")
are called through an MCP client on the server (in memory), and directly on the store: p50 and p90.
Targets (issue 13): find by user p50 < 20 ms, errors since 7d p50 < 200 ms on SQLite; PostgreSQL (with
``--postgres`` or SESSION_REPLAY_MCP_TEST_POSTGRES_URL) reported beside them; index bytes per session.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import anyio
import httpx2

from mcp_server.adapters.logrocket import LogRocketClient
from mcp_server.exports.reader import ExportReader
from mcp_server.library.db import open_database
from mcp_server.library.model import ErrorFact, EventFact, ExportRef, RequestFact, SessionFacts
from mcp_server.library.store import SessionQuery, Store
from mcp_server.library.sync import Syncer
from mcp_server.sandbox.world import DEFAULT_APP
from mcp_server.settings import Settings

MB = 1_000_000
DAY_MS = 86_400_000
WORK = Path(tempfile.gettempdir()) / "session-replay-mcp-bench-library"
RUNS = WORK  # where each run's export cache and index go (--work-dir)


# -- the sandbox process -------------------------------------------------------------------------


def serve_sandbox(port: int, sessions: int, export_bytes: int, cache: Path) -> None:
    from mcp_server.sandbox.app import Sandbox
    from mcp_server.sandbox.server import SandboxServer
    from mcp_server.sandbox.world import SandboxWorld

    world = SandboxWorld(
        sessions_per_app=sessions, history=0, export_cache_dir=cache, export_query={"bytes": str(export_bytes)}
    )
    SandboxServer(Sandbox(world), port=port).serve_forever()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox(sessions: int, export_bytes: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cache = WORK / f"exports-{sessions}-{export_bytes}"
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-sandbox", str(port), str(sessions), str(export_bytes), str(cache)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx2.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc, port
        except httpx2.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the sandbox did not start")


def sandbox_settings(port: int, cache: Path, index: str) -> Settings:
    return Settings(
        logrocket_api_url=f"http://127.0.0.1:{port}/v1",
        logrocket_api_key=DEFAULT_APP.api_key,
        logrocket_app_id=f"{DEFAULT_APP.org}/{DEFAULT_APP.app}",
        export_allowed_hosts=(f"127.0.0.1:{port}",),
        cache_dir=str(cache),
        index_url=index,
        cache_max_bytes=8 << 30,
    )


def cpu_seconds(pid: int | None = None) -> float:
    """User plus system CPU time of a process (this one by default), all its threads."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


# -- sync -----------------------------------------------------------------------------------------


async def listed_urls(settings: Settings) -> list[str]:
    lr = LogRocketClient(settings)
    urls: list[str] = []
    cursor = None
    try:
        while True:
            page = await lr.list_exports(cursor=cursor, limit=100, date_ms=None if cursor else 0 or None)
            urls += [f.url for f in page.files]
            if len(page.files) < 100 or page.cursor in (None, cursor):
                return urls
            cursor = page.cursor
    finally:
        await lr.aclose()


async def warm(urls: list[str]) -> int:
    """Download every file once, so the sandbox writes it to disk (the sync then measures reading, not generating)."""
    total = 0
    limiter = anyio.CapacityLimiter(4)
    async with httpx2.AsyncClient(timeout=300) as client:

        async def one(url: str) -> None:
            nonlocal total
            async with limiter, client.stream("GET", url) as response:
                async for chunk in response.aiter_raw():
                    total += len(chunk)

        async with anyio.create_task_group() as tg:
            for url in urls:
                tg.start_soon(one, url)
    return total


async def measure_sync(args: argparse.Namespace, port: int, sandbox_pid: int, warmed: bool) -> dict[str, float]:
    run = RUNS / f"run-{uuid.uuid4().hex[:8]}"
    settings = sandbox_settings(port, run / "cache", str(run / "index.db"))
    urls = await listed_urls(settings)
    if not warmed:
        print(f"warming {len(urls)} exports (first run only: the sandbox writes them to disk)...", flush=True)
    wire = await warm(urls)
    big = urls[0].replace(f"bytes={args.export_kb * 1000}", f"bytes={args.single_mb * MB}")
    await warm([big])
    concurrency = args.concurrency or settings.sync_concurrency
    if args.latency:  # every export download waits this long before its answer, as a distant storage host does
        stall = {"kind": "stall", "seconds": args.latency / 1000, "path": "/export-files/", "times": 10_000_000}
        httpx2.post(f"http://127.0.0.1:{port}/_sandbox/faults", json=[stall]).raise_for_status()

    store = Store(open_database(settings.index_url, Path("unused")))
    lr = LogRocketClient(settings)
    reader = ExportReader(settings)
    samples: list[int] = []
    before = rss()
    done = anyio.Event()

    async def sample() -> None:
        while not done.is_set():
            samples.append(rss())
            await anyio.sleep(0.5)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(sample)
            own, theirs = cpu_seconds(), cpu_seconds(sandbox_pid)
            started = time.perf_counter()
            outcome = await Syncer(store, lr, reader, concurrency=concurrency).run(since_ms=0 or None)
            sync_seconds = time.perf_counter() - started
            sync_cpu, sandbox_sync_cpu = cpu_seconds() - own, cpu_seconds(sandbox_pid) - theirs
            done.set()
        peak = rss("VmHWM")
        # Baseline: one large export through the same reader (fresh cache entry).
        own, theirs = cpu_seconds(), cpu_seconds(sandbox_pid)
        started = time.perf_counter()
        opened = await reader.open(big)
        single_seconds = time.perf_counter() - started
        single_cpu, sandbox_single_cpu = cpu_seconds() - own, cpu_seconds(sandbox_pid) - theirs
        single_bytes = opened.summary.reading.bytes
    finally:
        await reader.aclose()
        await lr.aclose()
        store.close()
        shutil.rmtree(run, ignore_errors=True)
        if args.latency:
            httpx2.delete(f"http://127.0.0.1:{port}/_sandbox/faults").raise_for_status()
    p = outcome.progress
    steady = samples[len(samples) // 4 :] or samples
    return {
        "concurrency": concurrency,
        "sync_cpu": sync_cpu,
        "sandbox_sync_cpu": sandbox_sync_cpu,
        "single_cpu": single_cpu,
        "sandbox_single_cpu": sandbox_single_cpu,
        "sessions": p.indexed,
        "failed": p.failed,
        "seconds": sync_seconds,
        "sessions_per_s": p.indexed / sync_seconds,
        "mb_per_s": p.bytes / MB / sync_seconds,
        "data_mb": p.bytes / MB,
        "wire_mb": wire / MB,
        "single_mb_per_s": single_bytes / MB / single_seconds,
        "single_mb": single_bytes / MB,
        "growth_mb": (peak - before) / MB,
        "rss_steady_min_mb": min(steady) / MB,
        "rss_steady_max_mb": max(steady) / MB,
    }


# -- queries --------------------------------------------------------------------------------------

_ERRORS = [
    (t, f"{m} #{i}")
    for i in range(60)
    for t, m in (
        ("TypeError", "Cannot read properties of undefined (reading 'id')"),
        ("ReferenceError", "analytics is not defined"),
        ("PaymentDeclinedError", "Card declined"),
        ("Error", "Request failed with status code 500"),
        ("RangeError", "Maximum call stack size exceeded"),
    )
]
_ENDPOINTS = [("GET", "/api/v2/projects/{}"), ("POST", "/api/v2/orders/{}/pay"), ("GET", "/api/v2/reports/weekly")]
_PAGES = ["/dashboard", "/projects/{}", "/projects/{}/settings", "/settings/billing", "/checkout", "/orders/{}"]
_EVENTS = ["CheckoutStarted", "PurchaseComplete", "InviteSent", "ReportExported", "ProjectCreated"]


def generated_facts(n: int, now: int, seed: int = 13) -> list[SessionFacts]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        u = rng.randrange(5000)
        started = now - rng.randrange(30 * DAY_MS)
        ident = rng.randrange(10**6)
        out.append(
            SessionFacts(
                app="acme/web",
                session_id=f"{rng.randint(1, 9)}-{uuid.UUID(int=rng.getrandbits(128), version=4)}/0",
                export=ExportRef(f"https://storage.example/exports/{i}.jsonl?sig=x", now + 6 * 3600_000, str(i), None),
                started_ms=started,
                ended_ms=started + rng.randrange(60_000, 3_600_000),
                user_id=f"u-{u}",
                user_name=f"User Number {u}",
                user_email=f"user{u}@example.com",
                traits={"plan": rng.choice(["free", "pro", "team"])},
                device={"browser": "Chrome 131"},
                pages=tuple(
                    f"https://app.example.com{rng.choice(_PAGES).format(ident)}" for _ in range(rng.randint(2, 6))
                ),
                pages_total=rng.randint(2, 20),
                events=rng.randint(50, 3000),
                errors=rng.randint(0, 6),
                failed_requests=rng.randint(0, 4),
                error_list=tuple(
                    ErrorFact(*rng.choice(_ERRORS), rng.randint(1, 5), rng.randrange(600_000), None)
                    for _ in range(rng.choice([0, 0, 1, 1, 2, 3]))
                ),
                requests=tuple(
                    RequestFact(m, f"https://api.example.com{p.format(ident)}", rng.choice([500, 404, 0]), 1)
                    for m, p in rng.sample(_ENDPOINTS, rng.choice([0, 0, 1, 2]))
                ),
                custom=tuple(EventFact(name, rng.randint(1, 3)) for name in rng.sample(_EVENTS, rng.randint(0, 2))),
            )
        )
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure_queries(url: str, args: argparse.Namespace) -> dict[str, float]:
    from mcp import Client

    from mcp_server.server import build_server

    now = int(time.time() * 1000)
    store = Store(open_database(url, WORK / "unused.db"))
    facts = generated_facts(args.index_sessions, now)
    started = time.perf_counter()
    for i in range(0, len(facts), 1000):
        store.put_many(facts[i : i + 1000], now)
    fill = time.perf_counter() - started
    rng = random.Random(7)
    users = [f"user{rng.randrange(5000)}@example.com" for _ in range(args.queries)]
    direct_find, direct_stats, tool_find, tool_stats = [], [], [], []
    for email in users:
        t = time.perf_counter()
        store.find(SessionQuery(user=email), after=None, limit=21)
        direct_find.append(time.perf_counter() - t)
    for _ in range(max(5, args.queries // 5)):
        t = time.perf_counter()
        store.stats("errors", SessionQuery(since_ms=now - 7 * DAY_MS), limit=10)
        direct_stats.append(time.perf_counter() - t)
    size = store.db.size_bytes()
    store.close()
    async with Client(build_server(Settings(index_url=url))) as client:
        await client.call_tool("find_sessions", {"user": users[0]})  # opens the index
        for email in users:
            t = time.perf_counter()
            result = await client.call_tool("find_sessions", {"user": email})
            tool_find.append(time.perf_counter() - t)
            assert not result.is_error
        for _ in range(max(5, args.queries // 5)):
            t = time.perf_counter()
            result = await client.call_tool("session_stats", {"group_by": "errors", "since": "7d"})
            tool_stats.append(time.perf_counter() - t)
            assert not result.is_error
    return {
        "fill_sessions_per_s": len(facts) / fill,
        "find_p50_ms": statistics.median(tool_find) * 1000,
        "find_p90_ms": percentile(tool_find, 0.9) * 1000,
        "find_store_p50_ms": statistics.median(direct_find) * 1000,
        "stats_p50_ms": statistics.median(tool_stats) * 1000,
        "stats_p90_ms": percentile(tool_stats, 0.9) * 1000,
        "stats_store_p50_ms": statistics.median(direct_stats) * 1000,
        "bytes_per_session": size / len(facts),
    }


def postgres_schema_url(base: str) -> tuple[str, str]:
    import psycopg

    schema = f"srm_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}", schema


def drop_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def verdict(claim: str, met: bool) -> str:
    return f"  {'MET ' if met else 'MISS'} {claim}"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-sandbox":
        logging.disable(logging.CRITICAL)
        serve_sandbox(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--export-kb", type=int, default=200)
    parser.add_argument("--single-mb", type=int, default=50)
    parser.add_argument("--index-sessions", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--postgres", default=os.environ.get("SESSION_REPLAY_MCP_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-sync", action="store_true")
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="sync/single pairs to run (the median ratio is judged)")
    parser.add_argument("--concurrency", type=int, default=0, help="downloads at once (default: the setting's)")
    parser.add_argument("--work-dir", type=Path, default=None, help="where the export cache and index go")
    parser.add_argument(
        "--latency", type=float, default=0, help="ms each export download waits for its answer (a distant host)"
    )
    args = parser.parse_args()
    logging.disable(logging.INFO)
    WORK.mkdir(parents=True, exist_ok=True)
    global RUNS
    RUNS = args.work_dir or WORK
    RUNS.mkdir(parents=True, exist_ok=True)
    verdicts: list[str] = []
    if not args.skip_sync:
        proc, port = start_sandbox(args.sessions, args.export_kb * 1000)
        runs = []
        try:
            for i in range(max(1, args.repeat)):
                runs.append(anyio.run(measure_sync, args, port, proc.pid, i > 0))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        ratios = []
        for s in runs:
            ratio = s["mb_per_s"] / s["single_mb_per_s"]
            ratios.append(ratio)
            print(
                f"sync: {s['sessions']:.0f} exports ({s['failed']:.0f} failed), {s['data_mb']:.0f} MB of export data "
                f"({s['wire_mb']:.0f} MB on the wire) in {s['seconds']:.1f} s, {s['concurrency']:.0f} downloads at "
                f"once: {s['sessions_per_s']:.1f} sessions/s, {s['mb_per_s']:.1f} MB/s (CPU: this process "
                f"{s['sync_cpu']:.1f} s, the sandbox {s['sandbox_sync_cpu']:.1f} s)"
            )
            print(
                f"baseline: one {s['single_mb']:.0f} MB export through the same reader: {s['single_mb_per_s']:.1f} "
                f"MB/s (CPU: this process {s['single_cpu']:.2f} s, the sandbox {s['sandbox_single_cpu']:.2f} s); "
                f"ratio sync/single = {ratio:.2f}"
            )
            # What this machine allows at best: the sync must parse the same bytes (at the single read's CPU
            # per MB, an underestimate when some exports are gzip) while the sandbox serves them on the same
            # cores. Even with nothing else to do and every core busy, it could not beat this.
            cores = len(os.sched_getaffinity(0))
            parse_cpu = s["single_cpu"] / s["single_mb"] * s["data_mb"]
            ceiling = s["data_mb"] / ((parse_cpu + s["sandbox_sync_cpu"]) / cores)
            print(
                f"bound here: parsing {s['data_mb']:.0f} MB costs {parse_cpu:.2f} s of CPU at the single read's rate "
                f"and serving the exports cost the sandbox {s['sandbox_sync_cpu']:.2f} s, so on {cores} cores a sync "
                f"with no other cost would reach at most {ceiling:.0f} MB/s "
                f"(ratio {ceiling / s['single_mb_per_s']:.2f}); the sync reached {s['mb_per_s'] / ceiling:.0%} of "
                f"that, spending {(s['sync_cpu'] - parse_cpu) / max(s['sessions'], 1) * 1000:.2f} ms of CPU per export "
                "beyond parsing"
            )
            print(
                f"memory: peak RSS growth {s['growth_mb']:.0f} MB; RSS during the sync (after the first quarter) "
                f"{s['rss_steady_min_mb']:.0f} to {s['rss_steady_max_mb']:.0f} MB"
            )
        ratio = statistics.median(ratios)
        if len(runs) > 1:
            print(
                f"median of {len(runs)}: sync {statistics.median(s['mb_per_s'] for s in runs):.1f} MB/s "
                f"({statistics.median(s['sessions_per_s'] for s in runs):.1f} sessions/s), single "
                f"{statistics.median(s['single_mb_per_s'] for s in runs):.1f} MB/s, ratio {ratio:.2f} "
                f"(ratios {', '.join(f'{r:.2f}' for r in ratios)})"
            )
        verdicts.append(verdict(f"sync MB/s >= one large export's MB/s (median ratio {ratio:.2f})", ratio >= 1))
        flat = max(s["rss_steady_max_mb"] - s["rss_steady_min_mb"] for s in runs)
        verdicts.append(verdict(f"memory flat during the sync (varies by {flat:.0f} MB at most)", flat < 64))
    if not args.skip_queries:
        backends: list[tuple[str, str, str | None]] = [("sqlite", str(WORK / f"index-{uuid.uuid4().hex[:8]}.db"), None)]
        if args.postgres:
            pg_url, pg_schema = postgres_schema_url(args.postgres)
            backends.append(("postgresql", pg_url, pg_schema))
        for name, url, schema in backends:
            try:
                q = anyio.run(measure_queries, url, args)
            finally:
                if schema is not None:
                    drop_schema(args.postgres, schema)
                else:
                    for suffix in ("", "-wal", "-shm"):
                        Path(url + suffix).unlink(missing_ok=True)
            print(
                f"{name}, {args.index_sessions:,} sessions (written at {q['fill_sessions_per_s']:,.0f} sessions/s), "
                f"{q['bytes_per_session']:,.0f} bytes per session:"
            )
            print(
                f"  find_sessions(user=email): p50 {q['find_p50_ms']:.1f} ms, p90 {q['find_p90_ms']:.1f} ms "
                f"(store alone p50 {q['find_store_p50_ms']:.1f} ms)"
            )
            print(
                f"  session_stats(group_by='errors', since='7d'): p50 {q['stats_p50_ms']:.1f} ms, "
                f"p90 {q['stats_p90_ms']:.1f} ms (store alone p50 {q['stats_store_p50_ms']:.1f} ms)"
            )
            if name == "sqlite":
                verdicts.append(verdict(f"find by user p50 < 20 ms ({q['find_p50_ms']:.1f})", q["find_p50_ms"] < 20))
                verdicts.append(
                    verdict(f"errors since 7d p50 < 200 ms ({q['stats_p50_ms']:.1f})", q["stats_p50_ms"] < 200)
                )
    print("targets (issue 13):")
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
