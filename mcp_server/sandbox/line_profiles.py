"""Line profiles: how big a generated export's lines are, and how to cut an export to a size in bytes.

- ``standard``: the session's lines as ``SyntheticSession.lines`` renders them (about 600 bytes a line on
  average in shape B, whose network events carry full header sets and listings of up to 4 KB);
- ``small``: the common case of a real SDK export, about 240 bytes a line: console output, paired network
  request and response events with a couple of headers and small bodies, navigations, custom events and
  exceptions (no clicks, inputs or Redux actions). Shape A rows carry no bodies, so in shape A ``small``
  keeps the same event mix as in shape B and renders each row as ``standard`` does (about 320 bytes).

Both are streamed: nothing is held beyond the current line.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import orjson

from mcp_server.sandbox.sessions import Event, SyntheticSession, _render_a, _render_b

Profile = Literal["standard", "small"]
PROFILES: tuple[Profile, ...] = ("standard", "small")

# Average bytes per line of each (shape, profile), measured over long sessions; used only to decide how many
# events to generate for a size in bytes (the cut is exact, so an estimate on the low side is what matters).
_BYTES_PER_LINE = {("B", "standard"): 600, ("B", "small"): 240, ("A", "standard"): 300, ("A", "small"): 320}
# Event kinds the small profile leaves out: the SDK's most frequent small lines are console and network.
_SMALL_SKIPS = frozenset({"click", "input", "redux"})


def profile_lines(session: SyntheticSession, target: int | None, profile: Profile) -> Iterator[bytes]:
    """The export's lines (each ending in a newline) in ``profile``; ``target`` stretches it to about that many
    generated events (the small profile drops some of them, so it has fewer lines)."""
    if profile == "standard":
        yield from session.lines(target)
        return
    context = {"session_id": session.session_id, "app_id": f"{session.org}/{session.app}", "user": session.user}
    for seq_id, event in enumerate(session.events(target)):
        if event.kind in _SMALL_SKIPS:
            continue
        row = _render_a(event, seq_id, context) if session.shape == "A" else _render_small_b(event, seq_id, context)
        if row is not None:
            yield orjson.dumps(row) + b"\n"


def sized_lines(session: SyntheticSession, size: int, profile: Profile) -> Iterator[bytes]:
    """Whole lines of the export stretched to ``size`` bytes: as many as fit, so the total is within one line
    of ``size`` (short only if ``size`` is below the first line)."""
    per_line = _BYTES_PER_LINE[(session.shape, profile)]
    # Events are generated lazily, so asking for plenty costs nothing: the small profile skips about 4 in 10,
    # and an average is only an average.
    events = int(size / per_line * 3) + 100
    return cut_to_size(profile_lines(session, events, profile), size)


def cut_to_size(lines: Iterable[bytes], size: int) -> Iterator[bytes]:
    used = 0
    for line in lines:
        used += len(line)
        if used > size:
            return
        yield line


# The small profile's network events: the headers an SDK keeps after scrubbing, bodies of a few dozen bytes.
_SMALL_REQUEST_HEADERS = {
    "accept": "application/json",
    "content-type": "application/json",
    "x-client-version": "4.18.2",
}
_SMALL_ITEMS = ("Roadmap", "Billing", "Onboarding", "Q3 plan", "Support")


def _small_body(req_id: str, status: int) -> str:
    if status >= 400:
        return orjson.dumps({"error": "Request failed", "code": status}).decode()
    n = zlib.crc32(req_id.encode())
    items = [{"id": 1000 + (n + i) % 97, "name": _SMALL_ITEMS[(n + i) % len(_SMALL_ITEMS)]} for i in range(n % 6)]
    return orjson.dumps({"ok": True, "items": items}).decode()


def _render_small_b(event: Event, seq_id: int, ctx: dict[str, Any]) -> dict[str, Any]:
    d = event.data
    if event.kind == "request":
        return {
            "type": "lr.network.RequestEvent",
            "time": event.t,
            "data": {
                "reqId": d["reqId"],
                "url": d["url"],
                "method": d["method"],
                "headers": _SMALL_REQUEST_HEADERS,
                "body": orjson.dumps({"ref": d["reqId"]}).decode() if d["method"] in ("POST", "PUT") else None,
                "referrer": d["href"],
            },
        }
    if event.kind == "response":
        return {
            "type": "lr.network.ResponseEvent",
            "time": event.t,
            "data": {
                "reqId": d["reqId"],
                "status": d["status"],
                "method": d["method"],
                "headers": {"content-type": "application/json", "x-request-id": f"req_{d['reqId']}"},
                "body": _small_body(d["reqId"], d["status"]),
            },
        }
    if event.kind == "console":
        row = _render_b(event, seq_id, ctx)
        row["data"]["href"] = d["href"]  # where the SDK was when it logged
        return row
    return _render_b(event, seq_id, ctx)
