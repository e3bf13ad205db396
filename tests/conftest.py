"""Shared fixtures: a real home per test, on each database a home can live in.

SQLite always; PostgreSQL when HITL_TEST_POSTGRES_URL names a server (``.ci/run`` sets
it), each test in a schema of its own that is dropped afterwards. The engine's, the
CLI's and the console's suites all run on both.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from engine import Home
from engine.engine import Engine

POSTGRES_URL = os.environ.get("HITL_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Home]:
    if request.param == "sqlite":
        yield Home(tmp_path / "home")
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set HITL_TEST_POSTGRES_URL (.ci/run does)")
    import psycopg

    schema = f"hitl_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield Home(tmp_path / "home", f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}")
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
async def engine(home: Home) -> AsyncIterator[Engine]:
    async with Engine.open(home, operator="alice") as opened:
        yield opened


def run_sql(home: Home, sql: str) -> None:
    """Changes the home's database behind the engine's back (tamper tests)."""
    if home.database_url:
        import psycopg

        with psycopg.connect(home.database_url, autocommit=True) as db:
            db.execute(sql)
        return
    import sqlite3

    with sqlite3.connect(home.db) as db:
        db.execute(sql)
