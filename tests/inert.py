"""Render an answer as a CommonMark + GFM client would (tables, autolinks of bare URLs) and say what is live.

A recorded or upstream value is inert when, rendered, it makes no link, image, HTML, heading or table cell
of its own, and leaves no control, format (bidi, zero-width) or line-separator character, decoded entities
included. Used by the property tests: any of these in an answer built from hostile data is a forgery.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from markdown_it import MarkdownIt
from markdown_it.token import Token

_MD = MarkdownIt("commonmark", {"linkify": True, "html": True}).enable(["table", "linkify", "strikethrough"])
_RAW_BREAKS = ("\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c")


def _bad_char(ch: str) -> bool:
    return (unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") and ch != "\n") or ch in _RAW_BREAKS


def _children(tokens: Iterable[Token]) -> Iterable[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _children(token.children)


def live_parts(markdown: str, headings: Iterable[str] = ()) -> list[str]:
    """What in ``markdown`` acts on the reader beyond the server's own ``headings`` (regexes): empty if inert."""
    found: list[str] = []
    if any(_bad_char(ch) for ch in markdown):
        found.append(f"raw control/format character {next(ch for ch in markdown if _bad_char(ch))!r}")
    allowed = [re.compile(h) for h in headings]
    tokens = _MD.parse(markdown)
    head: int | None = None
    row_cells = 0
    for i, token in enumerate(tokens):
        if token.type in ("html_block", "html_inline"):
            found.append(f"HTML {token.content!r}")
        elif token.type == "heading_open":
            title = "".join(c.content for c in tokens[i + 1].children or [])
            if not any(h.fullmatch(title) for h in allowed):
                found.append(f"heading {title!r}")
        elif token.type == "thead_open":
            head = None
        elif token.type in ("tr_open",):
            row_cells = 0
        elif token.type in ("th_open", "td_open"):
            row_cells += 1
        elif token.type == "tr_close":
            if head is None:
                head = row_cells
            elif row_cells != head:
                found.append(f"a table row of {row_cells} cells under {head} headers")
        elif token.type == "inline":
            for child in _children(token.children or []):
                if child.type in ("link_open", "image"):
                    found.append(f"{child.type} to {child.attrs.get('href') or child.attrs.get('src')!r}")
                elif child.type == "html_inline":
                    found.append(f"HTML {child.content!r}")
                elif child.type in ("text", "code_inline") and any(_bad_char(ch) for ch in child.content):
                    found.append(f"control/format character in {child.content!r}")
    return found
