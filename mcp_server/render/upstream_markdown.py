"""Markdown written by an upstream service (Galileo highlights), made safe to pass on.

Galileo's highlights are Markdown whose value is in their links: replay URLs that seek to a moment
(``https://app.logrocket.com/<org>/<app>/s/<recording>/<session>?t=<ms>``). Those must survive byte for
byte. Everything else that could act on the reader is neutralized:

- control and format characters (bidi overrides, zero-width marks) are removed, also when written as an
  HTML entity (``&ZeroWidthSpace;``, ``&#x202E;``), which renderers decode;
- raw HTML never reaches a renderer: comments, ``script``/``style`` blocks and tags are dropped, and a
  stray ``<`` that could still open a tag is escaped;
- only http(s) links stay links; any other target (``javascript:``, ``data:``, ``file:``, relative) is
  reduced to its text, an autolink to a code span, a reference definition is dropped;
- images become plain links, so nothing is fetched just by displaying the answer;
- headings become bold lines, so upstream text cannot pose as a section of the tool's own answer.

The text is otherwise kept as written (lists, emphasis, indentation), since it is meant to be read.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from mcp_server.text import strip_controls

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_RAW_BLOCK = re.compile(r"<(script|style|iframe|object|embed|template)\b[^>]*>.*?(?:</\1\s*>|\Z)", re.S | re.I)
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")
_EMAIL_AUTOLINK = re.compile(r"<([^\s<>@]+@[^\s<>@]+)>")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:[\s/][^<>]*)?>|<[!?][^<>]*>")
# What is left of a tag that never closed (``<img src=x onerror=...`` to the end): a ``<`` before a tag
# name, ``/``, ``!`` or ``?``. Kept autolinks (``<https://...>``) are not tag names, so they stay.
_TAG_OPENER = re.compile(r"<(?=[/!?]|[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$))", re.M)
# [text](target "title") or ![alt](target): one level of nested brackets in the text, and one level
# of balanced parentheses in the target (as in Wikipedia URLs).
_INLINE_LINK = re.compile(
    r"(!?)\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]"
    r"\(\s*(<[^<>\n]*>|(?:[^()\s]|\([^()\s]*\))*)(\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\s*\)"
)
_REFERENCE = re.compile(r"^ {0,3}\[[^\]\n]+\]:[ \t]*(\S+).*$", re.M)
_ENTITY = re.compile(r"&(?:#[0-9]{1,8}|#[xX][0-9A-Fa-f]{1,8}|[A-Za-z][A-Za-z0-9]{1,31});")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$", re.M)


def is_web_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host and nothing a renderer could misread."""
    if not url or any(ch.isspace() for ch in url) or any(ch in url for ch in "<>\"'`"):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def sanitize_markdown(text: str) -> str:
    """Upstream Markdown with its http(s) links intact and nothing that could act on the reader."""
    text = strip_controls(text.replace("\r\n", "\n").replace("\r", "\n"), keep_newlines=True)
    text = _ENTITY.sub(_entity, text)
    text = _COMMENT.sub("", text)
    text = _RAW_BLOCK.sub("", text)
    text = _AUTOLINK.sub(_autolink, text)
    text = _EMAIL_AUTOLINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = _TAG_OPENER.sub("&lt;", text)
    text = _INLINE_LINK.sub(_link, text)
    text = _REFERENCE.sub(lambda m: m.group(0) if is_web_url(m.group(1).strip("<>")) else "", text)
    text = _HEADING.sub(lambda m: f"**{m.group(2)}**" if m.group(2) else "", text)
    return text.strip("\n")


def markdown_links(text: str) -> list[str]:
    """The http(s) link targets in sanitized Markdown, in order of appearance, each once."""
    seen: dict[str, None] = {}
    for match in _INLINE_LINK.finditer(text):
        target = match.group(3).strip("<>")
        if is_web_url(target):
            seen.setdefault(target, None)
    return list(seen)


def clip_markdown(text: str, limit: int) -> tuple[str, int]:
    """At most ``limit`` characters of ``text``, cut at a line end (never inside a link); and how much was cut."""
    if len(text) <= limit:
        return text, 0
    cut = text.rfind("\n", 0, limit + 1)
    if cut <= 0:
        # One long line: cut before the last link that would not fit whole.
        cut = limit
        opener = text.rfind("[", 0, cut)
        if opener != -1 and text.find(")", opener) >= cut:
            cut = opener
    kept = text[:cut].rstrip()
    return kept, len(text) - len(kept)


def _entity(match: re.Match[str]) -> str:
    """An entity that a renderer would decode into a control, format or line-breaking character: dropped."""
    decoded = html.unescape(match.group(0))
    if decoded != match.group(0) and strip_controls(decoded).strip() != decoded:
        return ""
    return match.group(0)


def _autolink(match: re.Match[str]) -> str:
    target = match.group(1)
    if is_web_url(target):
        return f"<{target}>"
    return f"`{target.replace('`', '')}`"


def _link(match: re.Match[str]) -> str:
    image, label, target, title = match.group(1), match.group(2), match.group(3), match.group(4) or ""
    bare = target[1:-1] if target.startswith("<") and target.endswith(">") else target
    if not is_web_url(bare):
        return label
    if image:
        return f"[{label or 'image'}]({target}{title})"
    return match.group(0)
