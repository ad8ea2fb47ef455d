"""Markdown that cannot be forged by the text it carries.

Every value that came from a recording or from upstream reaches the answer through ``inert`` (or ``code``,
which it uses): a code span, in which CommonMark and GFM recognise no link, autolink, entity, HTML,
emphasis or heading, holding the value on one line with control, format and bidi characters removed and
secrets redacted. Table cells take any value and pass whatever is not ``Markup`` through ``inert``, so a
value placed raw in a column (a console level, a status) is made inert there too, not trusted.

``Markup`` marks inline Markdown this server wrote itself (its labels, bold, code spans it built); only it
is placed as is. ``plain`` escapes prose for the rare text that is the caller's own (a question echoed back).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import orjson

from mcp_server.redact import process_redactor
from mcp_server.text import clean_text

# Punctuation that Markdown reads as syntax; ``&`` opens entities, ``://``, ``www.`` and ``@`` autolinks.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&@])|:(?=//)|(?<=[Ww]{3})\.")
_BACKTICKS = re.compile(r"`+")
# Values that read the same as text and as Markdown: words, numbers, offsets and times. A ``.`` or ``:`` only
# before a digit, so no domain, scheme or ``www.`` can form; nothing else that Markdown could take as syntax.
_BARE = re.compile(r"(?:[A-Za-z0-9 ×?,+-]|[.:](?=\d))*")


def _line(text: str, limit: int | None) -> str:
    """``text`` on one clean line, shortened; secrets are redacted before the cut (a key cut short may no longer
    be recognised by the redaction every answer gets at the end)."""
    return clean_text(text, limit, process_redactor)


class Markup(str):
    """Inline Markdown written by this server (never by a recording or upstream): placed as is."""

    __slots__ = ()


def as_text(value: object) -> str:
    """Any value as text: strings as they are, None empty, booleans and numbers as JSON, the rest as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return orjson.dumps(value).decode()
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return str(value)


def code(value: object, limit: int | None = 200) -> Markup:
    """An inline code span holding ``value`` verbatim (on one line), whatever backticks it contains."""
    if (
        type(value) is str
        and value
        and (limit is None or len(value) <= limit)
        and value.isascii()
        and value.isprintable()
        and "`" not in value
        and "  " not in value
        and value[0] != " "
        and value[-1] != " "
    ):
        return Markup(f"`{value}`")  # most recorded values: what code_span makes of them, sooner
    return code_span(value, limit)


def code_span(value: object, limit: int | None = 200) -> Markup:
    """``code`` for any value: cleaned to one line, shortened, fenced by more backticks than it holds."""
    text = _line(as_text(value), limit)
    if not text:
        return Markup("` `")
    if "`" not in text:
        return Markup(f"`{text}`")
    longest = max(len(m) for m in _BACKTICKS.findall(text))
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markup(f"{fence}{pad}{text}{pad}{fence}")


def inert(value: object, limit: int | None = 200) -> Markup:
    """Any value, wherever it lands, as Markdown that does nothing: ``Markup`` as is; plain words and numbers
    bare (they read the same either way); everything else a code span (``code``)."""
    if isinstance(value, Markup):
        return value
    text = as_text(value)
    if (limit is None or len(text) <= limit) and _BARE.fullmatch(text):
        return Markup(text)
    return code(text, limit)


# What turns prose live when a host renders it: links and images (``](`` or ``][``), HTML and autolinks
# (``<``), entities (``&``), and the URLs and emails GFM links bare.
_LIVE_IN_PROSE = re.compile(r"\]\s*[(\[]|[<&@]|://|www\.", re.IGNORECASE)


def quoted(text: str, limit: int | None = 200) -> Markup:
    """Upstream text inside a sentence (an error's detail): as is when nothing in it could act, else a code span.

    Ordinary messages (``user trait key too large (max 1024 characters)``) read as written; one that carries a
    link, HTML, an entity or a bare URL is held in a code span, where it is shown and does nothing.
    """
    line = _line(text, limit)
    return code(line, None) if is_live_prose(line) else Markup(line)


def is_live_prose(text: str) -> bool:
    """Whether ``text``, placed in a sentence, could become a link, an image, HTML or an entity when rendered."""
    return _LIVE_IN_PROSE.search(text) is not None


def snippet(text: str, limit: int) -> str:
    """A short quote of an upstream body, as ``repr`` shows it, or a code span when it could act."""
    line = _line(text, limit)
    return code(line, None) if is_live_prose(line) else repr(line)


def plain(text: str, limit: int | None = 200) -> Markup:
    """Prose-safe text: one line, with everything Markdown could read as syntax, an entity or a link escaped."""
    return Markup(_MD_SPECIAL.sub(lambda m: "\\" + m.group(0), _line(text, limit)))


def cell(value: object) -> str:
    """A table cell: ``Markup`` kept (pipes escaped, one line); any other value made inert first."""
    return inert(value).replace("\n", " ").replace("|", "\\|")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; cells are ``Markup`` or values made inert here."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


def table_row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(cell(c) for c in cells) + " |"


def table_head(headers: Sequence[str]) -> str:
    return "| " + " | ".join(headers) + " |\n|" + "|".join("---" for _ in headers) + "|"
