"""The index's one schema, created and migrated by the server; a version table says which migrations ran.

Types are the common ground of SQLite and PostgreSQL (BIGINT, INTEGER, TEXT), so one DDL serves both.
Tables are prefixed ``srm_`` because a shared PostgreSQL database may hold other applications' tables.
"""

from __future__ import annotations

from mcp_server.errors import ConfigError
from mcp_server.library.db import Database

SCHEMA_VERSION = 1

# Per session; child tables repeat started_ms and user_key so aggregates need no join. The sync state row of
# each app also keeps its session count and first and last start, so stating coverage never scans sessions.
_V1 = (
    """CREATE TABLE srm_sessions (
        app TEXT NOT NULL, session_id TEXT NOT NULL,
        export_url TEXT NOT NULL, url_expires_ms BIGINT, listing_cursor TEXT, listing_date_ms BIGINT,
        started_ms BIGINT NOT NULL, ended_ms BIGINT NOT NULL, duration_ms BIGINT NOT NULL,
        user_key TEXT, user_id TEXT, user_name TEXT, user_email TEXT,
        user_id_fold TEXT NOT NULL, user_name_fold TEXT NOT NULL, user_email_fold TEXT NOT NULL,
        traits TEXT NOT NULL, device TEXT NOT NULL, pages TEXT NOT NULL, pages_total INTEGER NOT NULL,
        events INTEGER NOT NULL, errors INTEGER NOT NULL, failed_requests INTEGER NOT NULL,
        console_errors INTEGER NOT NULL, console_warnings INTEGER NOT NULL, custom_events INTEGER NOT NULL,
        complete INTEGER NOT NULL, indexed_ms BIGINT NOT NULL,
        PRIMARY KEY (app, session_id))""",
    "CREATE INDEX srm_sessions_started ON srm_sessions (started_ms)",
    "CREATE INDEX srm_sessions_user ON srm_sessions (user_key, started_ms)",
    "CREATE INDEX srm_sessions_sid ON srm_sessions (session_id)",
    # Distinct identities, so a search by part of a name scans people, not sessions.
    """CREATE TABLE srm_users (
        user_key TEXT NOT NULL, id_fold TEXT NOT NULL, email_fold TEXT NOT NULL, name_fold TEXT NOT NULL,
        PRIMARY KEY (user_key, id_fold, email_fold, name_fold))""",
    """CREATE TABLE srm_session_pages (
        app TEXT NOT NULL, session_id TEXT NOT NULL, started_ms BIGINT NOT NULL, user_key TEXT,
        position INTEGER NOT NULL, href TEXT NOT NULL, pattern TEXT NOT NULL, search_fold TEXT NOT NULL,
        PRIMARY KEY (app, session_id, position))""",
    "CREATE INDEX srm_pages_started ON srm_session_pages (started_ms)",
    """CREATE TABLE srm_session_errors (
        app TEXT NOT NULL, session_id TEXT NOT NULL, started_ms BIGINT NOT NULL, user_key TEXT,
        position INTEGER NOT NULL, error_type TEXT NOT NULL, message TEXT NOT NULL, search_fold TEXT NOT NULL,
        count INTEGER NOT NULL, first_offset_ms BIGINT, page TEXT,
        PRIMARY KEY (app, session_id, position))""",
    "CREATE INDEX srm_errors_started ON srm_session_errors (started_ms)",
    "CREATE INDEX srm_errors_group ON srm_session_errors (error_type, message, started_ms)",
    """CREATE TABLE srm_session_requests (
        app TEXT NOT NULL, session_id TEXT NOT NULL, started_ms BIGINT NOT NULL, user_key TEXT,
        position INTEGER NOT NULL, method TEXT NOT NULL, url TEXT NOT NULL, pattern TEXT NOT NULL,
        status INTEGER NOT NULL, count INTEGER NOT NULL, search_fold TEXT NOT NULL,
        PRIMARY KEY (app, session_id, position))""",
    "CREATE INDEX srm_requests_started ON srm_session_requests (started_ms)",
    """CREATE TABLE srm_session_events (
        app TEXT NOT NULL, session_id TEXT NOT NULL, started_ms BIGINT NOT NULL, user_key TEXT,
        name TEXT NOT NULL, name_fold TEXT NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (app, session_id, name))""",
    "CREATE INDEX srm_events_name ON srm_session_events (name_fold, started_ms)",
    "CREATE INDEX srm_events_started ON srm_session_events (started_ms)",
    """CREATE TABLE srm_sync_state (
        app TEXT PRIMARY KEY, sessions BIGINT NOT NULL DEFAULT 0, first_started_ms BIGINT, last_started_ms BIGINT,
        window_from_ms BIGINT, cursor TEXT, cursor_date_ms BIGINT,
        synced_through_ms BIGINT, last_sync_ms BIGINT,
        lock_owner TEXT, lock_until_ms BIGINT, lock_started_ms BIGINT, progress TEXT)""",
    """CREATE TABLE srm_sync_failures (
        app TEXT NOT NULL, export_key TEXT NOT NULL, session_id TEXT, export_url TEXT NOT NULL,
        url_expires_ms BIGINT, listing_cursor TEXT, listing_date_ms BIGINT,
        reason TEXT NOT NULL, attempts INTEGER NOT NULL, last_ms BIGINT NOT NULL,
        PRIMARY KEY (app, export_key))""",
)

MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1}
TABLES = (
    "srm_sessions",
    "srm_users",
    "srm_session_pages",
    "srm_session_errors",
    "srm_session_requests",
    "srm_session_events",
    "srm_sync_state",
    "srm_sync_failures",
    "srm_schema_version",
)


def migrate(db: Database) -> None:
    """Create the schema, or bring it up to date; safe when several workers start at once."""
    with db.transaction(exclusive=True) as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS srm_schema_version (version INTEGER NOT NULL)")
        rows = tx.execute("SELECT MAX(version) FROM srm_schema_version")
        current = rows[0][0] or 0
        if current > SCHEMA_VERSION:
            raise ConfigError(
                f"The session index at {db.location} has schema version {current}, newer than this server "
                f"understands ({SCHEMA_VERSION}): upgrade session-replay-mcp, or point SESSION_REPLAY_MCP_INDEX_URL "
                "at another index."
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                tx.execute(statement)
            tx.execute("INSERT INTO srm_schema_version (version) VALUES (?)", (version,))
