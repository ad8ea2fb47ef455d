"""A second process that parses segments of a large export, so that one read uses two cores.

Parsing is Python code holding the GIL, so threads would not help: the main process downloads the export,
cuts it into segments of whole lines and sends some here (``python -m mcp_server.exports.parse_worker``);
this process parses each with a ``SegmentBuilder`` and sends back its ``Partial``, which the main process
absorbs in order (segments.py). Frames on both pipes are an 8-byte length and a body. A request is a
1-byte token length, the token (ASCII), three 2-byte counts (``SegmentBuilder.wanted``) and the segment's
lines joined by newlines; an answer is the pickled
``Partial``, or ``None`` when parsing failed (the main process then parses that segment itself). The
process writes one ``READY`` byte once its imports are done, and ends when its input closes.

Only our own child process sends us pickles, over pipes nobody else holds.
"""

from __future__ import annotations

import pickle
import sys
from typing import BinaryIO

from mcp_server.exports.segments import SLICE_LINES, SegmentBuilder

READY = b"R"
PIPE_BYTES = 1 << 20
_LENGTH = 8


def frame(body: bytes | bytearray | memoryview) -> bytes:
    return len(body).to_bytes(_LENGTH, "big") + bytes(body)


def request(token: str, wanted: tuple[int, int, int], blocks: list[bytes]) -> list[bytes]:
    """A segment's request frame, in pieces (written one after another): its blocks of lines, joined."""
    head = bytes([len(token)]) + token.encode() + b"".join(n.to_bytes(2, "big") for n in wanted)
    body = b"\n".join(blocks)
    return [(len(head) + len(body)).to_bytes(_LENGTH, "big"), head, body]


def parse(body: bytes) -> bytes:
    """The answer to one request: the pickled ``Partial`` of its segment, or of ``None``."""
    size = body[0]
    token = body[1 : 1 + size].decode()
    wanted = body[1 + size : 7 + size]
    lines = body[7 + size :].split(b"\n")
    try:
        builder = SegmentBuilder(token, (_int(wanted[0:2]), _int(wanted[2:4]), _int(wanted[4:6])))
        for first in range(0, len(lines), SLICE_LINES):  # the batches the main process would feed
            builder.feed(lines[first : first + SLICE_LINES])
        part = builder.partial()
        part.lines = len(lines)
        return pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a bug, never the content's fault: the main process parses the segment itself
        return pickle.dumps(None)


def _int(data: bytes) -> int:
    return int.from_bytes(data, "big")


def _read(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _widen(*streams: BinaryIO) -> None:
    """Pipes of 1 MiB (Linux; 64 KiB elsewhere): a segment or an answer then crosses in one write, whenever the
    main process's event loop gets to it, instead of one 64 KiB piece per turn of the loop."""
    try:
        import fcntl

        for stream in streams:
            fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError, ValueError):
        pass  # not Linux, or not a pipe, or above /proc/sys/fs/pipe-max-size: slower, not wrong


def serve(source: BinaryIO, sink: BinaryIO) -> None:
    _widen(source, sink)
    sink.write(READY)
    sink.flush()
    while (head := _read(source, _LENGTH)) is not None:
        body = _read(source, int.from_bytes(head, "big"))
        if body is None:
            return
        sink.write(frame(parse(body)))
        sink.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
