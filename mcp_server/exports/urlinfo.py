"""What an export download URL reveals without downloading it: file, date, session, expiry.

LogRocket hands out (apparently signed) storage URLs whose layout is not documented, so every fact
here is read opportunistically and left empty when the URL does not show it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

from mcp_server.adapters.paths import replay_url

# A LogRocket recording id is a digit, a dash and a UUID; the session index follows it.
_RECORDING = re.compile(
    r"(?P<rec>\d-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[-/_](?P<idx>\d{1,4})(?!\d))?",
    re.IGNORECASE,
)
_DATE = re.compile(r"(?<!\d)(20\d\d)[-/](0[1-9]|1[0-2])[-/](0[1-9]|[12]\d|3[01])(?!\d)")


@dataclass(frozen=True)
class ExportUrlInfo:
    host: str
    file_name: str | None
    recording_id: str | None
    session_index: int | None
    recorded_on: str | None  # YYYY-MM-DD, when the path carries a date
    compressed: bool | None  # True for .gz names or a gzip content-encoding override
    signed: bool
    expires_at: datetime | None

    @property
    def session_id(self) -> str | None:
        """LogRocket's ``recordingID/sessionID`` form, when the URL shows it."""
        if self.recording_id is None:
            return None
        return f"{self.recording_id}/{self.session_index if self.session_index is not None else 0}"

    def replay_url(self, org: str, app: str) -> str | None:
        """The session's page in LogRocket, built the documented way, when the recording id is known."""
        if self.recording_id is None:
            return None
        return replay_url(org, app, self.recording_id, str(self.session_index or 0))


@functools.lru_cache(maxsize=1024)
def inspect_export_url(url: str) -> ExportUrlInfo:
    """What ``url`` shows. Cached: a sync asks this of each listed URL three times (its key, expiry and day)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = unquote(parts.path)
    # Only a few parameters matter and list pages carry up to 100 URLs: split by hand, decode on use.
    query = {}
    for item in parts.query.split("&"):
        key, _, value = item.partition("=")
        if key:
            query[key.lower()] = value
    name = path.rstrip("/").rsplit("/", 1)[-1] or None
    rec = _RECORDING.search(path)
    date = _DATE.search(path)
    lowered = (name or "").lower()
    compressed: bool | None = None
    if lowered.endswith((".gz", ".gzip")) or unquote(query.get("response-content-encoding", "")).lower() == "gzip":
        compressed = True
    elif lowered.endswith((".jsonl", ".json", ".ndjson")):
        compressed = False
    return ExportUrlInfo(
        host=host,
        file_name=name,
        recording_id=rec.group("rec").lower() if rec else None,
        session_index=int(rec.group("idx")) if rec and rec.group("idx") else None,
        recorded_on="-".join(date.groups()) if date else None,
        compressed=compressed,
        signed=any(k in query for k in ("x-goog-signature", "x-amz-signature", "signature", "sig")),
        expires_at=_expiry(query),
    )


def _expiry(query: dict[str, str]) -> datetime | None:
    """Expiry from GCS/S3 v4 (date + seconds), v2-style ``Expires`` (epoch seconds) or Azure ``se``."""
    for date_key, ttl_key in (("x-goog-date", "x-goog-expires"), ("x-amz-date", "x-amz-expires")):
        if date_key in query and ttl_key in query:
            stamp = query[date_key]  # YYYYMMDDTHHMMSSZ; parsed by hand, strptime is slow
            try:
                signed_at = datetime(
                    int(stamp[0:4]),
                    int(stamp[4:6]),
                    int(stamp[6:8]),
                    int(stamp[9:11]),
                    int(stamp[11:13]),
                    int(stamp[13:15]),
                    tzinfo=UTC,
                )
                return signed_at + timedelta(seconds=int(query[ttl_key]))
            except ValueError:
                return None
    if query.get("expires", "").isdigit():
        return datetime.fromtimestamp(int(query["expires"]), UTC)
    if "se" in query:
        try:
            return datetime.fromisoformat(unquote(query["se"]).replace("Z", "+00:00"))
        except ValueError:
            return None
    return None
