"""A large export read on two cores (the parse worker process takes segments) gives the answers and the cache
files of a read on one, and a worker that dies, fails or cannot start costs speed only.

Segments are made small here (``SEGMENT_BYTES``), so that an export of a few hundred KB crosses dozens of
them; the worker is a real child process."""

from __future__ import annotations

import json
import logging
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from mcp_server.exports import parallel, segments
from mcp_server.exports.cache import ExportCache
from mcp_server.exports.reader import ExportReader
from mcp_server.settings import Settings
from tests.conftest import connect, text_of
from tests.export_server import ExportFiles

pytestmark = pytest.mark.anyio
T0 = 1_795_000_000_000
CURSOR = re.compile(r"eyJ[A-Za-z0-9_=-]+")
FOCUSES = ["errors", "network", "console", "navigation", "custom", "user", "timeline", "other"]


@pytest.fixture
def files() -> Iterator[ExportFiles]:
    with ExportFiles() as server:
        yield server


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "SEGMENT_BYTES", 16 << 10)


def session(lines: int, seed: int = 7, *, beacon: bool = False) -> bytes:
    """An ordinary session: pages, requests answered (some failing, some late), logs, repeated errors, custom
    events, an identify call and metadata; with ``beacon``, first a request never answered."""
    rng = random.Random(seed)
    out = [orjson.dumps({"type": "lr.Metadata", "time": T0, "data": {"browser": "Firefox 140", "country": "FR"}})]
    if beacon:
        out.append(orjson.dumps({"type": "lr.network.RequestEvent", "time": T0, "data": {"reqId": "b", "url": "/b"}}))
    for n in range(lines):
        t = T0 + 10 * n
        kind = rng.randrange(10)
        if n == lines // 2:
            data: dict[str, Any] = {"userID": "u-1", "email": "jane@acme.test"}
            out.append(orjson.dumps({"type": "lr.Identify", "time": t, "data": data}))
        elif kind == 0:
            data = {"href": f"https://app.test/{rng.choice('abcd')}"}
            out.append(orjson.dumps({"type": "lr.Navigation", "time": t, "data": data}))
        elif kind in (1, 2, 3):
            req = f"r{n}"
            data = {"reqId": req, "method": "GET", "url": f"https://api.test/{rng.randrange(20)}", "body": "x" * 40}
            out.append(orjson.dumps({"type": "lr.network.RequestEvent", "time": t, "data": data}))
            if kind == 3:  # answered after a few other events, perhaps in the next segment
                filler = {"logLevel": "log", "args": ["waiting"]}
                out += [orjson.dumps({"type": "lr.core.LogEvent", "time": t, "data": filler})] * rng.randrange(4)
            status = rng.choice([200, 200, 200, 404, 500, 0])
            response = {"reqId": req, "status": status, "headers": {"a": "b"}}
            out.append(orjson.dumps({"type": "lr.network.ResponseEvent", "time": t + 5, "data": response}))
        elif kind in (4, 5):
            level = rng.choice(["log", "log", "warn", "error"])
            data = {"logLevel": level, "args": [f"message {rng.randrange(40)}"]}
            out.append(orjson.dumps({"type": "lr.core.LogEvent", "time": t, "data": data}))
        elif kind == 6:
            data = {
                "errorType": "TypeError",
                "message": f"boom {rng.randrange(5)}",
                "browserHref": "https://app.test/x",
            }
            out.append(orjson.dumps({"type": "lr.core.Exception", "time": t, "data": data}))
        elif kind == 7:
            data = {"name": rng.choice(["Paid", "Viewed", "Shared"]), "properties": {"n": n}}
            out.append(orjson.dumps({"type": "lr.CustomEvent", "time": t, "data": data}))
        else:
            out.append(orjson.dumps({"type": "lr.Click", "time": t, "data": {}}))
    return b"\n".join(out) + b"\n"


async def read_all(settings: Settings, url: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Every focus's first page (the digest too) and the cache's listing files, from one fresh server (whose
    parse worker, if it has one, is running before the first read: a read never waits for it)."""
    answers: dict[str, Any] = {}
    async with connect(settings) as client:
        if settings.export_parse_workers:
            await READERS[-1]._worker.warm()
        for focus in [None, *FOCUSES]:
            arguments = {"url": url} if focus is None else {"url": url, "focus": focus, "max_chars": 20_000}
            result = await client.call_tool("read_session_export", arguments)
            assert not result.is_error, text_of(result)
            data = dict(result.structured_content or {})
            reading = data.pop("reading", {})
            # Cursors name the cache entry (and carry its MAC): the same position, another entry.
            answers[focus or "digest"] = CURSOR.sub("<cursor>", json.dumps(data))
            answers[f"{focus}-text"] = CURSOR.sub("<cursor>", text_of(result))
            answers["reading"] = {k: v for k, v in reading.items() if k != "seconds"}
    entry = Path(str(settings.cache_dir)) / ExportCache.key(url)
    return answers, {p.name: p.read_bytes() for p in sorted(entry.glob("*.jsonl"))}


def allowed(settings: Settings, files: ExportFiles, tmp_path: Path, name: str, workers: int) -> Settings:
    return files.allow(settings).with_overrides(cache_dir=str(tmp_path / name), export_parse_workers=workers)


READERS: list[ExportReader] = []


@pytest.fixture(autouse=True)
def readers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each server's export reader, as it is made."""
    original = ExportReader.__init__

    def keep(self: ExportReader, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        READERS.append(self)

    monkeypatch.setattr(ExportReader, "__init__", keep)
    yield
    READERS.clear()


@pytest.fixture
def absorbed(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each segment's fate: True when absorbed (parsed apart, by the worker or alone), False when parsed in turn."""
    fates: list[bool] = []
    original = segments.absorb

    def spy(builder: Any, part: Any) -> bool:
        fates.append(original(builder, part))
        return fates[-1]

    monkeypatch.setattr(parallel, "absorb", spy)
    return fates


async def test_two_cores_give_the_answers_and_files_of_one(
    settings: Settings, files: ExportFiles, tmp_path: Path, small_segments: None, absorbed: list[bool]
) -> None:
    url = files.put("big.jsonl", session(12_000))
    one = await read_all(allowed(settings, files, tmp_path, "one", 0), url)
    assert not absorbed
    absorbed_before = len(absorbed)
    two = await read_all(allowed(settings, files, tmp_path, "two", 1), url)
    assert two == one
    # Segments were parsed apart and absorbed, not only parsed in turn.
    assert sum(absorbed[absorbed_before:]) >= 5, absorbed
    digest = json.loads(one[0]["digest"])["digest"]
    assert digest["counts"]["network"] > 3000 and one[0]["reading"]["complete"]


async def test_a_request_never_answered_sends_the_read_back_to_one_core(
    settings: Settings,
    files: ExportFiles,
    tmp_path: Path,
    small_segments: None,
    absorbed: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every segment after it would be refused (its rows wait behind that request): after a few, the read
    stops parsing segments apart, with the same answers."""
    # At most two segments wait to be absorbed, so that how many are parsed apart before the read goes back
    # to one core does not depend on how fast the worker answers.
    monkeypatch.setattr(parallel, "MAX_PENDING_BYTES", 2 * parallel.SEGMENT_BYTES)
    url = files.put("beacon.jsonl", session(12_000, beacon=True))
    one = await read_all(allowed(settings, files, tmp_path, "one", 0), url)
    two = await read_all(allowed(settings, files, tmp_path, "two", 1), url)
    assert two == one
    assert not any(absorbed)
    # The refused ones, and those parsed apart before the last refusal (waiting, or with the worker).
    assert parallel.MAX_REFUSED <= len(absorbed) <= parallel.MAX_REFUSED + 3
    assert json.loads(one[0]["digest"])["digest"]["counts"]["network"] > 3000


# A worker that answers two segments and exits: the segments it was sent after them get no answer.
DIES_AFTER_TWO = """
import sys
from mcp_server.exports import parse_worker as w
source, sink = sys.stdin.buffer, sys.stdout.buffer
sink.write(w.READY)
sink.flush()
for _ in range(2):
    body = w._read(source, int.from_bytes(w._read(source, 8), "big"))
    sink.write(w.frame(w.parse(body)))
    sink.flush()
"""


async def test_a_worker_that_dies_mid_read_costs_speed_only(
    settings: Settings,
    files: ExportFiles,
    tmp_path: Path,
    small_segments: None,
    absorbed: list[bool],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = files.put("big.jsonl", session(12_000, seed=3))
    one = await read_all(allowed(settings, files, tmp_path, "one", 0), url)
    monkeypatch.setattr(parallel, "_WORKER_COMMAND", [sys.executable, "-c", DIES_AFTER_TWO])
    with caplog.at_level(logging.WARNING, logger="mcp_server.exports.parallel"):
        two = await read_all(allowed(settings, files, tmp_path, "two", 1), url)
    assert two == one
    assert sum(absorbed) >= 2  # its two answers, and the segments parsed here meanwhile
    assert "The export parse worker stopped" in caplog.text


async def test_a_worker_that_cannot_start_costs_speed_only(
    settings: Settings,
    files: ExportFiles,
    tmp_path: Path,
    small_segments: None,
    absorbed: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = files.put("big.jsonl", session(6_000, seed=5))
    one = await read_all(allowed(settings, files, tmp_path, "one", 0), url)
    monkeypatch.setattr(parallel, "_WORKER_COMMAND", [sys.executable, "-c", "raise SystemExit(3)"])
    two = await read_all(allowed(settings, files, tmp_path, "two", 1), url)
    assert two == one
    assert not absorbed  # nothing came back: every segment was parsed in this process


async def test_a_worker_that_cannot_be_spawned_costs_speed_only(
    settings: Settings,
    files: ExportFiles,
    tmp_path: Path,
    small_segments: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = files.put("big.jsonl", session(6_000, seed=9))
    one = await read_all(allowed(settings, files, tmp_path, "one", 0), url)
    monkeypatch.setattr(parallel, "_WORKER_COMMAND", [str(tmp_path / "no-such-python")])
    with caplog.at_level(logging.WARNING, logger="mcp_server.exports.parallel"):
        two = await read_all(allowed(settings, files, tmp_path, "two", 1), url)
    assert two == one
    assert "The export parse worker could not start" in caplog.text


@pytest.mark.parametrize("workers", [1, 0])
async def test_listing_exports_starts_the_worker_for_the_reads_that_follow(settings: Settings, workers: int) -> None:
    async with connect(settings.with_overrides(export_parse_workers=workers)) as client:
        result = await client.call_tool("list_exports", {"limit": 2})
        assert not result.is_error, text_of(result)
        worker = READERS[-1]._worker
        if workers:
            assert worker._process is not None and worker._process.returncode is None
            assert await worker.warm()  # it came up
        else:
            assert worker._process is None
