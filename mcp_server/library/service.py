"""The index as the server holds it: opened on first use (a server that never searches never creates it)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import anyio

from mcp_server.errors import ConfigError
from mcp_server.library.db import database_errors, open_database
from mcp_server.library.store import Store
from mcp_server.settings import Settings


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
        return await anyio.to_thread.run_sync(lambda: self.store)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
