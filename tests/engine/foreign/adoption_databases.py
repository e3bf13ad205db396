"""The databases of the adoption tests: an app's SQLite file, or a schema of its own in
a PostgreSQL database made for this test session (dropped after it).

``AppDatabase`` gives the app's side (a stock LangGraph saver, in this process or in a
process of its own) and hitl's side (the engine's ``Database``) on the same database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from engine.storage.database import Database, open_sqlite
from engine.storage.postgres import open_postgres

POSTGRES_URL = os.environ.get("HITL_TEST_POSTGRES_URL")
ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class AppDatabase:
    dialect: str
    where: str
    """The SQLite file, or the PostgreSQL URL (its search_path set to the test's schema)."""

    @contextlib.asynccontextmanager
    async def saver(self) -> AsyncIterator[Any]:
        """The stock async saver an app would use, its tables set up."""
        if self.dialect == "sqlite":
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

            async with AsyncSqliteSaver.from_conn_string(self.where) as saver:
                await saver.setup()
                yield saver
            return
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(self.where) as pg_saver:
            await pg_saver.setup()
            yield pg_saver

    async def app(self, *steps: str) -> None:
        """Runs ``steps`` (see ``adoption_app``) in an app process of its own."""
        flag = "--sqlite" if self.dialect == "sqlite" else "--postgres"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.engine.foreign.adoption_app",
            flag,
            self.where,
            *steps,
            cwd=ROOT,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await process.communicate()
        assert process.returncode == 0, err.decode()

    def as_user(self, role: str) -> AppDatabase:
        """The same database, for another PostgreSQL role (no password: trust auth)."""
        parts = urlsplit(self.where)
        netloc = f"{role}@{parts.netloc.rpartition('@')[2]}"
        return AppDatabase(self.dialect, urlunsplit(parts._replace(netloc=netloc)))

    def hitl(self) -> contextlib.AbstractAsyncContextManager[Database]:
        """The engine's connection to the same database."""
        if self.dialect == "sqlite":
            return open_sqlite(Path(self.where))
        return open_postgres(self.where)

    def admin_sql(self, sql: str) -> list[tuple[Any, ...]]:
        """Runs ``sql`` on a connection of its own (what a third party would see)."""
        if self.dialect == "sqlite":
            import sqlite3

            with contextlib.closing(sqlite3.connect(self.where)) as conn, conn:
                return conn.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(self.where, autocommit=True) as server:
            cur = server.execute(sql)
            return cur.fetchall() if cur.description else []


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this test session's own, dropped after it."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set HITL_TEST_POSTGRES_URL (.ci/run does)")
    import psycopg

    name = f"hitl_adopt_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def fresh_schema(database_url: str) -> AppDatabase:
    """A PostgreSQL app database: a new schema, named by the URL's search_path."""
    import psycopg

    schema = f"app_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in database_url else "?"
    return AppDatabase("postgres", f"{database_url}{separator}options=-csearch_path%3D{schema}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app_db(request: pytest.FixtureRequest, tmp_path: Path) -> AppDatabase:
    """An app's database: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return AppDatabase("sqlite", str(tmp_path / "app.sqlite"))
    return fresh_schema(request.getfixturevalue("postgres_database"))


@pytest.fixture
def postgres_app_db(postgres_database: str) -> AppDatabase:
    """An app's database on PostgreSQL only."""
    return fresh_schema(postgres_database)
