"""The index: writing session facts, the sync's bookkeeping, and the queries behind find_sessions and
session_stats. Every statement is shared by both backends; see db.py for the few dialect differences."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from mcp_server.library.db import Database, Tx
from mcp_server.library.model import ExportRef, SessionFacts, fold, generalise_url
from mcp_server.library.schema import TABLES, migrate

DAY_MS = 86_400_000
_MAX_USER_KEYS = 500  # people a user filter resolves to before the query falls back to a subquery
GroupBy = Literal["errors", "requests", "pages", "events", "users", "days"]
_CHILD_TABLES = ("srm_session_pages", "srm_session_errors", "srm_session_requests", "srm_session_events")


@dataclass(frozen=True)
class SessionQuery:
    """Filters shared by find_sessions and session_stats (text values as the caller gave them)."""

    user: str | None = None
    error: str | None = None
    url: str | None = None
    event: str | None = None
    text: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None

    @property
    def has_content_filter(self) -> bool:
        return any(v is not None for v in (self.user, self.error, self.url, self.event, self.text))


@dataclass(frozen=True)
class SessionRow:
    app: str
    session_id: str
    started_ms: int
    ended_ms: int
    user_id: str | None
    user_name: str | None
    user_email: str | None
    pages: list[str]
    pages_total: int
    errors: int
    failed_requests: int
    custom_events: int
    complete: bool


@dataclass(frozen=True)
class StatRow:
    key: tuple[Any, ...]  # errors: (type, message); requests: (method, pattern, status); pages: (pattern,);
    # events: (name,); users: (user_key, user_id, email, name); days: (day number since 1970,)
    sessions: int
    users: int
    occurrences: int
    errors: int
    failed_requests: int
    first_ms: int
    last_ms: int
    example: tuple[str, str] | None = None  # (app, session_id) of the latest session in the group


@dataclass(frozen=True)
class AppCoverage:
    app: str
    sessions: int
    first_started_ms: int | None
    last_started_ms: int | None
    window_from_ms: int | None
    synced_through_ms: int | None
    last_sync_ms: int | None
    failures: int
    running_since_ms: int | None
    running_progress: dict[str, Any] | None


@dataclass(frozen=True)
class Coverage:
    apps: list[AppCoverage] = field(default_factory=list)

    @property
    def sessions(self) -> int:
        return sum(a.sessions for a in self.apps)

    def _pick(self, attr: str, fn: Any) -> int | None:
        values = [getattr(a, attr) for a in self.apps if getattr(a, attr) is not None]
        return fn(values) if values else None

    @property
    def first_started_ms(self) -> int | None:
        return self._pick("first_started_ms", min)

    @property
    def last_started_ms(self) -> int | None:
        return self._pick("last_started_ms", max)

    @property
    def window_from_ms(self) -> int | None:
        return self._pick("window_from_ms", min)

    @property
    def synced_through_ms(self) -> int | None:
        return self._pick("synced_through_ms", min)

    @property
    def last_sync_ms(self) -> int | None:
        return self._pick("last_sync_ms", max)


@dataclass(frozen=True)
class SyncPosition:
    window_from_ms: int | None
    cursor: str | None
    cursor_date_ms: int | None
    synced_through_ms: int | None
    last_sync_ms: int | None


@dataclass(frozen=True)
class LockResult:
    acquired: bool
    holder_started_ms: int | None = None
    holder_progress: dict[str, Any] | None = None


@dataclass(frozen=True)
class Failure:
    export_key: str
    session_id: str | None
    export: ExportRef
    reason: str
    attempts: int


class Store:
    """The index over one database; every method is synchronous (run it in a worker thread from async code)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        migrate(db)

    def close(self) -> None:
        self.db.close()

    # -- writing ------------------------------------------------------------------------------

    def put(self, facts: SessionFacts, now_ms: int) -> None:
        self.put_many([facts], now_ms)

    def put_many(self, batch: Sequence[SessionFacts], now_ms: int) -> None:
        """Store (or replace) these sessions' facts in one transaction, a few statements per batch."""
        batch = list({(f.app, f.session_id): f for f in batch}.values())  # the last facts of a session win
        if not batch:
            return
        keys = [(f.app, f.session_id) for f in batch]
        sessions: list[tuple[Any, ...]] = []
        pages: list[tuple[Any, ...]] = []
        errors: list[tuple[Any, ...]] = []
        requests: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        users: set[tuple[str, str, str, str]] = set()
        for f in batch:
            ref = f.export
            sessions.append(
                (
                    f.app,
                    f.session_id,
                    ref.url,
                    ref.expires_ms,
                    ref.listing_cursor,
                    ref.listing_date_ms,
                    f.started_ms,
                    f.ended_ms,
                    f.duration_ms,
                    f.user_key,
                    f.user_id,
                    f.user_name,
                    f.user_email,
                    fold(f.user_id),
                    fold(f.user_name),
                    fold(f.user_email),
                    json.dumps(f.traits, ensure_ascii=False),
                    json.dumps(f.device, ensure_ascii=False),
                    json.dumps(list(f.pages), ensure_ascii=False),
                    f.pages_total,
                    f.events,
                    f.errors,
                    f.failed_requests,
                    f.console_errors,
                    f.console_warnings,
                    f.custom_events,
                    int(f.complete),
                    now_ms,
                )
            )
            base = (f.app, f.session_id, f.started_ms, f.user_key)
            for i, href in enumerate(f.pages):
                pattern = generalise_url(href)
                pages.append((*base, i, href, pattern, _search(href, pattern)))
            for i, e in enumerate(f.error_list):
                search = _search(e.error_type, e.message)
                errors.append((*base, i, e.error_type, e.message, search, e.count, e.first_offset_ms, e.page))
            for i, r in enumerate(f.requests):
                requests.append((*base, i, r.method, r.url, r.pattern, r.status, r.count, _search(r.url, r.pattern)))
            events.extend((*base, e.name, fold(e.name), e.count) for e in f.custom)
            if f.user_key is not None:
                users.add((f.user_key, fold(f.user_id), fold(f.user_email), fold(f.user_name)))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _SESSION_COLUMNS[2:])
        # Exclusive: writers take turns, so the per-app session count (coverage reads it) stays exact.
        with self.db.transaction(exclusive=True) as tx:
            tx.executemany(
                "INSERT INTO srm_sync_state (app) VALUES (?) ON CONFLICT (app) DO NOTHING",
                [(app,) for app in sorted({f.app for f in batch})],
            )
            known = _known_keys(tx, keys)
            added = Counter(key[0] for key in keys if key not in known)
            for app in {a for a, _ in keys}:
                added.setdefault(app, 0)
            span = {
                app: (
                    min(f.started_ms for f in batch if f.app == app),
                    max(f.started_ms for f in batch if f.app == app),
                )
                for app in added
            }
            tx.executemany(
                "UPDATE srm_sync_state SET sessions = sessions + ?, "
                "first_started_ms = CASE WHEN first_started_ms IS NULL OR first_started_ms > ? THEN ? "
                "ELSE first_started_ms END, "
                "last_started_ms = CASE WHEN last_started_ms IS NULL OR last_started_ms < ? THEN ? "
                "ELSE last_started_ms END WHERE app = ?",
                [(n, span[app][0], span[app][0], span[app][1], span[app][1], app) for app, n in sorted(added.items())],
            )
            for table in (*_CHILD_TABLES, "srm_sync_failures"):
                key_column = "export_key" if table == "srm_sync_failures" else "session_id"
                tx.executemany(f"DELETE FROM {table} WHERE app = ? AND {key_column} = ?", keys)
            columns = ", ".join(_SESSION_COLUMNS)
            tx.executemany(
                f"INSERT INTO srm_sessions ({columns}) VALUES ({', '.join('?' * len(_SESSION_COLUMNS))}) "
                f"ON CONFLICT (app, session_id) DO UPDATE SET {updates}",
                sessions,
            )
            tx.executemany("INSERT INTO srm_session_pages VALUES (?, ?, ?, ?, ?, ?, ?, ?)", pages)
            tx.executemany("INSERT INTO srm_session_errors VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", errors)
            tx.executemany("INSERT INTO srm_session_requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", requests)
            tx.executemany("INSERT INTO srm_session_events VALUES (?, ?, ?, ?, ?, ?, ?)", events)
            tx.executemany("INSERT INTO srm_users VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", sorted(users))

    def indexed(self, app: str, session_ids: Iterable[str]) -> set[str]:
        keys = [(app, sid) for sid in dict.fromkeys(session_ids)]
        with self.db.transaction() as tx:
            return {sid for _, sid in _known_keys(tx, keys)}

    def update_exports(self, app: str, refs: dict[str, ExportRef]) -> None:
        """Fresh download URLs (and where they were listed) for sessions already indexed."""
        with self.db.transaction() as tx:
            tx.executemany(
                "UPDATE srm_sessions SET export_url = ?, url_expires_ms = ?, listing_cursor = ?, listing_date_ms = ? "
                "WHERE app = ? AND session_id = ?",
                [(r.url, r.expires_ms, r.listing_cursor, r.listing_date_ms, app, sid) for sid, r in refs.items()],
            )

    def update_exports_url(self, app: str, session_id: str, url: str, expires_ms: int | None) -> None:
        """A newer download URL for an indexed session (its listing position stays)."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE srm_sessions SET export_url = ?, url_expires_ms = ? WHERE app = ? AND session_id = ?",
                (url, expires_ms, app, session_id),
            )

    def export_of(self, session_id: str, prefer_app: str | None = None) -> tuple[str, ExportRef] | None:
        rows = self.db.read(
            "SELECT app, export_url, url_expires_ms, listing_cursor, listing_date_ms FROM srm_sessions "
            "WHERE session_id = ?",
            (session_id,),
        )
        if not rows:
            return None
        row = next((r for r in rows if r[0] == prefer_app), min(rows))
        return row[0], ExportRef(row[1], row[2], row[3], row[4])

    # -- failures -------------------------------------------------------------------------------

    def record_failure(self, app: str, key: str, session_id: str | None, ref: ExportRef, reason: str, now: int) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO srm_sync_failures VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (app, export_key) "
                "DO UPDATE SET export_url = excluded.export_url, url_expires_ms = excluded.url_expires_ms, "
                "listing_cursor = excluded.listing_cursor, listing_date_ms = excluded.listing_date_ms, "
                "reason = excluded.reason, attempts = srm_sync_failures.attempts + 1, last_ms = excluded.last_ms",
                (app, key, session_id, ref.url, ref.expires_ms, ref.listing_cursor, ref.listing_date_ms, reason, now),
            )

    def failures(self, app: str) -> list[Failure]:
        rows = self.db.read(
            "SELECT export_key, session_id, export_url, url_expires_ms, listing_cursor, listing_date_ms, reason, "
            "attempts FROM srm_sync_failures WHERE app = ? ORDER BY last_ms, export_key",
            (app,),
        )
        return [Failure(r[0], r[1], ExportRef(r[2], r[3], r[4], r[5]), r[6], r[7]) for r in rows]

    # -- sync bookkeeping -----------------------------------------------------------------------

    def lock(self, app: str, owner: str, now: int, lease_ms: int) -> LockResult:
        """Take the app's sync lock (one sync per app across every worker), unless a live holder has it."""
        with self.db.transaction(exclusive=True) as tx:
            tx.execute("INSERT INTO srm_sync_state (app) VALUES (?) ON CONFLICT (app) DO NOTHING", (app,))
            tx.execute(
                "UPDATE srm_sync_state SET lock_owner = ?, lock_until_ms = ?, lock_started_ms = ?, progress = NULL "
                "WHERE app = ? AND (lock_owner IS NULL OR lock_until_ms < ? OR lock_owner = ?)",
                (owner, now + lease_ms, now, app, now, owner),
            )
            if tx.rowcount() == 1:
                return LockResult(True)
            row = tx.execute("SELECT lock_started_ms, progress FROM srm_sync_state WHERE app = ?", (app,))[0]
        return LockResult(False, row[0], json.loads(row[1]) if row[1] else None)

    def renew(self, app: str, owner: str, until_ms: int, progress: dict[str, Any]) -> bool:
        """Extend the lock's lease; False when this owner no longer holds it."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE srm_sync_state SET lock_until_ms = ?, progress = ? WHERE app = ? AND lock_owner = ?",
                (until_ms, json.dumps(progress), app, owner),
            )
            return tx.rowcount() == 1

    def unlock(self, app: str, owner: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE srm_sync_state SET lock_owner = NULL, lock_until_ms = NULL, lock_started_ms = NULL, "
                "progress = NULL WHERE app = ? AND lock_owner = ?",
                (app, owner),
            )

    def position(self, app: str) -> SyncPosition:
        rows = self.db.read(
            "SELECT window_from_ms, cursor, cursor_date_ms, synced_through_ms, last_sync_ms FROM srm_sync_state "
            "WHERE app = ?",
            (app,),
        )
        return SyncPosition(*rows[0]) if rows else SyncPosition(None, None, None, None, None)

    def save_position(self, app: str, position: SyncPosition) -> None:
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO srm_sync_state (app) VALUES (?) ON CONFLICT (app) DO NOTHING", (app,))
            tx.execute(
                "UPDATE srm_sync_state SET window_from_ms = ?, cursor = ?, cursor_date_ms = ?, synced_through_ms = ?, "
                "last_sync_ms = ? WHERE app = ?",
                (
                    position.window_from_ms,
                    position.cursor,
                    position.cursor_date_ms,
                    position.synced_through_ms,
                    position.last_sync_ms,
                    app,
                ),
            )

    # -- privacy --------------------------------------------------------------------------------

    def prune(self, before_ms: int) -> int:
        """Delete every session that started before ``before_ms`` (retention)."""
        with self.db.transaction(exclusive=True) as tx:
            per_app = tx.execute(
                "SELECT app, COUNT(*) FROM srm_sessions WHERE started_ms < ? GROUP BY app", (before_ms,)
            )
            if not per_app:
                return 0
            tx.executemany(
                "UPDATE srm_sync_state SET sessions = sessions - ? WHERE app = ?", [(n, a) for a, n in per_app]
            )
            for table in (*_CHILD_TABLES, "srm_sessions"):
                tx.execute(f"DELETE FROM {table} WHERE started_ms < ?", (before_ms,))
            tx.execute(
                "DELETE FROM srm_users WHERE user_key NOT IN "
                "(SELECT user_key FROM srm_sessions WHERE user_key IS NOT NULL)"
            )
            # The index no longer covers what was pruned: coverage must show it as a gap.
            apps = [str(a) for a, _ in per_app]
            tx.executemany(
                "UPDATE srm_sync_state SET window_from_ms = ? WHERE app = ? AND window_from_ms < ?",
                [(before_ms, a, before_ms) for a in apps],
            )
            self._respan(tx, apps)
        self.db.after_delete()
        return sum(int(n) for _, n in per_app)

    def forget_user(self, who: str) -> list[str]:
        """Delete every session of the user with this id or email; the export URLs they had (to purge caches)."""
        key = fold(who)
        with self.db.transaction(exclusive=True) as tx:
            rows = tx.execute(
                "SELECT app, session_id, export_url FROM srm_sessions WHERE user_id_fold = ? OR user_email_fold = ?",
                (key, key),
            )
            for app, session_id, _ in rows:
                for table in (*_CHILD_TABLES, "srm_sessions"):
                    tx.execute(f"DELETE FROM {table} WHERE app = ? AND session_id = ?", (app, session_id))
                tx.execute("DELETE FROM srm_sync_failures WHERE app = ? AND session_id = ?", (app, session_id))
            tx.execute("DELETE FROM srm_users WHERE id_fold = ? OR email_fold = ?", (key, key))
            gone = Counter(app for app, _, _ in rows)
            tx.executemany(
                "UPDATE srm_sync_state SET sessions = sessions - ? WHERE app = ?", [(n, a) for a, n in gone.items()]
            )
            self._respan(tx, list(gone))
        self.db.after_delete()
        return [r[2] for r in rows]

    def _respan(self, tx: Tx, apps: list[str]) -> None:
        """Recompute the apps' first and last session start after deletions (rare: retention, forget-user)."""
        for app in apps:
            tx.execute(
                "UPDATE srm_sync_state SET "
                "first_started_ms = (SELECT MIN(started_ms) FROM srm_sessions WHERE app = ?), "
                "last_started_ms = (SELECT MAX(started_ms) FROM srm_sessions WHERE app = ?) WHERE app = ?",
                (app, app, app),
            )

    def drop(self) -> None:
        self.db.drop(TABLES)

    # -- reading --------------------------------------------------------------------------------

    def coverage(self) -> Coverage:
        with self.db.transaction() as tx:
            # Every app with sessions has a sync state row (put_many makes one), so no scan finds the apps.
            rows = tx.execute(
                "SELECT app, sessions, first_started_ms, last_started_ms, window_from_ms, synced_through_ms, "
                "last_sync_ms, lock_started_ms, progress FROM srm_sync_state"
            )
            state = {r[0]: r[4:] for r in rows}
            counts = {r[0]: r[1:4] for r in rows}
            failures: dict[str, int] = dict(tx.execute("SELECT app, COUNT(*) FROM srm_sync_failures GROUP BY app"))
        apps = []
        for app in sorted(set(counts) | set(state)):
            n, first, last = counts.get(app, (0, None, None))
            window, through, last_sync, running, progress = state.get(app, (None, None, None, None, None))
            apps.append(
                AppCoverage(
                    app=app,
                    sessions=int(n),
                    first_started_ms=first,
                    last_started_ms=last,
                    window_from_ms=window,
                    synced_through_ms=through,
                    last_sync_ms=last_sync,
                    failures=int(failures.get(app, 0)),
                    running_since_ms=running,
                    running_progress=json.loads(progress) if progress else None,
                )
            )
        return Coverage(apps)

    def find(self, query: SessionQuery, *, after: tuple[int, str, str] | None, limit: int) -> list[SessionRow]:
        where, params = self._where(query, "s")
        if after is not None:
            c = self.db.collate
            where.append(
                f"(s.started_ms < ? OR (s.started_ms = ? AND ({c('s.app')} < ? OR (s.app = ? AND "
                f"{c('s.session_id')} < ?))))"
            )
            params += [after[0], after[0], after[1], after[1], after[2]]
        rows = self.db.read(
            "SELECT s.app, s.session_id, s.started_ms, s.ended_ms, s.user_id, s.user_name, s.user_email, s.pages, "
            "s.pages_total, s.errors, s.failed_requests, s.custom_events, s.complete FROM srm_sessions s "
            f"{_where_sql(where)} ORDER BY s.started_ms DESC, {self.db.collate('s.app')} DESC, "
            f"{self.db.collate('s.session_id')} DESC LIMIT ?",
            (*params, limit),
        )
        return [
            SessionRow(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]), r[8], r[9], r[10], r[11], bool(r[12])
            )
            for r in rows
        ]

    def stats(self, group_by: GroupBy, query: SessionQuery, *, limit: int) -> list[StatRow]:
        spec = _GROUPS[group_by]
        c = self.db.collate
        where, params = self._group_where(spec, query)
        keys = ", ".join(spec.key)
        shown = ", ".join(spec.shown(c))
        order = ", ".join(spec.order(c))
        rows = self.db.read(
            f"SELECT {shown}, {spec.aggregates} FROM {spec.table} {spec.alias} {_where_sql(where)} "
            f"GROUP BY {keys} ORDER BY {order} LIMIT ?",
            (*params, limit),
        )
        n = len(spec.shown(c))
        out = []
        for r in rows:
            key = tuple(r[:n])
            sessions, users, occurrences, errors, failed, first, last = r[n:]
            example = self._example(spec, query, key)
            out.append(
                StatRow(
                    key, int(sessions), int(users), int(occurrences), int(errors), int(failed), first, last, example
                )
            )
        return out

    def _example(self, spec: _Group, query: SessionQuery, key: tuple[Any, ...]) -> tuple[str, str] | None:
        where, params = self._group_where(spec, query)
        where.append(spec.match_key)
        params += list(key[: spec.key_params])
        c = self.db.collate
        a = spec.alias
        rows = self.db.read(
            f"SELECT {a}.app, {a}.session_id FROM {spec.table} {a} {_where_sql(where)} "
            f"ORDER BY {a}.started_ms DESC, {c(a + '.app')} DESC, {c(a + '.session_id')} DESC LIMIT 1",
            params,
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def _group_where(self, spec: _Group, query: SessionQuery) -> tuple[list[str], list[Any]]:
        a = spec.alias
        where: list[str] = []
        params: list[Any] = []
        if query.since_ms is not None:
            where.append(f"{a}.started_ms >= ?")
            params.append(query.since_ms)
        if query.until_ms is not None:
            where.append(f"{a}.started_ms < ?")
            params.append(query.until_ms)
        if spec.table == "srm_sessions":
            content, content_params = self._where(replace(query, since_ms=None, until_ms=None), a)
            where += content
            params += content_params
        elif query.has_content_filter:
            inner, inner_params = self._where(replace(query, since_ms=None, until_ms=None), "s")
            where.append(
                f"({a}.app, {a}.session_id) IN (SELECT s.app, s.session_id FROM srm_sessions s {_where_sql(inner)})"
            )
            params += inner_params
        if spec.filter_field is not None and getattr(query, spec.filter_field) is not None:
            value = fold(getattr(query, spec.filter_field))
            if spec.filter_field == "event":
                where.append(f"{a}.name_fold = ?")
            else:
                where.append(self.db.contains(f"{a}.search_fold"))
            params.append(value)
        if spec.table == "srm_sessions" and spec.key == ("s.user_key",):
            where.append("s.user_key IS NOT NULL")
        return where, params

    def _where(self, q: SessionQuery, a: str) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if q.since_ms is not None:
            where.append(f"{a}.started_ms >= ?")
            params.append(q.since_ms)
        if q.until_ms is not None:
            where.append(f"{a}.started_ms < ?")
            params.append(q.until_ms)
        conditions = {
            "user": self._user_condition,
            "error": self._error_condition,
            "url": self._url_condition,
            "event": self._event_condition,
        }
        for name, condition in conditions.items():
            value = getattr(q, name)
            if value is not None:
                sql, p = condition(a, fold(value))
                where.append(sql)
                params += p
        if q.text is not None:
            parts = [condition(a, fold(q.text)) for condition in conditions.values()]
            where.append("(" + " OR ".join(sql for sql, _ in parts) + ")")
            for _, p in parts:
                params += p
        return where, params

    def _user_condition(self, a: str, v: str) -> tuple[str, list[Any]]:
        contains = self.db.contains
        # The people first (a small table), then their sessions through the (user_key, started_ms) index: both
        # planners then start from the few matching users instead of walking every session newest first.
        keys = [
            r[0]
            for r in self.db.read(
                "SELECT DISTINCT user_key FROM srm_users WHERE id_fold = ? OR email_fold = ? OR "
                f"{contains('name_fold')} ORDER BY 1 LIMIT {_MAX_USER_KEYS + 1}",
                (v, v, v),
            )
        ]
        exact = f"({a}.user_id_fold = ? OR {a}.user_email_fold = ? OR {contains(a + '.user_name_fold')})"
        if not keys:
            return "0 = 1", []
        if len(keys) > _MAX_USER_KEYS:
            return (
                f"({a}.user_key IN (SELECT u.user_key FROM srm_users u WHERE u.id_fold = ? OR u.email_fold = ? OR "
                f"{contains('u.name_fold')}) AND {exact})",
                [v, v, v, v, v, v],
            )
        return f"({a}.user_key IN ({', '.join('?' * len(keys))}) AND {exact})", [*keys, v, v, v]

    def _error_condition(self, a: str, v: str) -> tuple[str, list[Any]]:
        return (
            f"EXISTS (SELECT 1 FROM srm_session_errors e WHERE e.app = {a}.app AND e.session_id = {a}.session_id "
            f"AND {self.db.contains('e.search_fold')})",
            [v],
        )

    def _url_condition(self, a: str, v: str) -> tuple[str, list[Any]]:
        contains = self.db.contains
        return (
            f"(EXISTS (SELECT 1 FROM srm_session_pages p WHERE p.app = {a}.app AND p.session_id = {a}.session_id "
            f"AND {contains('p.search_fold')}) OR EXISTS (SELECT 1 FROM srm_session_requests r WHERE "
            f"r.app = {a}.app AND r.session_id = {a}.session_id AND {contains('r.search_fold')}))",
            [v, v],
        )

    def _event_condition(self, a: str, v: str) -> tuple[str, list[Any]]:
        return (
            f"EXISTS (SELECT 1 FROM srm_session_events v WHERE v.app = {a}.app AND v.session_id = {a}.session_id "
            "AND v.name_fold = ?)",
            [v],
        )

    def info(self) -> dict[str, Any]:
        coverage = self.coverage()
        return {
            "backend": self.db.kind,
            "location": self.db.location,
            "sessions": coverage.sessions,
            "bytes": self.db.size_bytes(),
            "apps": [a.__dict__ for a in coverage.apps],
        }


_SESSION_COLUMNS = (
    "app",
    "session_id",
    "export_url",
    "url_expires_ms",
    "listing_cursor",
    "listing_date_ms",
    "started_ms",
    "ended_ms",
    "duration_ms",
    "user_key",
    "user_id",
    "user_name",
    "user_email",
    "user_id_fold",
    "user_name_fold",
    "user_email_fold",
    "traits",
    "device",
    "pages",
    "pages_total",
    "events",
    "errors",
    "failed_requests",
    "console_errors",
    "console_warnings",
    "custom_events",
    "complete",
    "indexed_ms",
)


def _known_keys(tx: Tx, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (app, session id) pairs are indexed; looked up by session id, the index every plan uses."""
    known: set[tuple[str, str]] = set()
    ids = sorted({sid for _, sid in keys})
    wanted = set(keys)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = tx.execute(
            f"SELECT app, session_id FROM srm_sessions WHERE session_id IN ({', '.join('?' * len(chunk))})", chunk
        )
        known.update(key for key in ((r[0], r[1]) for r in rows) if key in wanted)
    return known


def _search(*parts: str) -> str:
    # Queries never hold a newline, so a match never spans two parts.
    return "\n".join(fold(p) for p in parts)


def _where_sql(where: list[str]) -> str:
    return ("WHERE " + " AND ".join(where)) if where else ""


_DISTINCT_SESSIONS = "COUNT(DISTINCT {a}.app || ' ' || {a}.session_id)"


@dataclass(frozen=True)
class _Group:
    table: str
    alias: str
    key: tuple[str, ...]  # GROUP BY expressions
    extra_shown: tuple[tuple[str, str], ...]  # (aggregate, column) shown after the keys, compared by code point
    aggregates: str  # sessions, users, occurrences, errors, failed, first, last
    filter_field: str | None  # the query field that also narrows this table's rows
    match_key: str  # WHERE fragment selecting one group (for its example session)
    key_params: int
    ranking: tuple[str, ...]  # ORDER BY after the aggregates' positions are known

    def shown(self, collate: Any) -> list[str]:
        return [*self.key, *(f"{fn}({collate(column)})" for fn, column in self.extra_shown)]

    def order(self, collate: Any) -> list[str]:
        return [r if not r.startswith("C:") else collate(r[2:]) for r in self.ranking]


def _agg(a: str, sessions: str, occurrences: str, errors: str, failed: str) -> str:
    return (
        f"{sessions}, COUNT(DISTINCT {a}.user_key), {occurrences}, {errors}, {failed}, "
        f"MIN({a}.started_ms), MAX({a}.started_ms)"
    )


_GROUPS: dict[str, _Group] = {
    "errors": _Group(
        "srm_session_errors",
        "e",
        ("e.error_type", "e.message"),
        (),
        _agg("e", "COUNT(*)", "SUM(e.count)", "SUM(e.count)", "0"),
        "error",
        "e.error_type = ? AND e.message = ?",
        2,
        ("3 DESC", "4 DESC", "5 DESC", "C:e.error_type", "C:e.message"),
    ),
    "requests": _Group(
        "srm_session_requests",
        "r",
        ("r.method", "r.pattern", "r.status"),
        (),
        _agg("r", _DISTINCT_SESSIONS.format(a="r"), "SUM(r.count)", "0", "SUM(r.count)"),
        "url",
        "r.method = ? AND r.pattern = ? AND r.status = ?",
        3,
        ("4 DESC", "5 DESC", "6 DESC", "C:r.method", "C:r.pattern", "r.status"),
    ),
    "pages": _Group(
        "srm_session_pages",
        "p",
        ("p.pattern",),
        (),
        _agg("p", _DISTINCT_SESSIONS.format(a="p"), "COUNT(*)", "0", "0"),
        "url",
        "p.pattern = ?",
        1,
        ("2 DESC", "3 DESC", "4 DESC", "C:p.pattern"),
    ),
    "events": _Group(
        "srm_session_events",
        "v",
        ("v.name_fold",),
        (("MIN", "v.name"),),
        _agg("v", _DISTINCT_SESSIONS.format(a="v"), "SUM(v.count)", "0", "0"),
        "event",
        "v.name_fold = ?",
        1,
        ("3 DESC", "4 DESC", "5 DESC", "C:v.name_fold"),
    ),
    "users": _Group(
        "srm_sessions",
        "s",
        ("s.user_key",),
        (("MAX", "s.user_id"), ("MAX", "s.user_email"), ("MAX", "s.user_name")),
        _agg("s", "COUNT(*)", "COUNT(*)", "SUM(s.errors)", "SUM(s.failed_requests)"),
        None,
        "s.user_key = ?",
        1,
        ("5 DESC", "8 DESC", "9 DESC", "C:s.user_key"),
    ),
    "days": _Group(
        "srm_sessions",
        "s",
        (f"s.started_ms / {DAY_MS}",),
        (),
        _agg("s", "COUNT(*)", "COUNT(*)", "SUM(s.errors)", "SUM(s.failed_requests)"),
        None,
        f"s.started_ms / {DAY_MS} = ?",
        1,
        ("1 DESC",),
    ),
}
