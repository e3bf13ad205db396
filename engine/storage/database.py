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
import contextvars
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
from typing import Any, Literal, Protocol, TypeVar

from engine.errors import UnsupportedDatabase
from engine.faults import crash_point
from engine.home import Home
from engine.observe import Hop
from engine.slots import DECISION, current_priority
from engine.storage.sqlite_file import (
    Durability,
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


JobKind = Literal["write", "read", "alone"]
"""How a call to the database thread may share a transaction: a ``write`` and a
``read`` join the batch being gathered (a read waits for its batch's commit too: it may
have seen the writes of the jobs before it); ``alone`` runs outside any transaction
(connecting, closing, a script of DDL)."""

BATCH_LIMIT = 32
"""The most calls one batch commits together: enough to share one fsync among many
(~1.5 ms each here), few enough that a decision arriving while a batch runs waits for
little, and that no batch holds SQLite's write lock long while other processes wait."""


class BatchConnection(sqlite3.Connection):
    """The writing connection, as every job on the database thread sees it.

    A job inside a batch runs in a savepoint of the batch's transaction; the batch
    commits once, after its last job (one fsync for all of them). So a job's own
    ``commit()`` does nothing (LangGraph's ``SqliteSaver`` commits after each call: its
    writes are committed with the batch, and its caller told only then), and its
    ``rollback()`` undoes that job alone, back to its savepoint. Outside a batch both
    are SQLite's own. Chosen over rewriting the saver's methods so that LangGraph's own
    SQL and upgrades stay as they are.
    """

    in_job = False
    """Whether a job of a batch is running (set by the database thread only)."""

    def commit(self) -> None:
        if not self.in_job:
            super().commit()

    def rollback(self) -> None:
        if self.in_job:
            self.execute("ROLLBACK TO job")
        else:
            super().rollback()


@dataclass(slots=True)
class _Job:
    """One call waiting for the database thread, and how to hand back its outcome."""

    fn: Callable[[], Any]
    kind: JobKind
    settle: Callable[[Any, BaseException | None], None]
    """Called on the database thread, with the result or the error, once final."""


_Outcome = tuple[_Job, Any, BaseException | None]
"""A job, and its result or its error."""

_Entry = tuple[int, int, _Job]
"""A job as queued: (priority, arrival, job); its place in the queue."""


def _undone(conn: BatchConnection) -> bool:
    """Rolls a failed job back to its savepoint; False when the error ended the whole
    transaction (then it is rolled back entirely)."""
    try:
        conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")
        return True
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return False


class DatabaseThread:
    """A single worker thread and the SQLite connection it owns.

    Every call is one hop to the thread; so no asyncio lock is needed around the
    connection. Calls queue by priority, then arrival: what a person's decision needs is
    served before the background's next checkpoint.

    **Group commit.** The writing connection's calls are run in batches: everything
    queued while the thread was busy (up to ``BATCH_LIMIT``, in queue order) runs in one
    ``BEGIN IMMEDIATE`` … ``COMMIT``, each call in a savepoint of its own, so a failing
    call (an error, a guard that changed nothing) is rolled back alone and the others
    commit. No caller is answered before the COMMIT that made its writes durable; if that
    COMMIT fails, every caller of the batch gets its error. ``BEGIN IMMEDIATE`` takes
    SQLite's write lock first, so no other process writes between a call's reads and its
    writes (the audit chain relies on it). A read-only connection runs each call alone.

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
        durability: Durability = "full",
    ) -> None:
        self.busy_timeout = busy_timeout_seconds() if busy_timeout is None else busy_timeout
        self._path, self._readonly, self._durability = Path(path), readonly, durability
        self._on_hop = on_hop
        self._queue: queue.PriorityQueue[tuple[int, int, _Job | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._after: list[Callable[[], None]] = []
        self._worker = threading.Thread(target=self._serve, name="hitl-sqlite", daemon=True)
        self._worker.start()
        self._closing = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self.conn: sqlite3.Connection | None = None

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Runs ``hook`` on the database thread once the current job is committed (right
        away outside a batch); never if it is rolled back."""
        self._after.append(hook)

    def _serve(self) -> None:
        while True:
            priority, order, job = self._queue.get()
            if job is None:
                return
            if job.kind == "alone" or self._readonly:
                self._run_alone(job)
                continue
            batch = [(priority, order, job)]
            while len(batch) < BATCH_LIMIT:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                more = entry[2]
                # A batch is of one priority: a decision's work is committed with other
                # decisions', never made to wait for a batch of background checkpoints.
                if more is None or more.kind == "alone" or entry[0] != priority:
                    self._queue.put(entry)  # back in its place (priority, then arrival)
                    break
                batch.append((entry[0], entry[1], more))
            try:
                self._run_batch(batch)
            except BaseException as error:  # a bug of ours: answered, never hung
                if self.conn is not None and self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                for _, _, each in batch:
                    each.settle(None, error)

    def _worded(self, error: BaseException) -> BaseException:
        """An SQLite error as a person reads it, worded here, on the database thread: a
        busy error names the lock's holder while it still holds it."""
        if not isinstance(error, sqlite3.Error):
            return error
        meant = sqlite_error(
            error, self._path, busy_timeout=self.busy_timeout, readonly=self._readonly
        )
        meant.__suppress_context__ = True
        return meant

    def _run_alone(self, job: _Job) -> None:
        self._after.clear()
        try:
            result = job.fn()
        except BaseException as error:
            job.settle(None, self._worded(error))
            return
        self._fire_after(self._after)
        job.settle(result, None)

    def _run_batch(self, batch: list[_Entry]) -> None:
        """Runs ``batch`` in one transaction, a savepoint per job; answers each caller
        after the COMMIT. A batch of reads alone needs no transaction. A batch yields to
        more urgent work queued meanwhile: it commits what it has done, and the jobs it
        has not begun go back to the queue, in their places."""
        if not any(job.kind == "write" for _, _, job in batch):
            for _, _, job in batch:
                self._run_alone(job)
            return
        conn = self.conn
        assert isinstance(conn, BatchConnection)
        pending = batch
        while pending:
            outcomes, after, pending, deferred = self._run_transaction(conn, pending)
            if conn.in_transaction:
                try:
                    conn.execute("COMMIT")
                except BaseException as error:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    failed = self._worded(error)
                    outcomes, after = [(job, None, failed) for job, _, _ in outcomes], []
            self._fire_after(after)
            for job, result, failure in outcomes:
                job.settle(result, failure)
            for entry in deferred:
                self._queue.put(entry)

    def _more_urgent_waits(self, priority: int) -> bool:
        """Whether work more urgent than ``priority`` (a decision's) is queued."""
        with self._queue.mutex:
            return bool(self._queue.queue) and self._queue.queue[0][0] < priority

    def _run_transaction(
        self, conn: BatchConnection, entries: list[_Entry]
    ) -> tuple[list[_Outcome], list[Callable[[], None]], list[_Entry], list[_Entry]]:
        """Begins a transaction and runs the jobs in it, each in its savepoint, until one
        fails in a way that ends the transaction itself (SQLite rolls it all back on some
        errors: a full disk, an I/O error): the jobs before it fail with that error too,
        and those after it are returned for a transaction of their own. Stops early,
        between two jobs, when more urgent work is queued.

        Returns each job's (result, error) so far, the after-commit hooks of the jobs
        that succeeded, the jobs still to run, and those deferred behind the urgent
        work. The caller commits, if the transaction is still open."""
        outcomes: list[_Outcome] = []
        after: list[Callable[[], None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as error:
            return [(job, None, self._worded(error)) for _, _, job in entries], [], [], []
        for index, (priority, _, job) in enumerate(entries):
            if index and self._more_urgent_waits(priority):
                return outcomes, after, [], entries[index:]
            self._after.clear()
            try:
                conn.execute("SAVEPOINT job")
                conn.in_job = True
                try:
                    result = job.fn()
                finally:
                    conn.in_job = False
            except BaseException as error:
                failure = self._worded(error)
                if _undone(conn):
                    outcomes.append((job, None, failure))
                    continue
                lost = [(done, None, failure) for done, _, _ in outcomes]
                return [*lost, (job, None, failure)], [], entries[index + 1 :], []
            conn.execute("RELEASE job")
            outcomes.append((job, result, None))
            after.extend(self._after)
        return outcomes, after, [], []

    @staticmethod
    def _fire_after(hooks: list[Callable[[], None]]) -> None:
        for hook in list(hooks):
            hook()

    async def open(self) -> sqlite3.Connection:
        def connect() -> sqlite3.Connection:
            if self._readonly:
                return connect_readonly(self._path, self.busy_timeout)
            return connect_for_writing(
                self._path, self.busy_timeout, self._durability, factory=BatchConnection
            )

        self.conn = await self.run(connect, kind="alone")
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

    async def run(self, fn: Callable[..., T], *args: Any, kind: JobKind = "write") -> T:
        """Runs ``fn(*args)`` on the database thread; returns or raises what it did,
        once it is committed. ``kind``: see ``JobKind``."""
        if self._on_hop is None:
            return await self._submit(fn, args, kind)
        caller, depth, queued = sys._getframe(1), self._queue.qsize(), time.perf_counter()
        stamps = [0.0, 0.0]
        try:
            return await self._submit(fn, args, kind, stamps)
        finally:
            if stamps[1]:
                woke = time.perf_counter()
                self._on_hop(Hop(caller, depth, queued, stamps[0], stamps[1], woke))

    def _submit(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kind: JobKind,
        stamps: list[float] | None = None,
    ) -> asyncio.Future[T]:
        """Queues the call. ``stamps``, if given, get when the thread began it and when
        it was final (committed, or failed)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def resolve(result: T | None, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        def call() -> T:
            if stamps is not None:
                stamps[0] = time.perf_counter()
            return fn(*args)

        priority = current_priority()
        # A decision's answer carries its context: it jumps the loop's queue too (lanes).
        context = contextvars.copy_context() if priority == DECISION else None

        def settle(result: Any, error: BaseException | None) -> None:
            if stamps is not None:
                stamps[1] = time.perf_counter()
            loop.call_soon_threadsafe(resolve, result, error, context=context)

        self._queue.put((priority, next(self._order), _Job(call, kind, settle)))
        return future

    async def close(self) -> None:
        self._closing.set()
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.join)
        if self.conn is not None:
            await self.run(self.conn.close, kind="alone")
        self._queue.put((99, next(self._order), None))
        await asyncio.to_thread(self._worker.join)


class SqliteDatabase:
    """Every call is one hop to the database thread, which does the whole transaction
    (in the batch's savepoint: see ``DatabaseThread``)."""

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

        return await self.thread.run(read, kind="read")

    async def transaction(
        self, statements: Sequence[Statement | Write], chain: Chain | None = None
    ) -> list[int] | None:
        writes = [_as_write(s) for s in statements]

        def write() -> list[int] | None:
            conn = self.conn
            counts: list[int] = []
            for step in writes:
                if not _should_run(step, counts):
                    counts.append(0)
                    continue
                cursor = conn.execute(step.sql, step.params)
                count = _new_id(cursor.fetchall()) if step.returns_id else cursor.rowcount
                counts.append(count)
                if step.guard and count < 1:
                    conn.rollback()  # this transaction's savepoint: the batch's others stay
                    return None
            if chain is not None:
                # The batch began with BEGIN IMMEDIATE: no other writer of the chain
                # since, in this process or any other.
                last = conn.execute(chain.last).fetchone()
                for when, build in chain.links:
                    if when is None or counts[when] > 0:
                        (sql, params), last = build(last)
                        conn.execute(sql, params)
                crash_point("before", chain.labels)
                labels = chain.labels
                self.thread.after_commit(lambda: crash_point("after", labels))
            return counts

        return await self.thread.run(write)

    async def returning(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        def write() -> list[Sequence[Any]]:
            return self.conn.execute(sql, params).fetchall()

        return await self.thread.run(write)

    async def script(self, sql: str) -> None:
        def run() -> None:
            self.conn.executescript(sql)

        await self.thread.run(run, kind="alone")


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
    durability: Durability = "full",
) -> AsyncIterator[SqliteDatabase]:
    """The home's SQLite file, on its own database thread. ``readonly``: a connection
    that cannot write (listings, diagnosis). ``busy_timeout``: seconds a write waits for
    another process's lock (default ``$HITL_BUSY_TIMEOUT``, else 30). ``on_hop``: told
    of every hop to that thread. ``durability``: see ``Durability``."""
    thread = DatabaseThread(
        path, readonly=readonly, busy_timeout=busy_timeout, on_hop=on_hop, durability=durability
    )
    try:
        await thread.open()
        yield SqliteDatabase(thread)
    finally:
        await thread.close()


def redact_url(url: str) -> str:
    """The URL with its password, if any, replaced by ***."""
    return re.sub(r"://([^:@/]+):[^@/]+@", r"://\1:***@", url)
