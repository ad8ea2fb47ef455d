"""Export files at their own signed URLs, streamed as they are generated (gzip where the name says so).

Extra query parameters (not covered by the signature, like any storage's unsigned parameters) shape
the file for tests and benchmarks:

- ``events=N``: stretch the session to about N events (generated on the fly, never held in memory;
  with ``SandboxWorld.export_cache_dir`` set, written to disk once and then served from there);
- ``variant=broken-lines | binary | huge-line | truncated``: malformed files a reader must survive;
- ``encoding=gzip``: serve gzip with a ``Content-Encoding`` header instead of as a ``.gz`` file;
- ``profile=standard | small``: the size of the lines (see ``line_profiles``: about 600 or 240 bytes);
- ``bytes=N``: stretch the session to N bytes of JSON Lines (within one line; instead of ``events``);
- hostile content (see ``hostile``): ``variant=huge-values | bad-values | open-requests | repeated-exception``
  (lines mixed into the session's) or ``variant=blank-bomb | gzip-garbage | gzip-trailing-garbage |
  raw-deflate | zlib-deflate | gzip-on-plain`` (whole bodies), tuned by ``count``, ``chars`` and ``blank_bytes``.

``GET /_sandbox/redirect?to=URL`` answers 302 to any URL, to test that redirects are checked.
"""

from __future__ import annotations

import os
import random
import threading
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from mcp_server.sandbox.hostile import (
    BODY_VARIANTS,
    DEFAULT_BLANK_BYTES,
    DEFAULT_CHARS,
    HOSTILE_VARIANTS,
    LINE_VARIANTS,
    HostileOptions,
    body_encoding,
    hostile_body,
    hostile_lines,
)
from mcp_server.sandbox.line_profiles import PROFILES, Profile, profile_lines, sized_lines
from mcp_server.sandbox.sessions import SyntheticSession
from mcp_server.sandbox.world import SandboxWorld

_CHUNK = 64 * 1024
_MEMO_EVENTS = 20_000  # files asked for with more events than this are never held whole
# Bump when generated lines change, so that files written to an export cache directory before are not served.
GENERATOR_VERSION = 3  # 3: gzip level 1
VARIANTS = ("broken-lines", "binary", "huge-line", "truncated", *HOSTILE_VARIANTS)
# Bounds on the shaping parameters: generous for benchmarks, but a typo must not make the sandbox spin for hours.
_MAX_BYTES = 64 << 30
_MAX_COUNT = 10_000_000
_MAX_CHARS = 64 << 20


@dataclass(frozen=True)
class Shaping:
    """How a request asks the file to be shaped (the unsigned query parameters)."""

    target: int | None = None  # events
    size: int | None = None  # bytes
    profile: Profile = "standard"
    variant: str | None = None
    hostile: HostileOptions = field(default_factory=HostileOptions)

    def lines(self, session: SyntheticSession) -> Iterator[bytes]:
        """The session's lines in this profile and size, without the variant's damage."""
        if self.size is not None:
            return sized_lines(session, self.size, self.profile)
        return profile_lines(session, self.target, self.profile)

    def file_stem(self, session: SyntheticSession) -> str:
        """A name that differs whenever the bytes would (files written by an older generator included)."""
        h = self.hostile
        parts = [f"g{GENERATOR_VERSION}", session.recording_id, str(self.target), str(self.size), self.profile]
        parts.append(self.variant or "plain")
        if self.variant in HOSTILE_VARIANTS:
            parts += [str(h.count_for(self.variant)), str(h.chars), str(h.blank_bytes)]
        return "-".join(parts)


def shaping(query: Mapping[str, str]) -> Shaping | str:
    """The shaping parameters of a request, or what is wrong with them."""
    numbers: dict[str, int | None] = {}
    for name, top in (("events", _MAX_COUNT), ("bytes", _MAX_BYTES), ("count", _MAX_COUNT), ("chars", _MAX_CHARS)):
        raw = query.get(name, "")
        # Not a number: ignored, as a storage server ignores unsigned parameters it does not know.
        numbers[name] = min(int(raw), top) if raw.isdigit() else None
    raw_blank = query.get("blank_bytes", "")
    blank = min(int(raw_blank), _MAX_BYTES) if raw_blank.isdigit() else DEFAULT_BLANK_BYTES
    profile = query.get("profile", "standard")
    if profile not in PROFILES:
        return f"profile must be one of {', '.join(PROFILES)}"
    variant = query.get("variant")
    if variant is not None and variant not in VARIANTS:
        # A misspelt variant would otherwise serve a healthy file, and a test of it would prove nothing.
        return f"variant must be one of {', '.join(VARIANTS)}"
    hostile = HostileOptions(numbers["count"], numbers["chars"] or DEFAULT_CHARS, blank)
    return Shaping(numbers["events"], numbers["bytes"], profile, variant, hostile)


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
        shape = shaping(q)
        if isinstance(shape, str):
            return _xml_error(400, "InvalidArgument", f"Invalid argument: {shape}.")
        variant = shape.variant
        gzipped = name.endswith(".gz") or q.get("encoding") == "gzip"
        headers = {"Content-Encoding": "gzip"} if q.get("encoding") == "gzip" and not name.endswith(".gz") else {}
        media = "application/gzip" if name.endswith(".gz") else "application/jsonl"
        if variant == "truncated":
            return await _truncated(session, gzipped, headers, media)
        if variant in BODY_VARIANTS:
            return await _hostile_body(session, shape, name, headers, media)
        if world.export_cache_dir is not None and (shape.target is not None or shape.size is not None):
            stored = await anyio.to_thread.run_sync(_stored, world.export_cache_dir, session, shape, gzipped)
            if isinstance(stored, bytes):
                return Response(stored, media_type=media, headers=headers)
            return _LargeFile(stored, media_type=media, headers=headers)
        if variant is None and shape.size is None and (shape.target or 0) <= _MEMO_EVENTS:
            # An ordinary file: generated once, then served from memory (a sync or a test reads it again and
            # again). Sized or long files can be huge and are streamed as they are generated, every time.
            memo_key = (request.url.path, shape.file_stem(session), gzipped)
            body_bytes = world.export_memo.get(memo_key)
            if body_bytes is None:  # made in a thread: the sandbox keeps answering other requests meanwhile
                body_bytes = await anyio.to_thread.run_sync(_whole_file, session, shape, gzipped)
                world.export_memo.put(memo_key, body_bytes)
            return StreamingResponse(_pieces(body_bytes), media_type=media, headers=headers)  # chunked, as before
        lines = _variant_lines(session, shape)
        return StreamingResponse(_streamed(lines, gzipped), media_type=media, headers=headers)

    async def redirect(request: Request) -> Response:
        return RedirectResponse(request.query_params.get("to", "/"), status_code=302)

    return [
        Route("/export-files/{org}/{app}/{day}/{name}", get_file, methods=["GET"]),
        Route("/_sandbox/redirect", redirect, methods=["GET"]),
    ]


def _variant_lines(session: SyntheticSession, shape: Shaping) -> Iterator[bytes]:
    """The session's lines, with damage mixed in for the malformed and hostile variants."""
    variant = shape.variant
    if variant in LINE_VARIANTS:
        yield from hostile_lines(session, shape.lines(session), variant, shape.hostile)
        return
    rng = random.Random(session.seed ^ 0x5EED)
    for n, line in enumerate(shape.lines(session)):
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


async def _hostile_body(
    session: SyntheticSession, shape: Shaping, name: str, headers: dict[str, str], media: str
) -> Response:
    assert shape.variant is not None
    variant = shape.variant
    encoding = body_encoding(variant)
    if encoding is not None:
        headers = {**headers, "Content-Encoding": encoding}
    elif variant in ("blank-bomb", "gzip-trailing-garbage") and not name.endswith(".gz"):
        headers = {**headers, "Content-Encoding": "gzip"}  # gzip either way: say so when the name does not
    if variant == "blank-bomb":
        bomb = await anyio.to_thread.run_sync(_bomb, session, shape)
        return Response(bomb, media_type=media, headers=headers)
    body = hostile_body(session, shape.lines(session), variant, shape.hostile)
    return StreamingResponse(_batched_sync(body), media_type=media, headers=headers)


def _bomb(session: SyntheticSession, shape: Shaping) -> bytes:
    """Made once per (session, shaping) and kept: it is small, and a benchmark downloads it many times."""
    key = f"{session.org}/{session.app}/{shape.file_stem(session)}"
    with _BOMBS_LOCK:
        bomb = _BOMBS.get(key)
    if bomb is None:
        bomb = b"".join(hostile_body(session, shape.lines(session), "blank-bomb", shape.hostile))
        with _BOMBS_LOCK:
            _BOMBS[key] = bomb
            while len(_BOMBS) > 4:
                del _BOMBS[next(iter(_BOMBS))]
    return bomb


_BOMBS: dict[str, bytes] = {}
_BOMBS_LOCK = threading.Lock()


async def _truncated(session: SyntheticSession, gzipped: bool, headers: dict[str, str], media: str) -> Response:
    """Promise the whole file, send half of it, then end: the connection breaks mid-transfer."""
    data = b"".join(session.lines(None))
    if gzipped:
        data = zlib.compress(data, wbits=31)
    half = data[: len(data) // 2]

    async def body() -> AsyncIterator[bytes]:
        yield half

    return StreamingResponse(body(), media_type=media, headers={**headers, "Content-Length": str(len(data))})


_IN_ONE_PIECE = 1 << 20


class _LargeFile(FileResponse):
    """A stored export sent in pieces of 1 MB, not starlette's 64 KB: each piece is a thread hop and a trip through
    the HTTP server, which held a benchmark's 100 MB download to about 200 MB/s, slower than parsing it."""

    chunk_size = _IN_ONE_PIECE


def _stored(root: Path, session: SyntheticSession, shape: Shaping, gzipped: bool) -> Path | bytes:
    """The file written once, and read now when it is small: one thread hop per request instead of a FileResponse's
    half a dozen (stat, open, each 64 KB read, close), which made the emulator, not the client, what a benchmark of
    many small exports measured."""
    path = _materialize(root, session, shape, gzipped)
    if path.stat().st_size <= _IN_ONE_PIECE:
        return path.read_bytes()
    return path


def _materialize(root: Path, session: SyntheticSession, shape: Shaping, gzipped: bool) -> Path:
    """Write a generated export to disk once (benchmarks want the network, not the generator, measured)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{shape.file_stem(session)}.jsonl{'.gz' if gzipped else ''}"
    if path.exists():
        return path
    scratch = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
    with scratch.open("wb") as file:
        lines = _variant_lines(session, shape)
        for chunk in _file_chunks(lines, gzipped):
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
    # Level 1, the fastest: level 6 costs 2.4 times the CPU for files a third smaller, which nothing here needs.
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: gzip container
    for chunk in _batched_sync(lines):
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


def _whole_file(session: SyntheticSession, shape: Shaping, gzipped: bool) -> bytes:
    return b"".join(_file_chunks(shape.lines(session), gzipped))


async def _pieces(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), _CHUNK):
        yield body[start : start + _CHUNK]


def _file_chunks(lines: Iterable[bytes], gzipped: bool) -> Iterator[bytes]:
    """The file's bytes in pieces of about _CHUNK, gzipped or plain."""
    return _gzip_sync(lines) if gzipped else _batched_sync(lines)


async def _streamed(lines: Iterable[bytes], gzipped: bool) -> AsyncIterator[bytes]:
    for chunk in _file_chunks(lines, gzipped):
        yield chunk


def _xml_error(status: int, code: str, message: str) -> Response:
    body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return Response(body, status_code=status, media_type="application/xml")
