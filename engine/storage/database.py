"""The two databases a home can live in: an SQLite file (default) or PostgreSQL.

The engine's own SQL is written once, with ``?`` placeholders and SQLite's types; the
PostgreSQL side (``engine.storage.postgres``) translates both. Every method of a
``Database`` is one transaction, safe to call from any task: SQLite's run on the
database thread, PostgreSQL's on its one connection. (LangGraph's checkpointer is
opened beside it, by ``engine.storage.store.open_storage``.)

What can go wrong with the database itself (a damaged or foreign file, a full disk, a
read-only home, another process holding the write lock, a URL of another kind) is
raised as a ``DatabaseUnavailable`` whose one line says what is wrong and what to do;
``engine/storage/sqlite_file.py`` knows the SQLite file's side of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import re
import sqlite3
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Literal, Protocol, TypeVar

from engine.errors import UnsupportedDatabase
from engine.faults import crash_point
from engine.home import Home
from engine.observe import Hop
from engine.slots import current_priority
from engine.storage.sqlite_file import (
    busy_timeout_seconds,
    connect_for_writing,
    connect_readonly,
    refuse_foreign,
    refuse_unwritable,
    sqlite_error,
)

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
    returns_id: bool = False
    """An ``INSERT … RETURNING`` of the new row's id: the transaction reports that id in
    place of the row count, and 0 when no row was inserted (an id is never 0)."""


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


def _new_id(rows: Sequence[Sequence[Any]]) -> int:
    return int(rows[0][0]) if rows else 0


def _should_run(write: Write, counts: Sequence[int]) -> bool:
    return write.when is None or counts[write.when] > 0


class Database(Protocol):
    """What the engine's tables need of a database. Each method is one transaction,
    and calls from several tasks at once never interleave inside one."""

    dialect: Dialect

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]: ...

    async def transaction(
        self, statements: Sequence[Statement | Write], chain: Chain | None = None
    ) -> list[int] | None:
        """Runs the statements, then appends the chain's links, and commits; returns each
        statement's row count (its new row's id, for a ``returns_id`` write; 0 for one
        skipped by ``when``), or None when a guard changed no row and everything was
        rolled back."""
        ...

    async def returning(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """Runs one ``INSERT … RETURNING`` and commits; returns its rows."""
        ...

    async def script(self, sql: str) -> None: ...


async def fetchone(db: Database, sql: str, params: Sequence[Any] = ()) -> Sequence[Any] | None:
    """The first row of a query, or None."""
    rows = await db.fetchall(sql, params)
    return rows[0] if rows else None


async def execute(db: Database, statements: Sequence[Statement | Write]) -> list[int]:
    """Runs unguarded statements in one committed transaction; returns each row count."""
    if not statements:
        return []
    counts = await db.transaction(statements)
    assert counts is not None  # only a guard makes it None
    return counts


class DatabaseThread:
    """A single worker thread and the SQLite connection it owns.

    Every call is one hop to the thread, which runs a whole transaction; so no asyncio
    lock is needed around the connection. Calls queue by priority, then arrival: what
    a person's decision needs is served before the background's next checkpoint.

    SQLite's errors about the database itself come out of ``run`` as
    ``DatabaseUnavailable`` (see ``sqlite_error``); the others (a unique key) as they are.
    ``on_hop`` is told of every call once its caller has resumed (see
    ``engine.observe.Hop``).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        readonly: bool = False,
        busy_timeout: float | None = None,
        on_hop: Callable[[Hop], None] | None = None,
    ) -> None:
        self.busy_timeout = busy_timeout_seconds() if busy_timeout is None else busy_timeout
        self._path, self._readonly = Path(path), readonly
        self._on_hop = on_hop
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
            if self._readonly:
                return connect_readonly(self._path, self.busy_timeout)
            return connect_for_writing(self._path, self.busy_timeout)

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
        conn = sqlite3.connect(str(self._path), timeout=self.busy_timeout, check_same_thread=False)
        try:
            while not self._closing.wait(1.0):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    continue  # busy now; next second
        finally:
            conn.close()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Runs ``fn(*args)`` on the database thread; returns or raises what it did."""
        if self._on_hop is None:
            return await self._submit(fn, *args)
        return await self._run_observed(self._on_hop, sys._getframe(1), fn, *args)

    def _submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
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
            except sqlite3.Error as error:
                # Worded here, on the database thread: a busy error names the lock's
                # holder while it still holds it.
                meant = sqlite_error(
                    error, self._path, busy_timeout=self.busy_timeout, readonly=self._readonly
                )
                meant.__suppress_context__ = True
                loop.call_soon_threadsafe(settle, None, meant)
            except BaseException as error:
                loop.call_soon_threadsafe(settle, None, error)
            else:
                loop.call_soon_threadsafe(settle, result, None)

        self._queue.put((current_priority(), next(self._order), job))
        return future

    async def _run_observed(
        self,
        on_hop: Callable[[Hop], None],
        caller: FrameType,
        fn: Callable[..., T],
        *args: Any,
    ) -> T:
        """``run``, timed on both sides of the thread; only when someone observes."""
        stamps = [0.0, 0.0]

        def timed() -> T:
            stamps[0] = time.perf_counter()
            try:
                return fn(*args)
            finally:
                stamps[1] = time.perf_counter()

        depth, queued = self._queue.qsize(), time.perf_counter()
        try:
            return await self._submit(timed)
        finally:
            if stamps[1]:
                on_hop(Hop(caller, depth, queued, stamps[0], stamps[1], time.perf_counter()))

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
                    cursor = conn.execute(step.sql, step.params)
                    count = _new_id(cursor.fetchall()) if step.returns_id else cursor.rowcount
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


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgres://", "postgresql://"))


def dialect_of(url: str | None) -> Dialect:
    """Which database a home's URL names: None is the home's SQLite file. Anything but
    ``postgresql://…`` or ``postgres://…`` is refused, naming what is supported."""
    if not url:
        return "sqlite"
    if is_postgres(url):
        return "postgres"
    shown = repr(redact_url(url))
    if url.startswith("sqlite:") or "://" not in url:
        raise UnsupportedDatabase(
            f"--database {shown} is not a database hitl can use: a home keeps its SQLite "
            "file in its own directory (<home>/hitl.sqlite: leave --database unset); to share "
            "an app's LangGraph SQLite file give its path (or sqlite:///PATH); for "
            "PostgreSQL give postgresql://…",
            database=redact_url(url),
        )
    raise UnsupportedDatabase(
        f"unsupported database URL {shown}: a home lives in its SQLite file "
        "(<home>/hitl.sqlite: leave --database and $HITL_DATABASE_URL unset) or in "
        "PostgreSQL (postgresql://… or postgres://…); nothing was changed",
        database=redact_url(url),
    )


def check_home_database(home: Home) -> None:
    """Raises the ``DatabaseUnavailable`` that opening the home's database to write
    would (another kind of URL, a damaged file, a read-only home), before anything is
    written: a command can call it before it makes the home's folders or policy file."""
    if dialect_of(home.database_url) == "sqlite":
        refuse_unwritable(home.db, missing_ok=True)
        refuse_foreign(home.db)


@contextlib.asynccontextmanager
async def open_sqlite(
    path: Path,
    *,
    readonly: bool = False,
    busy_timeout: float | None = None,
    on_hop: Callable[[Hop], None] | None = None,
) -> AsyncIterator[SqliteDatabase]:
    """The home's SQLite file, on its own database thread. ``readonly``: a connection
    that cannot write (listings, diagnosis). ``busy_timeout``: seconds a write waits for
    another process's lock (default ``$HITL_BUSY_TIMEOUT``, else 30). ``on_hop``: told
    of every hop to that thread."""
    thread = DatabaseThread(path, readonly=readonly, busy_timeout=busy_timeout, on_hop=on_hop)
    try:
        await thread.open()
        yield SqliteDatabase(thread)
    finally:
        await thread.close()


def redact_url(url: str) -> str:
    """The URL with its password, if any, replaced by ***."""
    return re.sub(r"://([^:@/]+):[^@/]+@", r"://\1:***@", url)
