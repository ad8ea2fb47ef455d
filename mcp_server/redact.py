"""Keep secrets (API keys, tokens) out of everything the server says or logs."""

from __future__ import annotations

import base64
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
# A run of half a secret's characters (at least MIN_RUN) is redacted wherever it appears: a key cut short,
# or masked but for most of its characters, gives that much away. Shorter runs are left: what stays hidden
# still protects the key, and words a chosen token happens to contain ("sandbox-") stay readable elsewhere.
MIN_RUN = 8


def run_length(secret_part: str) -> int:
    """How many consecutive characters of ``secret_part`` count as giving it away."""
    return min(len(secret_part), max(MIN_RUN, (len(secret_part) + 1) // 2))


class Redactor:
    """Replaces every registered secret with ``[redacted]``: whole, in part, and in the common encodings.

    For each secret, its secret part (the key's last ``:`` field; a token whole) is what counts: any run of
    half its characters or more (``run_length``) is redacted, so a truncated or mostly masked key is caught. Its
    percent-, hex-, base64- and base64url-encoded forms are redacted as well (base64 in each of the three
    alignments, so ``base64("token <key>")`` is caught whatever precedes the key).

    Matching ignores case: upstream text is sometimes upper- or lower-cased before it is shown (a status,
    a header name), and a key in other case is the same key.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._needles: set[str] = set()
        self._state: _State | None = None  # replaced whole, so readers never see half an update
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            before = len(self._needles)
            for secret in secrets:
                if secret and len(secret) >= _MIN_SECRET_LENGTH:
                    self._needles.update(_needles(secret))
            if self._needles and (self._state is None or len(self._needles) != before):
                ordered = sorted(self._needles, key=len, reverse=True)
                self._state = _State(
                    # Zero-width, so overlapping runs are all found; their spans are merged before replacing.
                    pattern=re.compile("(?=(" + "|".join(re.escape(s) for s in ordered) + "))", re.IGNORECASE),
                    needles=tuple({s.lower() for s in ordered}),
                    # Nothing in any needle that JSON would escape: the serialized form can be searched for it.
                    plain=all(c.isprintable() and c not in '"\\' for s in ordered for c in s),
                )

    def __call__(self, text: str) -> str:
        state = self._state
        # Every result passes through here: a plain substring search first (fast), the regex only on a hit.
        if state is None or not state.found_in(text):
            return text
        spans: list[list[int]] = []
        for match in state.pattern.finditer(text):
            start, end = match.start(), match.start() + len(match.group(1))
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        out, at = [], 0
        for start, end in spans:
            out += [text[at:start], REDACTED]
            at = end
        out.append(text[at:])
        return "".join(out)

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
    needles: tuple[str, ...]  # every needle, lower-cased
    plain: bool

    def found_in(self, text: str) -> bool:
        lowered = text.lower()
        return any(needle in lowered for needle in self.needles)


def secret_part(secret: str) -> str:
    """The part of a secret that is secret: a key's last ``:`` field (``org:app:`` is public), a token whole."""
    tail = secret.rsplit(":", 1)[-1]
    return tail if tail != secret and len(tail) >= _MIN_SECRET_LENGTH else secret


def _needles(secret: str) -> set[str]:
    """What to look for to find ``secret``: every ``run_length`` run of its secret part, and encodings."""
    part = secret_part(secret)
    run = run_length(part)
    found = {part[i : i + run] for i in range(len(part) - run + 1)}
    found.update({secret, quote(secret, safe=""), quote(part, safe="")})
    raw = part.encode()
    found.add(raw.hex())
    for shift in range(3):
        # base64 of the part as it falls after ``shift`` other bytes: only the groups made of its bytes alone.
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        first, last = -(-shift // 3), (shift + len(raw)) // 3
        core = encoded[4 * first : 4 * last]
        if len(core) >= run:
            found.update({core, core.replace("+", "-").replace("/", "_")})
    return {n for n in found if n}


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
