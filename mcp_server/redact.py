"""Keep secrets (API keys, tokens) out of everything the server says or logs."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

REDACTED = "[redacted]"
# Shorter values could appear by coincidence in ordinary text; real keys are far longer.
_MIN_SECRET_LENGTH = 6


class Redactor:
    """Replaces every registered secret, and its URL-encoded form, with ``[redacted]``.

    Matching ignores case: upstream text is sometimes upper- or lower-cased before it is shown (a status,
    a header name), and a key in other case is the same key.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._state: _State | None = None  # replaced whole, so readers never see half an update
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            for secret in secrets:
                if secret and len(secret) >= _MIN_SECRET_LENGTH:
                    self._secrets.add(secret)
                    self._secrets.add(quote(secret, safe=""))
                    # A key of the form org:app:secret is just as secret without its public prefix.
                    tail = secret.rsplit(":", 1)[-1]
                    if tail != secret and len(tail) >= _MIN_SECRET_LENGTH:
                        self._secrets.add(tail)
            if self._secrets:
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._state = _State(
                    pattern=re.compile("|".join(re.escape(s) for s in ordered), re.IGNORECASE),
                    needles=tuple({s.lower() for s in ordered}),
                    # Nothing in any secret that JSON would escape: the serialized form can be searched for it.
                    plain=all(c.isprintable() and c not in '"\\' for s in ordered for c in s),
                )

    def __call__(self, text: str) -> str:
        state = self._state
        # Every result passes through here: a plain substring search first (fast), the regex only on a hit.
        if state is None or not state.found_in(text):
            return text
        return state.pattern.sub(REDACTED, text)

    def json(self, value: Any) -> Any:
        """``value`` (parsed JSON: dicts, lists, strings, numbers) with every string in it redacted, keys too."""
        state = self._state
        if state is None:
            return value
        if state.plain:
            # One search of the serialized value instead of one per string: almost always it holds no secret.
            try:
                serialized = orjson.dumps(value).decode()
            except TypeError:
                serialized = None
            if serialized is not None and not state.found_in(serialized):
                return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(k) if isinstance(k, str) else k: self._walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        return value


@dataclass(frozen=True)
class _State:
    pattern: re.Pattern[str]
    needles: tuple[str, ...]  # every secret, lower-cased
    plain: bool

    def found_in(self, text: str) -> bool:
        lowered = text.lower()
        return any(needle in lowered for needle in self.needles)


# One process-wide instance: log records can come from any library, so the filter must know every key.
process_redactor = Redactor()


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message (arguments included) of every record."""

    def __init__(self, redactor: Redactor = process_redactor) -> None:
        super().__init__()
        self._redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, so no handler formats the raw exception text later.
            formatter = logging.Formatter()
            cleaned += "\n" + self._redact(formatter.formatException(record.exc_info))
            record.exc_info = None
            record.exc_text = None
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True
