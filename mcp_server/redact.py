"""Keep secrets (API keys, tokens) out of everything the server says or logs."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

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
        self._pattern: re.Pattern[str] | None = None
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
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered), re.IGNORECASE) if ordered else None

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(REDACTED, text) if pattern is not None else text

    def json(self, value: Any) -> Any:
        """``value`` (parsed JSON: dicts, lists, strings, numbers) with every string in it redacted, keys too."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(k) if isinstance(k, str) else k: self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return value


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
