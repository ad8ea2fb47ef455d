"""Where LogRocket may be asked to send a user's highlights: nowhere, unless the operator named the host.

A ``webhookURL`` makes LogRocket POST the finished highlights (what a user did, with links into replays) to
that address. An agent chooses tool arguments from text it read, so an injected instruction could name any
address: webhooks are refused in read-only mode, and otherwise go only to hosts listed in
``SESSION_REPLAY_MCP_WEBHOOK_ALLOWED_HOSTS`` (empty by default: no webhooks until configured).

The host is read strictly, since LogRocket's URL parser is not ours: a URL whose authority is anything but a
plain host name or address and an optional port (credentials, backslashes, percent-escapes, which parsers
read differently) is refused rather than guessed at.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from mcp_server.errors import InputError
from mcp_server.settings import ENV_VARS, Settings

WEBHOOK_VAR = ENV_VARS["webhook_allowed_hosts"]
_AUTHORITY = re.compile(
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d{1,5}))?"
)


def webhook_host(url: str) -> str | None:
    """The lower-case host (``host`` or ``host:port``) of a plainly written http(s) URL; None otherwise."""
    if any(ch in url for ch in "\\@") or any(not ch.isprintable() or ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    match = _AUTHORITY.fullmatch(parts.netloc)
    if match is None:
        return None
    host = match.group("host").lower()
    return f"{host}:{match.group('port')}" if match.group("port") else host


def check_webhook(url: str, settings: Settings) -> None:
    """Refuse (InputError) a webhook URL this server must not hand to LogRocket."""
    if settings.read_only:
        raise InputError(
            "webhook_url is refused: this server runs read-only, and a webhook would send the user's highlights "
            "to another address. Call again without webhook_url; the highlights come back in the answer."
        )
    host = webhook_host(url)
    if host is None:
        raise InputError(
            "webhook_url must be a plain http(s) URL: a host name or address, an optional port, then the path "
            "(no credentials, backslashes or escapes before the path)."
        )
    allowed = {h.strip().lower().rstrip("/") for h in settings.webhook_allowed_hosts}
    if host not in allowed and host.rsplit(":", 1)[0] not in allowed:
        raise InputError(
            f"webhook_url points to {host}, which is not a webhook host this server allows (its operator lists "
            f"them in {WEBHOOK_VAR}; none are allowed by default). Call again without webhook_url: the "
            "highlights come back in the answer."
        )
