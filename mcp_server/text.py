"""Plain-text hygiene for anything that came from outside (upstream APIs, recorded sessions, the caller).

Not a Markdown concern: adapters, address guards, argument checks and time parsing shorten and clean text
too. Nothing here knows about secrets: a caller whose text may hold one passes its redactor (``redact``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

ELLIPSIS = "…"
_SPACES = re.compile(r"[ \t\r\n\f\v\u2028\u2029]+")


def strip_controls(text: str, *, keep_newlines: bool = False) -> str:
    """Remove control and format characters (C0/C1 controls, bidi overrides, zero-width marks).

    They can hide text from a reader, reorder what is displayed, or corrupt a terminal.
    """
    out = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch in "\t\r\n\f\v\u2028\u2029":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            continue
        else:
            out.append(ch)
    return "".join(out)


Redact = Callable[[str], str]


def truncate(text: str, limit: int, redact: Redact | None = None) -> str:
    """Cut to at most ``limit`` characters, ending with an ellipsis that says how much was cut.

    ``redact`` runs before the cut: a key cut short may no longer be recognised afterwards.
    """
    if limit <= 0 or len(text) <= limit:
        return text
    if redact is not None:
        text = redact(text)
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    while True:  # the note's own length changes how much must go; settles within two rounds
        note = f"{ELLIPSIS} (+{cut} chars)"
        keep = max(0, limit - len(note))
        if len(text) - keep == cut:
            return text[:keep] + note
        cut = len(text) - keep


def clean_text(text: str, limit: int | None = None, redact: Redact | None = None) -> str:
    """One line of readable text: controls removed, whitespace collapsed, optionally shortened (``truncate``)."""
    if text.isascii() and text.isprintable():
        line = text.strip()  # fast path for the common case
        if "  " in line:
            line = _SPACES.sub(" ", line)
    else:
        line = _SPACES.sub(" ", strip_controls(text)).strip()
    return truncate(line, limit, redact) if limit is not None else line
