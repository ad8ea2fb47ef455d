"""A database URL's passwords: where libpq reads one (user:pass@ and ?password=), to hide it from people and
tell the redactor what to never show."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

# libpq's query parameters that hold a secret.
_SECRET_PARAMS = ("password", "sslpassword")
_SECRET_QUERY = re.compile(r"(^|&)((?:ssl)?password=)[^&]*", re.IGNORECASE)


def passwords_in(url: str) -> list[str]:
    """Every password the URL holds, as written and decoded (either may reach an error message or a log)."""
    if "://" not in url:
        return []
    parts = urlsplit(url)
    found: list[str] = []
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        raw = userinfo.split(":", 1)[1]
        found += [raw, unquote(raw)]
    for raw in re.findall(r"(?:^|&)(?:ssl)?password=([^&]*)", parts.query, re.IGNORECASE):
        found.append(raw)
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() in _SECRET_PARAMS]
    return [p for p in dict.fromkeys(found) if p]


def without_password(url: str) -> str:
    """The URL to show people: each password replaced by ***, everything else (an IPv6 host's brackets, the
    port, other parameters) as written."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    query = _SECRET_QUERY.sub(r"\1\2***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))
