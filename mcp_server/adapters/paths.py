"""Values placed in a URL path, each kept to exactly one segment.

Percent-encoding with ``safe=""`` turns ``/`` into ``%2F`` but leaves dots alone (they are unreserved), and
a segment that is only ``.`` or ``..`` is a dot segment: HTTP clients remove it before sending (httpx does),
and servers and proxies resolve it, so ``users/..`` reaches ``/apps/{app}`` with the key and the body. Such
values are refused rather than encoded: ``%2E%2E`` is decoded back into ``..`` by many servers.
"""

from __future__ import annotations

from urllib.parse import quote


class UnsafeSegment(ValueError):
    """A value that cannot be one path segment (empty, ``.`` or ``..``)."""


def path_segment(value: str) -> str:
    """``value`` percent-encoded as one path segment; UnsafeSegment if no encoding keeps it one."""
    if value in ("", ".", ".."):
        raise UnsafeSegment(
            "is empty" if not value else f"is {value!r}, which HTTP clients and servers read as a relative path step"
        )
    return quote(value, safe="")


def path(*values: str) -> str:
    """Several values joined as path segments, each exactly one segment."""
    return "/".join(path_segment(v) for v in values)


LOGROCKET_APP = "https://app.logrocket.com"


def replay_url(org: str, app: str, recording_id: str, session: str) -> str | None:
    """A session's replay page, built the documented way (``/<org>/<app>/s/<recording>/<session>``).

    None when any part cannot be one path segment: the ids come from upstream answers or export URLs, and a
    link that climbs out of its place would open another page.
    """
    try:
        return f"{LOGROCKET_APP}/{path(org, app, 's', recording_id, session)}"
    except UnsafeSegment:
        return None
