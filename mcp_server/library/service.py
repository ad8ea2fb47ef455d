"""The index as the server holds it: opened on first use (a server that never searches never creates it)."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import anyio

from mcp_server.errors import ConfigError
from mcp_server.library.db import database_errors, open_database
from mcp_server.library.store import Store
from mcp_server.settings import Settings

_RECORDED = 1024  # sessions whose recording this process remembers


def default_data_dir() -> Path:
    """The platform's per-user data directory for this program."""
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif os.uname().sysname == "Darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "session-replay-mcp"


def default_index_path() -> Path:
    return default_data_dir() / "index.db"


class Library:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None
        self._lock = threading.Lock()
        # (app, session id) -> the export URL this process last recorded for it, so that follow-up reads of one export
        # do not write the same row again (two thread hops and a commit per call).
        self._recorded: OrderedDict[tuple[str, str], str] = OrderedDict()

    @property
    def store(self) -> Store:
        """The index, created or migrated on first use (a ConfigError when its database cannot be opened)."""
        with self._lock:
            if self._store is None:
                db = open_database(self.settings.index_url, default_index_path())
                try:
                    self._store = Store(db)
                except Exception as exc:
                    # Looked up now: psycopg is optional and its errors are known only once it is loaded.
                    failures: tuple[type[Exception], ...] = (*database_errors(), OSError)
                    if not isinstance(exc, failures):
                        raise
                    db.close()
                    raise ConfigError(
                        f"The session index at {db.location} cannot be opened ({exc}). Check that the file and its "
                        "directory are writable, or set SESSION_REPLAY_MCP_INDEX_URL to another location."
                    ) from None
            return self._store

    async def open(self) -> Store:
        """``store`` from async code: opening may connect or migrate for seconds, so not on the event loop."""
        store = self._store
        return store if store is not None else await anyio.to_thread.run_sync(lambda: self.store)

    def recorded(self, app: str, session_id: str, url: str) -> bool:
        """Whether this process already recorded ``url`` as the export of this session."""
        return self._recorded.get((app, session_id)) == url

    def remember_recorded(self, app: str, session_id: str, url: str) -> None:
        self._recorded[(app, session_id)] = url
        self._recorded.move_to_end((app, session_id))
        while len(self._recorded) > _RECORDED:
            self._recorded.popitem(last=False)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
