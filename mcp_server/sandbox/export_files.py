"""Export files at their own signed URLs, streamed as they are generated (gzip where the name says so).

Extra query parameters (not covered by the signature, like any storage's unsigned parameters) shape
the file for tests and benchmarks:

- ``events=N``: stretch the session to about N events (generated on the fly, never held in memory;
  with ``SandboxWorld.export_cache_dir`` set, written to disk once and then served from there);
- ``variant=broken-lines | binary | huge-line | truncated``: malformed files a reader must survive;
- ``encoding=gzip``: serve gzip with a ``Content-Encoding`` header instead of as a ``.gz`` file.

``GET /_sandbox/redirect?to=URL`` answers 302 to any URL, to test that redirects are checked.
"""

from __future__ import annotations

import os
import random
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from mcp_server.sandbox.sessions import SyntheticSession
from mcp_server.sandbox.world import SandboxWorld

_CHUNK = 64 * 1024
VARIANTS = ("broken-lines", "binary", "huge-line", "truncated")


def routes(world: SandboxWorld) -> list[Route]:
    async def get_file(request: Request) -> Response:
        p = request.path_params
        app = world.app(p["org"], p["app"])
        name: str = p["name"]
        q = request.query_params
        signed_at, ttl, signature = q.get("X-Goog-Date", ""), q.get("X-Goog-Expires", ""), q.get("X-Goog-Signature")
        if not signature or not ttl.isdigit():
            return _xml_error(400, "MissingSecurityHeader", "Your request was missing a required header.")
        if signature != world.sign(request.url.path, signed_at, int(ttl)):
            return _xml_error(403, "SignatureDoesNotMatch", "Access denied.")
        try:
            expires = datetime.strptime(signed_at, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) + timedelta(seconds=int(ttl))
        except ValueError:
            return _xml_error(400, "InvalidArgument", "Invalid argument.")
        if expires < datetime.now(UTC):
            return _xml_error(400, "ExpiredToken", f"Request has expired: {signed_at}")
        session = None
        if app is not None:
            stem = name.removesuffix(".gz").removesuffix(".jsonl")
            rec, _, index = stem.rpartition("-")
            session = app.session(rec, int(index)) if index.isdigit() else None
        if app is None or session is None:
            return _xml_error(404, "NoSuchKey", "The specified key does not exist.")
        target = int(q["events"]) if q.get("events", "").isdigit() else None
        variant = q.get("variant")
        gzipped = name.endswith(".gz") or q.get("encoding") == "gzip"
        headers = {"Content-Encoding": "gzip"} if q.get("encoding") == "gzip" and not name.endswith(".gz") else {}
        media = "application/gzip" if name.endswith(".gz") else "application/jsonl"
        if variant == "truncated":
            return await _truncated(session, gzipped, headers, media)
        if world.export_cache_dir is not None and target is not None:
            path = await anyio.to_thread.run_sync(
                _materialize, world.export_cache_dir, session, target, variant, gzipped
            )
            return FileResponse(path, media_type=media, headers=headers)
        lines = _variant_lines(session, target, variant)
        body = _gzip(lines) if gzipped else _batched(lines)
        return StreamingResponse(body, media_type=media, headers=headers)

    async def redirect(request: Request) -> Response:
        return RedirectResponse(request.query_params.get("to", "/"), status_code=302)

    return [
        Route("/export-files/{org}/{app}/{day}/{name}", get_file, methods=["GET"]),
        Route("/_sandbox/redirect", redirect, methods=["GET"]),
    ]


def _variant_lines(session: SyntheticSession, target: int | None, variant: str | None) -> Iterator[bytes]:
    """The session's lines, with damage mixed in for the malformed variants."""
    rng = random.Random(session.seed ^ 0x5EED)
    for n, line in enumerate(session.lines(target)):
        yield line
        if n == 5 and variant == "broken-lines":
            yield b'{"type":"lr.core.LogEvent","time":1,"data":{"logLevel":"ERR\n'  # cut in the middle
            yield b"this is not json\n"
            yield b"\n"
            yield b"[1, 2, 3]\n"
            yield b'{"type":"lr.performance.Memory","time":' + str(session.started_ms + 1).encode() + b',"data":{}}\n'
            yield b'{"weird":"shape","n":1}\n'
            yield b'{"type":"lr.core.LogEvent","data":{"message":"caf\xe9 latin-1"}}\n'  # not UTF-8
        if n == 5 and variant == "binary":
            yield bytes(rng.getrandbits(8) for _ in range(64 * 1024)) + b"\n"
        if n == 5 and variant == "huge-line":
            body = b"x" * (10 * 1024 * 1024)
            yield b'{"type":"lr.network.ResponseEvent","time":1,"data":{"reqId":"huge","body":"' + body + b'"}}\n'


async def _truncated(session: SyntheticSession, gzipped: bool, headers: dict[str, str], media: str) -> Response:
    """Promise the whole file, send half of it, then end: the connection breaks mid-transfer."""
    data = b"".join(session.lines(None))
    if gzipped:
        data = zlib.compress(data, wbits=31)
    half = data[: len(data) // 2]

    async def body() -> AsyncIterator[bytes]:
        yield half

    return StreamingResponse(body(), media_type=media, headers={**headers, "Content-Length": str(len(data))})


def _materialize(root: Path, session: SyntheticSession, target: int, variant: str | None, gzipped: bool) -> Path:
    """Write a generated export to disk once (benchmarks want the network, not the generator, measured)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{session.recording_id}-{target}-{variant or 'plain'}.jsonl{'.gz' if gzipped else ''}"
    if path.exists():
        return path
    scratch = path.with_suffix(f".{os.getpid()}.part")
    with scratch.open("wb") as file:
        lines = _variant_lines(session, target, variant)
        for chunk in _gzip_sync(lines) if gzipped else _batched_sync(lines):
            file.write(chunk)
    scratch.replace(path)
    return path


def _batched_sync(lines: Iterable[bytes]) -> Iterator[bytes]:
    buffer = bytearray()
    for line in lines:
        buffer += line
        if len(buffer) >= _CHUNK:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def _gzip_sync(lines: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip container
    for chunk in _batched_sync(lines):
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


async def _batched(lines: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in _batched_sync(lines):
        yield chunk


async def _gzip(lines: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in _gzip_sync(lines):
        yield chunk


def _xml_error(status: int, code: str, message: str) -> Response:
    body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return Response(body, status_code=status, media_type="application/xml")
