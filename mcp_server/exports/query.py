"""Page through one listing file of an indexed export: filters, and cursors that resume exactly.

A cursor records the byte offset just after the last item shown (plus the entry's build tag, a hash
of the listing and filters, and a MAC keyed by the entry's own secret), so the next page starts with
the next item: across pages every matching item appears exactly once, and a cursor from another
build, another listing, or edited by hand is refused with a clear message, never misread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
import orjson

from mcp_server.errors import InputError
from mcp_server.exports.cache import CorruptEntry, Entry, ExportCache
from mcp_server.exports.focus import ROW_TYPES, Row
from mcp_server.timeparse import parse_offset_or_instant

_MAX_COUNT = 10**12  # items before a position: more than any file holds
_FORGED = "cursor is not one this tool returned; call again without cursor to start over."
# Needles that appear in a row's JSON text exactly as typed (no escaping), so raw bytes can be searched.
_VERBATIM = frozenset(map(chr, range(0x20, 0x7F))) - {'"', "\\"}


@dataclass(frozen=True)
class Filters:
    query: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None

    def digest(self, listing: str) -> str:
        return hashlib.sha256(f"{listing}|{self.query}|{self.start_ms}|{self.end_ms}".encode()).hexdigest()[:10]

    @property
    def active(self) -> bool:
        return self.query is not None or self.start_ms is not None or self.end_ms is not None

    @classmethod
    def resolve(
        cls, query: str | None, start: str | int | None, end: str | int | None, first_ms: int | None
    ) -> Filters:
        """Filters from the tool's arguments; offsets count from the session's first event."""
        filters = cls(query, _point(start, "start", first_ms), _point(end, "end", first_ms))
        if filters.start_ms is not None and filters.end_ms is not None and filters.start_ms > filters.end_ms:
            raise InputError("start is after end; swap them or drop one.")
        return filters


def _point(value: str | int | None, field: str, first: int | None) -> int | None:
    if value is None:
        return None
    kind, ms = parse_offset_or_instant(value, field=field)
    if kind == "time":
        return ms
    if first is None:
        raise InputError(f"{field} is an offset, but this export has no timestamps to count from; use a time.")
    return first + ms


@dataclass(frozen=True)
class Position:
    offset: int = 0  # byte offset in the listing file
    index: int = 0  # rows of the file before that offset (matching or not)
    shown: int = 0  # matching rows shown on earlier pages


def _mac(entry: Entry, body: str) -> str:
    secret = str(entry.manifest.get("secret", entry.tag)).encode()
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()[:16]


def encode_cursor(entry: Entry, listing: str, filters: Filters, position: Position) -> str:
    body = f"{entry.tag}|{filters.digest(listing)}|{position.offset}|{position.index}|{position.shown}"
    raw = orjson.dumps(
        {
            "t": entry.tag,
            "h": filters.digest(listing),
            "o": position.offset,
            "i": position.index,
            "s": position.shown,
            "m": _mac(entry, body),
        }
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, entry: Entry, listing: str, filters: Filters) -> Position:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        tag, digest, offset, index, shown, mac = (data[k] for k in ("t", "h", "o", "i", "s", "m"))
    except (ValueError, KeyError, TypeError):
        raise InputError(_FORGED) from None
    if digest != filters.digest(listing):
        raise InputError(
            "cursor belongs to another listing (a different focus, query, start or end): pass the same ones as "
            "the call that returned it, or drop the cursor to start over."
        )
    if tag != entry.tag:
        raise InputError(
            "cursor belongs to an earlier read of this export, which has since been re-read: call again without "
            "cursor to start over."
        )
    numbers = (offset, index, shown)
    if not all(type(n) is int and 0 <= n <= _MAX_COUNT for n in numbers) or not isinstance(mac, str):
        raise InputError(_FORGED)
    if not hmac.compare_digest(mac, _mac(entry, f"{tag}|{digest}|{offset}|{index}|{shown}")):
        raise InputError(_FORGED)
    return Position(offset, index, shown)


def iter_rows(
    cache: ExportCache, entry: Entry, listing: str, filters: Filters, start: Position
) -> Iterator[tuple[Row, Position]]:
    """Matching rows from ``start`` on, in file order, each with the position just after it."""
    name = f"{listing}.jsonl"
    cache.verify(entry, name)
    decode = msgspec.json.Decoder(ROW_TYPES[listing]).decode
    needle = filters.query.lower() if filters.query else None
    raw_needle = needle.encode() if needle is not None and set(needle) <= _VERBATIM else None
    offset, index, shown = start.offset, start.index, start.shown
    with entry.path(name).open("rb") as file:
        file.seek(offset)
        for line in file:
            offset += len(line)
            index += 1
            if raw_needle is not None and raw_needle not in line.lower():
                continue
            try:
                row = decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                raise CorruptEntry(f"{name} holds a damaged line") from None
            if needle is not None and raw_needle is None and needle not in _text_of(row).lower():
                continue
            t = getattr(row, "t", None)
            if filters.start_ms is not None and (t is None or t < filters.start_ms):
                continue
            if filters.end_ms is not None and (t is None or t > filters.end_ms):
                continue
            shown += 1
            yield row, Position(offset, index, shown)


def _text_of(row: Row) -> str:
    parts: list[str] = []
    for value in msgspec.structs.astuple(row):
        if isinstance(value, dict):
            parts.extend(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            parts.extend(map(str, value))
        elif value is not None:
            parts.append(str(value))
    return " ".join(parts)
