"""The two databases a home can live in: an SQLite file (default) or PostgreSQL.

The engine's own SQL is written once, with ``?`` placeholders and SQLite's types; the
PostgreSQL side translates both. Each side also opens the matching LangGraph
checkpointer, so a thread's checkpoints and the engine's rows live in one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from engine.errors import HitlError
from engine.faults import crash_point
from engine.slots import current_priority

Dialect = Literal["sqlite", "postgres"]


T = TypeVar("T")
Statement = tuple[str, Sequence[Any]]
ChainBuilder = Callable[[Sequence[Any] | None], tuple[Statement, Sequence[Any]]]
"""Makes the next link of a hash chain from the last one (None for the first): the
INSERT, and the row that is then the last."""


@dataclass(frozen=True, slots=True)
class Write:
    """One statement of a transaction, and how it depends on the ones before it."""

    sql: str
    params: Sequence[Any] = ()
    when: int | None = None
    """Run only if the write at this index (in the same transaction) changed a row."""
    guard: bool = False
    """Roll the whole transaction back unless this statement changes a row."""


@dataclass(frozen=True, slots=True)
class Chain:
    """Links appended to a hash chain inside a transaction, with no other writer of
    ``table`` in between, in this process or any other."""

    table: str
    last: str
    """The query for the chain's last row (what the first builder gets)."""
    links: Sequence[tuple[int | None, ChainBuilder]]
    """(index of a write that must have changed a row, or None; the builder)."""
    labels: tuple[str, ...] = ()
    """What the links record (for the test-only crash points)."""


def _as_write(step: Statement | Write) -> Write:
    return step if isinstance(step, Write) else Write(step[0], step[1])


def _should_run(write: Write, counts: Sequence[int]) -> bool:
    return write.when is None or counts[write.when] > 0


class Database(Protocol):
    """What the store needs of a database. Each method is one transaction."""

    dialect: Dialect
    lock: contextlib.AbstractAsyncContextManager[Any]
    """Held around each call where the connection cannot take two at once."""

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]: ...

    async def transaction(
        self, statements: Sequence[Statement | Write], chain: Chain | None = None
    ) -> list[int] | None:
        """Runs the statements, then appends the chain's links, and commits; returns each
        statement's row count (0 for one skipped by ``when``), or None when a guard
        changed no row and everything was rolled back."""
        ...

    async def returning(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """Runs one ``INSERT … RETURNING`` and commits; returns its rows."""
        ...

    async def script(self, sql: str) -> None: ...


class DatabaseThread:
    """A single worker thread and the SQLite connection it owns.

    Every call is one hop to the thread, which runs a whole transaction; so no asyncio
    lock is needed around the connection. Calls queue by priority, then arrival: what
    a person's decision needs is served before the background's next checkpoint.
    """

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self._path, self._readonly = path, readonly
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._worker = threading.Thread(target=self._serve, name="hitl-sqlite", daemon=True)
        self._worker.start()
        self._closing = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self.conn: sqlite3.Connection | None = None

    def _serve(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            job()

    async def open(self) -> sqlite3.Connection:
        def connect() -> sqlite3.Connection:
            target = f"file:{self._path}?mode=ro" if self._readonly else str(self._path)
            conn = sqlite3.connect(
                target, uri=self._readonly, timeout=30.0, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout=30000")
            if not self._readonly:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                # Checkpoints fsync; run them beside the write path, not inside a commit.
                conn.execute("PRAGMA wal_autocheckpoint=0")
            return conn

        self.conn = await self.run(connect)
        if not self._readonly:
            self._checkpointer = threading.Thread(
                target=self._checkpoint_wal, name="hitl-wal", daemon=True
            )
            self._checkpointer.start()
        return self.conn

    def _checkpoint_wal(self) -> None:
        """Copies the WAL into the database once a second from a connection of its own
        (PASSIVE: it never blocks a reader or a writer)."""
        conn = sqlite3.connect(str(self._path), timeout=30.0, check_same_thread=False)
        try:
            while not self._closing.wait(1.0):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    continue  # busy now; next second
        finally:
            conn.close()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(result: T | None, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        def job() -> None:
            try:
                result = fn(*args)
            except BaseException as error:
                loop.call_soon_threadsafe(settle, None, error)
            else:
                loop.call_soon_threadsafe(settle, result, None)

        self._queue.put((current_priority(), next(self._order), job))
        return await future

    async def close(self) -> None:
        self._closing.set()
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.join)
        if self.conn is not None:
            await self.run(self.conn.close)
        self._queue.put((99, next(self._order), None))
        await asyncio.to_thread(self._worker.join)


class SqliteDatabase:
    """Every call is one hop to the database thread, which does the whole transaction."""

    dialect: Dialect = "sqlite"

    def __init__(self, thread: DatabaseThread) -> None:
        self.thread = thread
        self.lock: contextlib.AbstractAsyncContextManager[Any] = contextlib.nullcontext()

    @property
    def conn(self) -> sqlite3.Connection:
        assert self.thread.conn is not None
        return self.thread.conn

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        def read() -> list[Sequence[Any]]:
            return self.conn.execute(sql, params).fetchall()

        return await self.thread.run(read)

    async def transaction(
        self, statements: Sequence[Statement | Write], chain: Chain | None = None
    ) -> list[int] | None:
        writes = [_as_write(s) for s in statements]

        def write() -> list[int] | None:
            conn = self.conn
            if chain is not None:
                if conn.in_transaction:
                    conn.commit()
                conn.execute("BEGIN IMMEDIATE")  # SQLite's write lock: one chain writer
            try:
                counts: list[int] = []
                for step in writes:
                    if not _should_run(step, counts):
                        counts.append(0)
                        continue
                    count = conn.execute(step.sql, step.params).rowcount
                    counts.append(count)
                    if step.guard and count < 1:
                        conn.rollback()
                        return None
                if chain is not None:
                    last = conn.execute(chain.last).fetchone()
                    for when, build in chain.links:
                        if when is None or counts[when] > 0:
                            (sql, params), last = build(last)
                            conn.execute(sql, params)
                    crash_point("before", chain.labels)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            if chain is not None:
                crash_point("after", chain.labels)
            return counts

        return await self.thread.run(write)

    async def returning(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        def write() -> list[Sequence[Any]]:
            try:
                rows = self.conn.execute(sql, params).fetchall()
                self.conn.commit()
            except BaseException:
                self.conn.rollback()
                raise
            return rows

        return await self.thread.run(write)

    async def script(self, sql: str) -> None:
        def run() -> None:
            self.conn.executescript(sql)
            self.conn.commit()

        await self.thread.run(run)


_PLACEHOLDER = re.compile(r"\?")


def to_postgres(sql: str) -> str:
    """SQLite-flavoured SQL (ours only: no literal ``?`` or ``%``) to PostgreSQL's."""
    sql = sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
    sql = sql.replace("seq INTEGER PRIMARY KEY", "seq BIGINT PRIMARY KEY")
    sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)
    return _PLACEHOLDER.sub("%s", sql)


class PostgresDatabase:
    """One async connection; the lock keeps its transactions from interleaving."""

    dialect: Dialect = "postgres"

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.lock: contextlib.AbstractAsyncContextManager[Any] = asyncio.Lock()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        async with self.conn.cursor() as cur:
            await cur.execute(to_postgres(sql), tuple(params))
            rows = list(await cur.fetchall())
        await self.conn.commit()  # end the read transaction: no snapshot held open
        return rows

    async def transaction(
        self, statements: Sequence[Statement | Write], chain: Chain | None = None
    ) -> list[int] | None:
        counts: list[int] = []
        try:
            async with self.conn.cursor() as cur:
                if chain is not None:  # first, so that every chain writer locks in one order
                    await cur.execute(f"LOCK TABLE {chain.table} IN EXCLUSIVE MODE")
                for step in map(_as_write, statements):
                    if not _should_run(step, counts):
                        counts.append(0)
                        continue
                    await cur.execute(to_postgres(step.sql), tuple(step.params))
                    counts.append(int(cur.rowcount))
                    if step.guard and counts[-1] < 1:
                        await self.conn.rollback()
                        return None
                if chain is not None:
                    await cur.execute(to_postgres(chain.last))
                    last = await cur.fetchone()
                    for when, build in chain.links:
                        if when is None or counts[when] > 0:
                            (sql, params), last = build(last)
                            await cur.execute(to_postgres(sql), tuple(params))
                    crash_point("before", chain.labels)
            await self.conn.commit()
        except BaseException:
            await self.conn.rollback()
            raise
        if chain is not None:
            crash_point("after", chain.labels)
        return counts

    async def returning(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        try:
            async with self.conn.cursor() as cur:
                await cur.execute(to_postgres(sql), tuple(params))
                rows = list(await cur.fetchall())
            await self.conn.commit()
        except BaseException:
            await self.conn.rollback()
            raise
        return rows

    async def script(self, sql: str) -> None:
        async with self.conn.cursor() as cur:
            # Several engines may create the tables at once; one at a time, please.
            await cur.execute("SELECT pg_advisory_xact_lock(7341)")
            for statement in (s.strip() for s in sql.split(";")):
                if statement:
                    await cur.execute(to_postgres(statement))
        await self.conn.commit()


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgres://", "postgresql://"))


@contextlib.asynccontextmanager
async def open_sqlite(path: Path, *, readonly: bool = False) -> AsyncIterator[SqliteDatabase]:
    """WAL so readers never wait; a long busy timeout so writers from other processes
    queue instead of failing with "database is locked"."""
    thread = DatabaseThread(path, readonly=readonly)
    try:
        await thread.open()
        yield SqliteDatabase(thread)
    finally:
        await thread.close()


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
