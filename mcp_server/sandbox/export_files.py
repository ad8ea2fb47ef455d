"""Export files at their own signed URLs, streamed as they are generated (gzip where the name says so)."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mcp_server.sandbox.world import SandboxWorld

_CHUNK = 64 * 1024


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
        lines = session.lines(target)
        if name.endswith(".gz"):
            return StreamingResponse(_gzip(lines), media_type="application/gzip")
        return StreamingResponse(_batched(lines), media_type="application/jsonl")

    return [Route("/export-files/{org}/{app}/{day}/{name}", get_file, methods=["GET"])]


async def _batched(lines: Iterator[bytes]) -> AsyncIterator[bytes]:
    buffer = bytearray()
    for line in lines:
        buffer += line
        if len(buffer) >= _CHUNK:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


async def _gzip(lines: Iterator[bytes]) -> AsyncIterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip container
    async for chunk in _batched(lines):
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


def _xml_error(status: int, code: str, message: str) -> Response:
    body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return Response(body, status_code=status, media_type="application/xml")
