"""The session index from a terminal: sync with progress, index stats, forget-user (no copy left), drop."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

from tests.test_transports import CLEAN_ENV, SCRIPT


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=300, env=env, check=False)


def test_sync_then_stats_then_forget_a_user_then_drop(tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    env = {
        **CLEAN_ENV,
        "SESSION_REPLAY_MCP_INDEX_URL": f"sqlite:///{db}",
        "SESSION_REPLAY_MCP_CACHE_DIR": str(tmp_path / "cache"),
    }
    synced = run("sync", "--sandbox", "--since", "8d", "--max-sessions", "60", env=env)
    assert synced.returncode == 0, synced.stderr
    assert re.search(r"^Stopped early \(max-sessions\) acme/web: 60 new sessions indexed", synced.stdout, re.M)
    assert "Run the same command again to continue where it stopped." in synced.stdout
    # Not a terminal: plain progress lines on stderr, no bar redrawn in place.
    assert re.search(r"^\d+ indexed, \d+ already indexed, 0 failed", synced.stderr, re.M)
    assert "\r" not in synced.stderr
    again = run("sync", "--sandbox", env=env)
    assert again.returncode == 0, again.stderr
    # The interrupted page is listed again: its 60 sessions are recognised, not downloaded again.
    assert re.search(r"^Synced acme/web: \d+ new sessions indexed, 60 already indexed, 0 failed", again.stdout, re.M)
    assert db.stat().st_mode & 0o777 == 0o600

    stats = run("index", "stats", env=env)
    assert stats.returncode == 0, stats.stderr
    assert f"Session index: sqlite at {db}" in stats.stdout
    sessions = int(re.search(r"^(\d+) sessions, [\d,]+ bytes \([\d,]+ bytes per session\)", stats.stdout, re.M)[1])  # type: ignore[index]
    assert sessions >= 200

    with sqlite3.connect(db) as conn:
        held = conn.execute("SELECT COUNT(*) FROM srm_sessions WHERE user_email = 'dana@wayne.example'").fetchone()[0]
    assert held >= 3
    forgot = run("index", "forget-user", "Dana@Wayne.example", env=env)
    assert forgot.returncode == 0, forgot.stderr
    assert f"deleted {held} indexed sessions and their cached exports" in forgot.stdout
    # No copy left in the database's files: secure_delete overwrote the pages, the WAL was checkpointed.
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("index.db*"))
    assert b"dana@wayne.example" not in on_disk and b"Dana Kowalski" not in on_disk
    cached = b"".join(p.read_bytes() for p in (tmp_path / "cache").rglob("*summary.json"))  # full and summary-only
    assert b"dana@wayne.example" not in cached and cached  # other users' exports stay cached

    refused = run("index", "drop", env=env)
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    dropped = run("index", "drop", "--yes", env=env)
    assert dropped.returncode == 0 and "Dropped the session index" in dropped.stdout
    assert not db.exists()


def test_call_find_sessions_in_the_sandbox_finds_the_story_lines() -> None:
    done = run("call", "find_sessions", "--sandbox", "error=PaymentDeclined", "limit=3", env=CLEAN_ENV)
    assert done.returncode == 0, done.stderr
    assert "`Dana Kowalski` `dana@wayne.example`" in done.stdout
    assert "**Index coverage:** `acme/web`" in done.stdout
