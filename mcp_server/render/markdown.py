"""Markdown that cannot be forged by the text it carries.

Anything from outside goes through ``code`` (a code span), ``plain`` (escaped prose) or ``cell``
(a table cell), so a value can never open a link, a heading, a list or a table row of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from mcp_server.render.text import clean_text

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")
_BACKTICKS = re.compile(r"`+")


def code(text: str, limit: int | None = 200) -> str:
    """An inline code span holding ``text`` verbatim (on one line), whatever backticks it contains."""
    value = clean_text(text, limit)
    if not value:
        return "` `"
    if "`" not in value:
        return f"`{value}`"
    longest = max(len(m) for m in _BACKTICKS.findall(value))
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def plain(text: str, limit: int | None = 200) -> str:
    """Prose-safe text: one line, Markdown punctuation escaped so it renders as typed."""
    return _MD_SPECIAL.sub(r"\\\1", clean_text(text, limit))


def cell(text: str) -> str:
    """Make already-rendered inline Markdown safe inside a table cell (pipes escaped, one line)."""
    return text.replace("\n", " ").replace("|", "\\|")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; cells are inline Markdown the caller already made safe."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


def table_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell(c) for c in cells) + " |"


def table_head(headers: Sequence[str]) -> str:
    return "| " + " | ".join(headers) + " |\n|" + "|".join("---" for _ in headers) + "|"
