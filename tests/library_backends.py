"""The index backends every library test runs against: SQLite always, PostgreSQL when a server is given."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

POSTGRES_ENV = "SESSION_REPLAY_MCP_TEST_POSTGRES_URL"
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not os.environ.get(POSTGRES_ENV),
            reason=f"{POSTGRES_ENV} is not set (a PostgreSQL server to test the shared index against)",
        ),
    ),
]


@contextmanager
def index_url(backend: str, directory: Path) -> Iterator[str]:
    """A fresh, empty index of this backend; PostgreSQL ones live in their own schema, dropped afterwards."""
    if backend == "sqlite":
        yield str(directory / f"index-{uuid.uuid4().hex[:8]}.db")
        return
    import psycopg

    base = os.environ[POSTGRES_ENV]
    schema = f"srm_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
