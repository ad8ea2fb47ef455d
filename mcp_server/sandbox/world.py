"""The sandbox's synthetic world: orgs, apps, API keys, users and recorded sessions, all from one seed."""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp_server.sandbox import history as story
from mcp_server.sandbox.memo import ExportMemo
from mcp_server.sandbox.sessions import Event, SessionUser, Shape, SyntheticSession

DEFAULT_SEED = 20261123
# Sessions of history per app (history.py) on top of the base sessions: with both apps, over 400 sessions of
# 36 people across a week, with story lines for find_sessions and session_stats to find.
HISTORY_SESSIONS = 160
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# Export cursors are export time in ms times this, plus a tie-breaker: about 1.8e18, well past 2**53,
# so any client that parses them as floating-point numbers loses digits (as with the real API).
CURSOR_SCALE = 1_000_000


@dataclass(frozen=True)
class AppSpec:
    org: str
    app: str
    api_key: str
    shape: Shape
    site: str
    api: str


# The keys follow LogRocket's org:app:secret layout. They are public: the sandbox holds no real data.
APPS = (
    AppSpec("acme", "web", "acme:web:sandbox-web-key-4f1c9e", "B", "https://app.acme.test", "https://api.acme.test"),
    AppSpec(
        "acme", "mobile", "acme:mobile:sandbox-mobile-key-7d2a", "A", "https://m.acme.test", "https://api.acme.test"
    ),
)
DEFAULT_APP = APPS[0]

_PEOPLE = (
    ("u-1001", "Jane Cooper", "jane@acme.com", {"plan": "team", "company": "Acme Corp", "seats": "25"}),
    ("u-1002", "Omar Haddad", "omar@globex.example", {"plan": "pro", "company": "Globex"}),
    ("google-oauth2|104729", "Li Wei", "li.wei@initech.example", {"plan": "free"}),
    ("u-1004", "Sofia Rossi", "sofia@umbrella.example", {"plan": "team", "company": "Umbrella", "beta": "true"}),
    ("u-1005", "Raj Patel", "raj.patel@hooli.example", {"plan": "pro"}),
    ("u-1006", "Emma Müller", "emma@piedpiper.example", {"plan": "enterprise", "company": "Pied Piper"}),
)


@dataclass
class SandboxApp:
    spec: AppSpec
    users: dict[str, dict[str, Any]]
    sessions: list[SyntheticSession]
    highlights: dict[str, HighlightJob] = field(default_factory=dict)

    @property
    def app_id(self) -> str:
        return f"{self.spec.org}/{self.spec.app}"

    def cursor_of(self, session: SyntheticSession) -> int:
        return session.exported_ms * CURSOR_SCALE + session.seq

    def session(self, recording_id: str, index: int) -> SyntheticSession | None:
        for s in self.sessions:
            if s.recording_id == recording_id and s.session_index == index:
                return s
        return None


@dataclass
class HighlightJob:
    request_id: str
    user_email: str | None
    user_id: str | None
    question: str | None
    start_ms: int | None
    end_ms: int | None
    webhook_url: str | None
    created: float  # seconds on the world's clock
    ready_after: float  # seconds of "generation"
    fail: bool = False


class SandboxWorld:
    """Deterministic for a given (seed, anchor_ms); mutable state (users, highlights) is lock-protected."""

    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        anchor_ms: int | None = None,
        sessions_per_app: int = 48,
        history: int = HISTORY_SESSIONS,
        highlights_delay: float = 5.0,
        highlights_status: str = "READY",
        export_cache_dir: Path | None = None,
        export_query: dict[str, str] | None = None,
    ) -> None:
        self.seed = seed
        # Rounded to the hour so that two sandboxes started close together hold the same sessions.
        self.anchor_ms = anchor_ms if anchor_ms is not None else (int(time.time() * 1000) // HOUR_MS) * HOUR_MS
        # Seconds of "generation" before a highlights request is done (LogRocket: typically 1 to 3
        # minutes; a few seconds here so trying the server is pleasant, a fraction of one in tests).
        self.highlights_delay = highlights_delay
        # What that generation time is measured on: monotonic seconds (tests give it their virtual clock).
        self.clock: Callable[[], float] = time.monotonic
        # How a finished request reports itself: "READY" (LogRocket's docs) or "COMPLETE" (seen elsewhere).
        self.highlights_status = highlights_status
        self.export_cache_dir = export_cache_dir
        # Ordinary export files once generated (sized ones go to export_cache_dir, or are generated each time).
        self.export_memo = ExportMemo()
        # Extra (unsigned) parameters on every export URL the listing hands out, e.g. {"bytes": "200000"}:
        # benchmarks shape every file a sync reads (see export_files.py for the parameters).
        self.export_query = dict(export_query or {})
        # How many of the next highlights requests will end FAILED instead (set by tests or the control API).
        self.highlights_failures = 0
        self.lock = threading.Lock()
        self.signing_key = hashlib.sha256(f"sandbox-signing-{seed}".encode()).digest()
        self.apps = {
            (spec.org, spec.app): _make_app(spec, seed, self.anchor_ms, sessions_per_app, history) for spec in APPS
        }
        self._keys = {a.spec.api_key: a for a in self.apps.values()}

    def fail_next_highlights(self, count: int = 1) -> None:
        """Make the next ``count`` highlights requests end FAILED (after the usual delay)."""
        with self.lock:
            self.highlights_failures = max(0, count)

    def take_highlights_failure(self) -> bool:
        """Whether a new highlights request should fail; uses up one armed failure."""
        with self.lock:
            if self.highlights_failures > 0:
                self.highlights_failures -= 1
                return True
            return False

    def app(self, org: str, app: str) -> SandboxApp | None:
        return self.apps.get((org, app))

    def app_for_key(self, key: str) -> SandboxApp | None:
        return self._keys.get(key)

    def add_key(self, key: str, org: str, app: str) -> None:
        """Accept one more API key for an app (tests plant a recognisable key and look for it everywhere)."""
        found = self.app(org, app)
        if found is None:
            raise KeyError(f"no sandbox app {org}/{app}")
        with self.lock:
            self._keys[key] = found

    def sign(self, path: str, date: str, expires: int) -> str:
        return hmac.new(self.signing_key, f"{path}\n{date}\n{expires}".encode(), hashlib.sha256).hexdigest()


def _make_app(spec: AppSpec, seed: int, anchor_ms: int, count: int, history: int) -> SandboxApp:
    rng = random.Random(f"{seed}:{spec.org}/{spec.app}")
    everyone = _PEOPLE + (story.PEOPLE if history else ())
    users = {
        uid: {"userID": uid, "name": name, "email": email, "traits": dict(traits)}
        for uid, name, email, traits in everyone
    }
    people = [SessionUser(uid, name, email, dict(traits)) for uid, name, email, traits in _PEOPLE]
    drafts: list[tuple[int, int, int, str, SessionUser, int, bool, int, tuple[Event, ...]]] = []
    for i in range(count):
        if rng.random() < 0.2:
            user = SessionUser(f"anon-{rng.getrandbits(32):08x}", None, None)
        else:
            # Jane (the first user) shows up most, so there is always someone with history to ask about.
            user = people[0] if rng.random() < 0.3 else rng.choice(people)
        duration = rng.randint(2, 40) * 60_000 + rng.randint(0, 59_999)
        started = anchor_ms - rng.randint(2 * HOUR_MS, 7 * DAY_MS)
        # A session is exported once it has been idle for more than an hour.
        exported = started + duration + HOUR_MS + rng.randint(60_000, 15 * 60_000)
        exported = min(exported, anchor_ms)
        rec = f"{rng.randint(1, 9)}-{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        drafts.append((exported, started, duration, rec, user, rng.getrandbits(48), rng.random() < 0.5, i, ()))
    for n, d in enumerate(story.drafts(spec.org, spec.app, seed, anchor_ms, history, spec.site, spec.api)):
        drafts.append(
            (d.exported_ms, d.started_ms, d.duration_ms, d.recording_id, d.user, d.seed, d.gzip, count + n, d.story)
        )
    drafts.sort(key=lambda d: (d[0], d[1], d[2], d[3]))
    sessions = [
        SyntheticSession(
            org=spec.org,
            app=spec.app,
            seq=seq,
            recording_id=rec,
            session_index=0,
            user=user,
            started_ms=started,
            duration_ms=duration,
            exported_ms=exported,
            seed=session_seed,
            shape=spec.shape,
            gzip=gz,
            site=spec.site,
            api=spec.api,
            story=beats,
        )
        for seq, (exported, started, duration, rec, user, session_seed, gz, _, beats) in enumerate(drafts)
    ]
    return SandboxApp(spec=spec, users=users, sessions=sessions)
