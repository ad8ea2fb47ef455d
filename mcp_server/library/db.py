"""One small interface over the two backends: SQLite (stdlib, embedded) and PostgreSQL (psycopg 3, shared).

Queries are written once with ``?`` placeholders; the few places where the dialects differ (substring
search, byte-order collation, locking) are methods here, so both backends answer every query the same.
Calls are synchronous and serialised per process by a lock; async code runs them in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

from mcp_server.errors import ConfigError
from mcp_server.library.url_password import without_password

Row = tuple[Any, ...]
# Tables holding anything about a user: vacuumed after deletions on PostgreSQL.
_USER_TABLES = (
    "srm_sessions",
    "srm_users",
    "srm_session_pages",
    "srm_session_errors",
    "srm_session_requests",
    "srm_session_events",
    "srm_sync_failures",
)


def database_errors() -> tuple[type[Exception], ...]:
    """The exceptions a database call raises: sqlite3's, and psycopg's once it is loaded (it is optional, and
    only imported when a PostgreSQL index is used)."""
    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error,) if psycopg is None else (sqlite3.Error, psycopg.Error)


def index_unavailable(exc: Exception) -> ConfigError:
    """What a user is told when a query on the index fails: what went wrong and what to try."""
    reason = " ".join(str(exc).split())[:300] or type(exc).__name__
    return ConfigError(
        f"The session index could not be read or written ({type(exc).__name__}: {reason}). Try again; if it keeps "
        "failing, check that the database is reachable and writable (session-replay-mcp doctor), or set "
        "SESSION_REPLAY_MCP_INDEX_URL to another index."
    )


class Tx(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def rowcount(self) -> int: ...


class Database:
    kind: Literal["sqlite", "postgresql"]
    location: str  # for people: a path, or the URL without its password

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def contains(self, column: str) -> str:
        """SQL true when ``column`` contains the next parameter (both already case-folded)."""
        raise NotImplementedError

    def collate(self, expression: str) -> str:
        """``expression`` compared by code point, as Python compares strings."""
        raise NotImplementedError

    @contextlib.contextmanager
    def transaction(self, *, exclusive: bool = False) -> Iterator[Tx]:
        raise NotImplementedError

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.transaction() as tx:
            return tx.execute(sql, params)

    def size_bytes(self) -> int:
        raise NotImplementedError

    def after_delete(self) -> None:
        """Make deleted rows unrecoverable from the files on disk."""

    def drop(self, tables: Sequence[str]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._count = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self._conn.execute(sql, tuple(params))
        rows = cursor.fetchall()
        self._count = cursor.rowcount
        return rows

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._conn.executemany(sql, rows)

    def rowcount(self) -> int:
        return self._count


class SqliteDatabase(Database):
    kind: Literal["sqlite", "postgresql"] = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.location = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                # Owner-only from the first byte: the index names users. SQLite gives its -wal and -shm files
                # the database file's permissions.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise ConfigError(
                f"The session index cannot be created at {path} ({exc.strerror or exc}). Set "
                "SESSION_REPLAY_MCP_INDEX_URL to a writable location."
            ) from None
        try:
            self._conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise ConfigError(
                f"The session index at {path} cannot be opened ({exc}). Check the path, or set "
                "SESSION_REPLAY_MCP_INDEX_URL to another location."
            ) from None
        self._conn.execute("PRAGMA journal_mode=WAL")  # several worker processes read while one writes
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages

    def contains(self, column: str) -> str:
        return f"instr({column}, ?) > 0"

    def collate(self, expression: str) -> str:
        return expression  # SQLite's BINARY collation compares UTF-8 bytes: code point order

    @contextlib.contextmanager
    def transaction(self, *, exclusive: bool = False) -> Iterator[Tx]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE" if exclusive else "BEGIN")
            try:
                yield _SqliteTx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total

    def after_delete(self) -> None:
        with self._lock:
            # secure_delete overwrote the pages in the database; the WAL still holds the old ones until this.
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def drop(self, tables: Sequence[str]) -> None:
        self.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}{suffix}").unlink()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _PostgresTx:
    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._count = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self._conn.execute(sql.replace("?", "%s"), tuple(params) if params else None)
        self._count = cursor.rowcount
        return list(cursor.fetchall()) if cursor.description else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._conn.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])

    def rowcount(self) -> int:
        return self._count


class PostgresDatabase(Database):
    kind: Literal["sqlite", "postgresql"] = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__()
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                "SESSION_REPLAY_MCP_INDEX_URL names a PostgreSQL database, but psycopg is not installed: "
                "install the extra with pip install 'session-replay-mcp[postgres]', or use SQLite (unset it)."
            ) from None
        self.location = without_password(url)
        self._url = url
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise ConfigError(
                f"Cannot connect to the PostgreSQL index at {self.location}: {str(exc).strip()[:300]}. "
                "Check SESSION_REPLAY_MCP_INDEX_URL and that the server is reachable."
            ) from None

    def contains(self, column: str) -> str:
        return f"strpos({column}, ?) > 0"

    def collate(self, expression: str) -> str:
        return f'{expression} COLLATE "C"'

    @contextlib.contextmanager
    def transaction(self, *, exclusive: bool = False) -> Iterator[Tx]:
        import psycopg

        with self._lock, contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self._conn.transaction())
            except psycopg.OperationalError:
                if not (self._conn.closed or self._conn.broken):
                    raise
                # The server restarted or dropped an idle connection: connect again, once.
                self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=10)
                stack.enter_context(self._conn.transaction())
            if exclusive:
                # One writer of the schema and the sync lock at a time, across every worker and machine.
                self._conn.execute("SELECT pg_advisory_xact_lock(7013)")
            yield _PostgresTx(self._conn)

    def size_bytes(self) -> int:
        rows = self.read(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = current_schema() AND left(c.relname, 4) = 'srm_'"
        )
        return int(rows[0][0])

    def after_delete(self) -> None:
        with self._lock:
            for table in _USER_TABLES:
                self._conn.execute(f"VACUUM {table}")

    def drop(self, tables: Sequence[str]) -> None:
        with self._lock:
            for table in tables:
                self._conn.execute(f"DROP TABLE IF EXISTS {table}")
        self.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_database(url: str | None, default_path: Path) -> Database:
    """The database SESSION_REPLAY_MCP_INDEX_URL names (sqlite URL or path, postgresql:// URL); else SQLite."""
    if not url:
        return SqliteDatabase(default_path)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    if url.startswith("sqlite:"):
        path = unquote(urlsplit(url).path)
        if url.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        if not path or path == "/":
            raise ConfigError(f"SESSION_REPLAY_MCP_INDEX_URL={url!r} names no file; use sqlite:////absolute/path.db")
        return SqliteDatabase(Path(path).expanduser())
    if "://" in url:
        raise ConfigError(
            f"SESSION_REPLAY_MCP_INDEX_URL must be a sqlite:////path.db URL, a file path or a postgresql:// URL; "
            f"got a {url.split('://', 1)[0]}:// URL."
        )
    return SqliteDatabase(Path(url).expanduser())
