"""Page through one focus file of an indexed export: filters, and cursors that resume exactly.

A cursor records the byte offset just after the last item shown (plus the entry's build tag and a
hash of the filters), so the next page starts with the next item: across pages every matching item
appears exactly once, and a cursor from another build or other filters is refused, not misread.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from mcp_server.errors import InputError
from mcp_server.exports.cache import CorruptEntry, Entry, ExportCache


@dataclass(frozen=True)
class Filters:
    query: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None

    def digest(self, focus: str) -> str:
        return hashlib.sha256(f"{focus}|{self.query}|{self.start_ms}|{self.end_ms}".encode()).hexdigest()[:10]

    @property
    def active(self) -> bool:
        return self.query is not None or self.start_ms is not None or self.end_ms is not None


@dataclass(frozen=True)
class Position:
    offset: int = 0  # byte offset in the focus file
    index: int = 0  # items of the file before that offset (matching or not)
    shown: int = 0  # matching items shown on earlier pages


NOT_OURS = "cursor is not one this tool returned; call again without cursor to start over."


def encode_cursor(entry: Entry, focus: str, filters: Filters, position: Position) -> str:
    raw = orjson.dumps(
        {"t": entry.tag, "h": filters.digest(focus), "o": position.offset, "i": position.index, "s": position.shown}
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, entry: Entry, focus: str, filters: Filters) -> Position:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        tag, digest = data["t"], data["h"]
        position = Position(int(data["o"]), int(data["i"]), int(data["s"]))
    except (ValueError, KeyError, TypeError):
        raise InputError(NOT_OURS) from None
    if min(position.offset, position.index, position.shown) < 0:
        raise InputError(NOT_OURS)
    if digest != filters.digest(focus):
        raise InputError(
            "cursor belongs to another listing (a different focus, query, start or end): pass the same ones as "
            "the call that returned it, or drop the cursor to start over."
        )
    if tag != entry.tag:
        raise InputError(
            "cursor belongs to an earlier read of this export, which has since been re-read: call again without "
            "cursor to start over."
        )
    return position


@dataclass(frozen=True)
class Item:
    data: dict[str, Any]
    after: Position  # where the next page starts if this is the last item shown


def iter_items(cache: ExportCache, entry: Entry, focus: str, filters: Filters, start: Position) -> Iterator[Item]:
    """Matching items from ``start`` on, in file order."""
    name = f"{focus}.jsonl"
    cache.verify(entry, name)
    needle = filters.query.lower() if filters.query else None
    needle_bytes = needle.encode() if needle is not None and needle.isascii() else None
    offset, index, shown = start.offset, start.index, start.shown
    with entry.path(name).open("rb") as file:
        # Cursors are in the caller's hands: one that does not point just after a line end is refused (the
        # file passed its checksum, so a line cut in two would otherwise look like damage, and cost the entry).
        if offset:
            file.seek(offset - 1)
            if file.read(1) != b"\n":
                raise InputError(NOT_OURS)
        file.seek(offset)
        for line in file:
            offset += len(line)
            index += 1
            if needle is not None:
                haystack_ok = (
                    needle_bytes in line.lower()
                    if needle_bytes is not None
                    else (needle in line.decode("utf-8", "replace").lower())
                )
                if not haystack_ok:
                    continue
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise CorruptEntry(f"{name} holds a damaged line") from None
            t = data.get("t")
            if filters.start_ms is not None and (t is None or t < filters.start_ms):
                continue
            if filters.end_ms is not None and (t is None or t > filters.end_ms):
                continue
            shown += 1
            yield Item(data, Position(offset, index, shown))
