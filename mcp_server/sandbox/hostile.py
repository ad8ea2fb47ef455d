"""Hostile export files: content that decides a reader's cost or breaks a naive one, whatever the file's size.

Each is a ``variant=`` of an export file (see ``export_files``). Some add lines to the session's own:

- ``huge-values``: ``count`` custom events (30 by default) whose one property is ``chars`` non-ASCII
  characters (1.9 million by default: 3.8 MB of UTF-8, a line just under a 4 MiB line limit);
- ``bad-values``: every field a reader trusts, with values no reader should trust: times of ``1e999``,
  ``"nan"``, ``1.7e308`` or past 64 bits, statuses of ``"--5"``, ``"²"`` or 5,000 digits, data that is not
  an object, nesting 100,000 levels deep, stringified properties that are not JSON;
- ``open-requests``: ``count`` network requests (100,000 by default) that never get a response;
- ``repeated-exception``: the same exception ``count`` times (500 by default), spread over the session.

Others are whole responses:

- ``blank-bomb``: gzip of a few events, then ``blank_bytes`` (64 MiB by default) of newlines, then the rest
  of the session: a download about 1/1000 of what it decompresses to;
- ``gzip-garbage``: the gzip magic bytes, then noise;
- ``gzip-trailing-garbage``: a complete gzip stream of the session, then noise;
- ``raw-deflate`` / ``zlib-deflate``: the session compressed as raw DEFLATE (what some servers send) or as
  zlib (what RFC 9110 means), labelled ``Content-Encoding: deflate``;
- ``gzip-on-plain``: the plain session labelled ``Content-Encoding: gzip``.
"""

from __future__ import annotations

import functools
import random
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from mcp_server.sandbox.sessions import SyntheticSession, _iso

LINE_VARIANTS = ("huge-values", "bad-values", "open-requests", "repeated-exception")
BODY_VARIANTS = ("blank-bomb", "gzip-garbage", "gzip-trailing-garbage", "raw-deflate", "zlib-deflate", "gzip-on-plain")
HOSTILE_VARIANTS = LINE_VARIANTS + BODY_VARIANTS

DEFAULT_COUNTS = {"huge-values": 30, "open-requests": 100_000, "repeated-exception": 500}
DEFAULT_CHARS = 1_900_000
DEFAULT_BLANK_BYTES = 64 << 20
# Letters from Latin-1, Greek and Cyrillic: two bytes each in UTF-8, so ``chars`` characters are twice the bytes.
_WIDE = "ÄÖÜäöüßéèçñøåæ" + "αβγδεζηθλμπσω" + "жщыэюяфцчшъь"
_HUGE_NAME = "SupportTicketAttached"
_EXCEPTION = ("TypeError", "Cannot read properties of null (reading 'total')")


@dataclass(frozen=True)
class HostileOptions:
    count: int | None = None  # how many hostile events (variant-specific default when None)
    chars: int = DEFAULT_CHARS  # characters of each huge value
    blank_bytes: int = DEFAULT_BLANK_BYTES  # newlines in the gzip bomb

    def count_for(self, variant: str) -> int:
        return self.count if self.count is not None else DEFAULT_COUNTS.get(variant, 0)


def hostile_lines(
    session: SyntheticSession, lines: Iterable[bytes], variant: str, options: HostileOptions
) -> Iterator[bytes]:
    """``lines`` (the session's own) with the hostile ``variant``'s lines mixed in."""
    if variant == "huge-values":
        yield from _spread(lines, _huge_lines(session, options.count_for(variant), options.chars))
    elif variant == "bad-values":
        yield from _spread(lines, _bad_lines(session), every=5)
    elif variant == "open-requests":
        yield from lines
        yield from _open_requests(session, options.count_for(variant))
    elif variant == "repeated-exception":
        yield from _spread(lines, _exceptions(session, options.count_for(variant)), every=1)
    else:
        raise ValueError(f"not a line variant: {variant}")


def hostile_body(
    session: SyntheticSession, lines: Iterable[bytes], variant: str, options: HostileOptions
) -> Iterator[bytes]:
    """The response body of a ``BODY_VARIANTS`` file, piece by piece (``lines`` are streamed, never joined)."""
    noise = random.Random(session.seed).randbytes(64 * 1024)
    if variant == "blank-bomb":
        yield blank_bomb(lines, options.blank_bytes)
    elif variant == "gzip-garbage":
        yield b"\x1f\x8b\x08\x00" + noise
    elif variant == "gzip-trailing-garbage":
        yield from _compressed(lines, wbits=31)
        yield b"this is not gzip\n" + noise
    elif variant == "raw-deflate":
        yield from _compressed(lines, wbits=-15)
    elif variant == "zlib-deflate":
        yield from _compressed(lines, wbits=15)
    elif variant == "gzip-on-plain":
        yield from lines
    else:
        raise ValueError(f"not a body variant: {variant}")


def _compressed(lines: Iterable[bytes], wbits: int) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    for line in lines:
        out = compressor.compress(line)
        if out:
            yield out
    yield compressor.flush()


def body_encoding(variant: str) -> str | None:
    """The ``Content-Encoding`` a body variant is served with (None: whatever the file's name says)."""
    if variant in ("raw-deflate", "zlib-deflate"):
        return "deflate"
    if variant == "gzip-on-plain":
        return "gzip"
    return None


def blank_bomb(lines: Iterable[bytes], blank_bytes: int) -> bytes:
    """gzip of the first few ``lines``, ``blank_bytes`` newlines, then the rest of ``lines``."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    out: list[bytes] = []
    it = iter(lines)
    for _, line in zip(range(20), it, strict=False):
        out.append(compressor.compress(line))
    blank = b"\n" * min(blank_bytes, 1 << 20)
    left = blank_bytes
    while left > 0:
        out.append(compressor.compress(blank[:left]))
        left -= len(blank)
    for line in it:
        out.append(compressor.compress(line))
    out.append(compressor.flush())
    return b"".join(out)


def _spread(lines: Iterable[bytes], extra: Iterator[bytes], every: int = 3) -> Iterator[bytes]:
    """One ``extra`` line after every ``every`` of ``lines``; any left over at the end."""
    for n, line in enumerate(lines, 1):
        yield line
        if n % every == 0:
            more = next(extra, None)
            if more is not None:
                yield more
    yield from extra


@functools.lru_cache(maxsize=2)
def huge_value(chars: int) -> str:
    return (_WIDE * (chars // len(_WIDE) + 1))[:chars]


def _event(session: SyntheticSession, t: int, kind: str, data: dict[str, Any]) -> bytes:
    """One line in the session's shape for an SDK event ``kind`` with ``data`` (shape A: the matching row)."""
    if session.shape == "B":
        return orjson.dumps({"type": kind, "time": t, "data": data}) + b"\n"
    row: dict[str, Any] = {
        "session_id": session.session_id,
        "app_id": f"{session.org}/{session.app}",
        "seq_id": t - session.started_ms,
        "session_time": _iso(t),
        "user_id": session.user.user_id,
    }
    if kind == "lr.CustomEvent":
        strings = {k: [v] for k, v in data["properties"].items()}
        row.update(
            event_type="customEvent",
            custom_event_name=data["name"],
            custom_event_string_properties=orjson.dumps(strings).decode(),
        )
    elif kind == "lr.network.RequestEvent":
        # Streaming rows have responses only: an unanswered request is a response row with no status.
        row.update(event_type="networkResponse", network_response_url=data["url"], network_response_method="GET")
    else:
        row.update(
            event_type="exception",
            exception_type="WINDOW",
            exception_message=f"{data['errorType']}: {data['message']}",
            exception_href=data["browserHref"],
        )
    return orjson.dumps(row) + b"\n"


def _huge_lines(session: SyntheticSession, count: int, chars: int) -> Iterator[bytes]:
    value = huge_value(chars)
    for i in range(count):
        data = {"name": _HUGE_NAME, "properties": {"attachment": value, "ticket": f"T-{1000 + i}"}}
        yield _event(session, session.started_ms + 1000 + i, "lr.CustomEvent", data)


def _open_requests(session: SyntheticSession, count: int) -> Iterator[bytes]:
    for i in range(count):
        data = {"reqId": f"open-{i}", "url": f"{session.api}/api/v2/poll?n={i}", "method": "GET"}
        yield _event(session, session.started_ms + 2000 + i, "lr.network.RequestEvent", data)


def _exceptions(session: SyntheticSession, count: int) -> Iterator[bytes]:
    error_type, message = _EXCEPTION
    for i in range(count):
        data = {"errorType": error_type, "message": message, "browserHref": f"{session.site}/checkout"}
        yield _event(session, session.started_ms + 3000 + 10 * i, "lr.core.Exception", data)


def _bad_lines(session: SyntheticSession) -> Iterator[bytes]:
    """Lines whose envelope is right and whose values are not; each one must be counted, never fatal."""
    for text in _bad_texts(session):
        yield text.encode() + b"\n"


def _bad_texts(session: SyntheticSession) -> Iterator[str]:
    t = session.started_ms + 500
    digits = "9" * 5000
    deep = "[" * 100_000 + "]" * 100_000
    times = ("1e999", '"nan"', "1.7e308", str(2**70), "-1e999", "NaN", '"1795000000000"', "null")
    statuses = ('"--5"', '"\u00b2"', '"²"', f'"{digits}"', digits, "1e999", "-200", "true", "[500]")
    if session.shape == "B":
        for when in times:
            yield f'{{"type":"lr.core.LogEvent","time":{when},"data":{{"logLevel":"LOG","args":["x"]}}}}'
        for status in statuses:
            yield f'{{"type":"lr.network.ResponseEvent","time":{t},"data":{{"reqId":"bad","status":{status}}}}}'
        for data in ('"text"', "null", "[]", "5", '{"reqId":{"a":1},"url":["x"],"method":7,"name":[1]}'):
            for kind in ("lr.network.RequestEvent", "lr.core.Exception", "lr.CustomEvent", "lr.Identify"):
                yield f'{{"type":"{kind}","time":{t},"data":{data}}}'
        yield f'{{"type":"lr.core.LogEvent","time":{t},"data":{{"logLevel":7,"args":{deep}}}}}'
        yield f'{{"type":"lr.CustomEvent","time":{t},"data":{{"name":["x"],"properties":"nope"}}}}'
        yield f'{{"type":{2**70},"time":{t},"data":{{}}}}'
        yield f'{{"type":"lr.core.Exception","time":{t},"data":{{"message":{{"nested":true}},"errorType":5}}}}'
        return
    head = f'{{"session_id":"{session.session_id}","app_id":"{session.org}/{session.app}","user_id":"u"'
    at = '"session_time":"2026-11-18T10:00:00.000Z"'
    for when in (*times, '"2026-13-45T99:99:99Z"', '""'):
        yield f'{head},"event_type":"navigation","session_time":{when},"navigation_href":"/x"}}'
    for status in statuses:
        yield f'{head},"event_type":"networkResponse",{at},"network_response_status":{status}}}'
    for props in ('"not json"', '"[1"', '"' + "[" * 100_000 + '"', '"{\\"a\\":1e999}"', "42", "null"):
        yield (
            f'{head},"event_type":"customEvent",{at},"custom_event_name":"x",'
            f'"custom_event_string_properties":{props},"user_traits":{props}}}'
        )
    yield f'{head},"event_type":"user","seq_id":{2**70},"user_email":{deep}}}'
    yield f'{head},"event_type":["session"],"session_time":{{"a":1}}}}'
