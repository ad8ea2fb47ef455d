"""Turn pydantic's argument-validation report into one sentence an agent can act on."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from mcp_server.text import clean_text

_EMAIL = re.compile(r"^[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+\.[^\s@<>()\[\],;:\".]{2,}$")


def email_address(value: str | None) -> str | None:
    """A field validator: the value must look like an email address (None passes)."""
    if value is not None and not _EMAIL.match(value):
        raise ValueError("must look like an email address (name@example.com)")
    return value


def web_url(value: str | None) -> str | None:
    """A field validator: the value must be an absolute http(s) URL (None passes)."""
    if value is None:
        return value
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in value)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("must be an http(s) URL (https://example.com/hook)")
    return value


# pydantic adds the union member it tried to the error location; those are not argument names.
_UNION_TAGS = {"str", "int", "bool", "float", "none", "dict", "list", "constrained-str", "constrained-int"}


def describe_validation_error(error: ValidationError) -> str:
    by_field: dict[str, list[ErrorDetails]] = {}
    for item in error.errors(include_url=False):
        path = ".".join(str(p) for p in item["loc"] if not _is_union_tag(p))
        by_field.setdefault(path or "arguments", []).append(item)
    problems = [_describe_field(path, items) for path, items in by_field.items()]
    return "invalid arguments: " + "; ".join(problems[:8]) + ". Fix them and call again."


def _describe_field(path: str, items: list[ErrorDetails]) -> str:
    if any(i["type"] == "missing" for i in items):
        return f"{path} is required"
    messages: list[str] = []
    for item in items:
        message = _lower_first(str(item["msg"]).removeprefix("Value error, "))
        if message not in messages:
            messages.append(message)
    if len(messages) > 1 and all(m.startswith("input should be a valid ") for m in messages):
        kinds = [_article(m.removeprefix("input should be a valid ")) for m in messages]
        merged = "should be " + ", ".join(kinds[:-1]) + f" or {kinds[-1]}"
        messages = [merged]
    got = _shown(items[0].get("input"))
    text = " or ".join(messages)
    for noise in ("input ", "string ", "value "):
        text = text.removeprefix(noise)
    return f"{path} {text}{got}"


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (part in _UNION_TAGS or part.startswith(("function-", "nullable[")))


def _article(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _shown(value: Any) -> str:
    if isinstance(value, dict | list) or value is None:
        return ""
    return f" (got {clean_text(repr(value), 60)})"
