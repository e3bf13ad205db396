"""The two databases a home can live in: an SQLite file (default) or PostgreSQL.

The engine's own SQL is written once, with ``?`` placeholders and SQLite's types; the
PostgreSQL side translates both. Each side also opens the matching LangGraph
checkpointer, so a thread's checkpoints and the engine's rows live in one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import aiosqlite

from engine.errors import HitlError

Dialect = Literal["sqlite", "postgres"]


class Database(Protocol):
    """What the store needs of a connection; every call is made under the store's lock."""

    dialect: Dialect

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]: ...

    async def script(self, sql: str) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def begin_exclusive(self, table: str) -> None:
        """Starts a transaction that no other process can write ``table`` alongside."""
        ...


class SqliteDatabase:
    dialect: Dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self.conn.execute(sql, params) as cur:
            return cur.rowcount

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        async with self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def script(self, sql: str) -> None:
        await self.conn.executescript(sql)
        await self.conn.commit()

    async def commit(self) -> None:
        await self.conn.commit()

    async def rollback(self) -> None:
        await self.conn.rollback()

    async def begin_exclusive(self, table: str) -> None:
        if self.conn.in_transaction:
            await self.conn.commit()
        await self.conn.execute("BEGIN IMMEDIATE")


_PLACEHOLDER = re.compile(r"\?")


def to_postgres(sql: str) -> str:
    """SQLite-flavoured SQL (ours only: no literal ``?`` or ``%``) to PostgreSQL's."""
    sql = sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
    sql = sql.replace("seq INTEGER PRIMARY KEY", "seq BIGINT PRIMARY KEY")
    sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)
    return _PLACEHOLDER.sub("%s", sql)


class PostgresDatabase:
    dialect: Dialect = "postgres"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self.conn.cursor() as cur:
            await cur.execute(to_postgres(sql), tuple(params))
            return int(cur.rowcount)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        async with self.conn.cursor() as cur:
            await cur.execute(to_postgres(sql), tuple(params))
            return list(await cur.fetchall())

    async def script(self, sql: str) -> None:
        async with self.conn.cursor() as cur:
            # Several engines may create the tables at once; one at a time, please.
            await cur.execute("SELECT pg_advisory_xact_lock(7341)")
            for statement in (s.strip() for s in sql.split(";")):
                if statement:
                    await cur.execute(to_postgres(statement))
        await self.conn.commit()

    async def commit(self) -> None:
        await self.conn.commit()

    async def rollback(self) -> None:
        await self.conn.rollback()

    async def begin_exclusive(self, table: str) -> None:
        await self.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgres://", "postgresql://"))


@contextlib.asynccontextmanager
async def open_sqlite(path: Path, *, readonly: bool = False) -> AsyncIterator[SqliteDatabase]:
    """WAL so readers never wait; a long busy timeout so writers from other processes
    queue instead of failing with "database is locked"."""
    target = f"file:{path}?mode=ro" if readonly else str(path)
    conn = await aiosqlite.connect(target, uri=readonly, timeout=30.0)
    try:
        if not readonly:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=30000")
        yield SqliteDatabase(conn)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def open_postgres(url: str) -> AsyncIterator[PostgresDatabase]:
    try:
        import psycopg
    except ImportError:
        raise HitlError(
            "PostgreSQL needs the postgres extra: pip install 'hitl-console[postgres]'"
        ) from None
    try:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=False, connect_timeout=10)
    except psycopg.OperationalError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "refused"
        raise HitlError(f"cannot reach the database {_redact(url)}: {first}") from None
    try:
        yield PostgresDatabase(conn)
    finally:
        await conn.close()


def _redact(url: str) -> str:
    return re.sub(r"://([^:@/]+):[^@/]+@", r"://\1:***@", url)


def new_lock() -> asyncio.Lock:
    return asyncio.Lock()
