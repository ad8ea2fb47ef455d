"""Faults the sandbox injects on demand, and the log of requests it received.

Tests (and people trying the server) program faults over HTTP (``POST /_sandbox/faults``), directly on the
``FaultPlan``, or per request with an ``X-Sandbox-Fault`` header; each fault matches requests by method and
path and fires ``times`` times. ``injector.py`` plays them.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args

FaultKind = Literal["status", "stall", "truncate", "malformed", "html", "reset", "trickle"]
KINDS: frozenset[str] = frozenset(get_args(FaultKind))
HEADER = "x-sandbox-fault"


class FaultError(ValueError):
    """A fault description that cannot be played; the message says which part."""


@dataclass(frozen=True)
class Fault:
    """One fault. What each kind does (see ``injector.py``):

    - ``status``: answer ``status`` (with ``retry_after`` if set) and a JSON ``{"detail": ...}`` body;
    - ``stall``: wait ``seconds``, then answer normally;
    - ``truncate``: answer normally, but close the connection after ``bytes`` bytes of the body;
    - ``malformed``: answer 200 with a body that is not valid JSON;
    - ``html``: answer ``status`` with a web page;
    - ``reset``: abort the connection (TCP RST) without answering, as a crashed proxy does;
    - ``trickle``: answer normally, ``bytes`` bytes at a time with ``seconds`` between pieces.
    """

    kind: FaultKind = "status"
    status: int = 500  # also the status of an "html" page
    retry_after: str | None = None
    path: str = ""  # substring of the request path; "" matches every API and export request
    method: str | None = None
    times: int = 1
    skip: int = 0  # let this many matching requests through first (to fail a later step of a sequence)
    seconds: float = 0.0  # how long a stall lasts; the pause between the pieces of a trickle
    bytes: int = 16  # body bytes sent before a truncation; the size of each piece of a trickle
    detail: str | None = None  # body message for a status fault
    echo: bool = False  # status, malformed and html bodies repeat the request, headers included

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultError(f"unknown fault kind {self.kind!r}; kinds: {', '.join(sorted(KINDS))}")
        if not 100 <= self.status <= 599:
            raise FaultError(f"status must be an HTTP status (100 to 599), got {self.status}")
        if self.times < 0 or self.skip < 0 or self.seconds < 0 or self.bytes < 1:
            raise FaultError("times, skip and seconds must not be negative, and bytes must be at least 1")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        allowed = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            return cls(**allowed)
        except TypeError as exc:
            raise FaultError(str(exc)) from None

    @classmethod
    def from_header(cls, value: str) -> Fault:
        """``kind=stall;seconds=2`` or ``status=503;times=2`` (``kind`` defaults to ``status``)."""
        types = {f.name: f.type for f in fields(cls)}
        data: dict[str, Any] = {}
        for part in value.split(";"):
            name, sep, raw = part.strip().partition("=")
            name = name.strip()
            if not name:
                continue
            if not sep or name not in types:
                raise FaultError(f"{HEADER}: expected name=value pairs of {', '.join(sorted(types))}, got {part!r}")
            data[name] = _convert(name, types[name], raw.strip())
        return cls.from_json(data)


def _convert(name: str, declared: Any, raw: str) -> Any:
    kind = str(declared)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise FaultError(f"{HEADER}: {name} must be a number, got {raw!r}") from None
    if kind == "bool":
        return raw.lower() in ("1", "true", "yes", "on")
    return raw


class FaultPlan:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[list[Any]] = []  # [fault, remaining, still to skip]

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend([f, f.times, f.skip] for f in faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching this request (using up one of its shots), or None."""
        with self._lock:
            for entry in self._faults:
                fault, remaining, _ = entry
                if remaining > 0 and fault.path in path and (fault.method in (None, method)):
                    if entry[2] > 0:
                        entry[2] -= 1
                        continue
                    entry[1] -= 1
                    return fault  # type: ignore[no-any-return]
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) | {"remaining": n} for f, n, _ in self._faults if n > 0]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]


class RequestLog:
    """The most recent requests, headers included, so tests can check what was (not) sent."""

    def __init__(self, size: int = 2000) -> None:
        self._lock = threading.Lock()
        self._items: deque[Received] = deque(maxlen=size)

    def add(self, item: Received) -> None:
        with self._lock:
            self._items.append(item)

    def items(self) -> list[Received]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
