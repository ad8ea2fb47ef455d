"""Faults the sandbox injects on demand, and the log of requests it received.

Tests (and people trying the server) program faults over HTTP (``POST /_sandbox/faults``) or
directly on the ``FaultPlan``; each fault matches requests by method and path and fires ``times`` times.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Literal

FaultKind = Literal["status", "stall", "truncate", "malformed", "html"]


@dataclass(frozen=True)
class Fault:
    kind: FaultKind = "status"
    status: int = 500  # also the status of an "html" page
    retry_after: str | None = None
    path: str = ""  # substring of the request path; "" matches every API and export request
    method: str | None = None
    times: int = 1
    skip: int = 0  # let this many matching requests through first (to fail a later step of a sequence)
    seconds: float = 0.0  # how long a stall lasts
    detail: str | None = None  # body message for a status fault

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        allowed = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**allowed)


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
