"""The home's database on PostgreSQL: one connection, the engine's SQL translated.

The engine's SQL is written once, with ``?`` placeholders and SQLite's types
(``engine.storage.database``); ``to_postgres`` translates both. The server's errors
about the database itself come out as ``DatabaseUnavailable`` (``postgres_error``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import (
    DatabaseBusy,
    DatabaseDamaged,
    DatabaseReadOnly,
    DatabaseUnavailable,
    DiskFull,
    HitlError,
)
from engine.faults import crash_point
from engine.slots import PriorityLock
from engine.storage.database import (
    Chain,
    Dialect,
    Statement,
    Write,
    _as_write,
    _new_id,
    _should_run,
    redact_url,
)

_PLACEHOLDER = re.compile(r"\?")


def to_postgres(sql: str) -> str:
    """SQLite-flavoured SQL (ours only: no literal ``?`` or ``%``) to PostgreSQL's."""
    sql = sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
    sql = sql.replace("seq INTEGER PRIMARY KEY", "seq BIGINT PRIMARY KEY")
    sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)
    return _PLACEHOLDER.sub("%s", sql)


BATCH_LIMIT = 64
"""The most transactions committed together: each is a subtransaction, and a server
tracks at most 64 of a transaction's cheaply (``PGPROC_MAX_CACHED_SUBXIDS``); past
that, every other session's snapshot checks get slower until it commits."""


@dataclass(slots=True)
class _Queued:
    """A transaction waiting for the connection, and the caller waiting for it."""

    writes: list[Write]
    chain: Chain | None
    outcome: asyncio.Future[list[int] | None]

    def settle(self, result: list[int] | BaseException | None) -> None:
        if self.outcome.done():  # its caller was cancelled: nobody is waiting
            return
        if isinstance(result, BaseException):
            self.outcome.set_exception(result)
        else:
            self.outcome.set_result(result)


class PostgresDatabase:
    """One async connection; a lock keeps its transactions from interleaving (taken by
    priority: a decision's before the background's, see ``engine.slots``).

    Transactions that queue while the connection is busy are committed together, in
    one transaction with one COMMIT (group commit: one wait for the server's disk for
    many), each inside a savepoint of its own, so that one failing, or rolled back by
    its guard, leaves the others; each caller hears only once the COMMIT is done, and
    all of them hear if it fails. Reads are never batched: they commit alone, so they
    neither hold a snapshot open nor see another caller's writes before they commit.

    The server's errors about the database itself (no hitl tables, a full disk, a
    read-only server, a lost connection) come out as ``DatabaseUnavailable``."""

    dialect: Dialect = "postgres"

    def __init__(self, conn: Any, url: str = "") -> None:
        self.conn = conn
        self.url = url
        self._lock = PriorityLock()  # a decision's transaction goes first
        self._queued: list[_Queued] = []
        self._batches: set[asyncio.Task[None]] = set()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """Commits too: a read ends its transaction, so no snapshot is held open."""
        async with self._lock:
            with _postgres_errors(self.url):
                try:
                    async with self.conn.cursor() as cur:
                        await cur.execute(to_postgres(sql), tuple(params))
                        rows = list(await cur.fetchall())
                    await self.conn.commit()
                except BaseException:
                    await self.conn.rollback()  # or the connection refuses everything after
                    raise
        return rows

    async def transaction(
        self, statements: Sequence[Statement | Write], chain: Chain | None = None
    ) -> list[int] | None:
        """Queued, and run by whichever caller takes the connection next, together
        with every other transaction queued by then (in a task of its own, so that a
        caller cancelled meanwhile does not cut the others' short)."""
        future: asyncio.Future[list[int] | None] = asyncio.get_running_loop().create_future()
        job = _Queued([_as_write(s) for s in statements], chain, future)
        self._queued.append(job)
        try:
            await self._lock.acquire()
        except asyncio.CancelledError:
            if job in self._queued:  # never run: a cancelled call changes nothing
                self._queued.remove(job)
            raise
        if future.done():  # an earlier caller's batch took it
            self._lock.release()
        else:
            batch, self._queued = self._queued[:BATCH_LIMIT], self._queued[BATCH_LIMIT:]
            task = asyncio.create_task(self._commit_batch(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)
        return await future

    async def _commit_batch(self, batch: list[_Queued]) -> None:
        """Runs the batch in one transaction and settles every caller; then frees the
        connection for the next."""
        results: list[list[int] | BaseException | None] = []
        try:
            async with self.conn.cursor() as cur:
                # Every chain's table first, in one order, as one transaction alone would.
                for table in sorted({job.chain.table for job in batch if job.chain}):
                    await cur.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
                alone = len(batch) == 1
                for job in batch:
                    results.append(await self._run_isolated(cur, job, alone=alone))
            for job, result in zip(batch, results, strict=True):
                if job.chain is not None and isinstance(result, list):
                    crash_point("before", job.chain.labels)
            await self.conn.commit()
        except BaseException as error:
            with contextlib.suppress(Exception):
                await self.conn.rollback()
            failed = self._meant(error) if isinstance(error, Exception) else error
            for job in batch:
                job.settle(failed)
            if not isinstance(error, Exception):
                raise
            return
        finally:
            self._lock.release()
        for job, result in zip(batch, results, strict=True):
            if job.chain is not None and isinstance(result, list):
                crash_point("after", job.chain.labels)
            job.settle(result)

    async def _run_isolated(
        self, cur: Any, job: _Queued, *, alone: bool
    ) -> list[int] | Exception | None:
        """One caller's transaction inside the batch's: in a savepoint (unless it is
        alone), undone by its error or its guard without undoing the others'."""
        if alone:
            counts = await self._run(cur, job)
            if counts is None:
                await self.conn.rollback()
            return counts
        await cur.execute("SAVEPOINT hitl_transaction")
        try:
            counts = await self._run(cur, job)
        except Exception as error:
            await cur.execute("ROLLBACK TO SAVEPOINT hitl_transaction")
            return self._meant(error)
        if counts is None:
            await cur.execute("ROLLBACK TO SAVEPOINT hitl_transaction")
        return counts  # its savepoint is left to the COMMIT: one round trip fewer

    async def _run(self, cur: Any, job: _Queued) -> list[int] | None:
        """The statements, then the chain's links (its table is locked already);
        None when a guard changed no row."""
        counts: list[int] = []
        for step in job.writes:
            if not _should_run(step, counts):
                counts.append(0)
                continue
            await cur.execute(to_postgres(step.sql), tuple(step.params))
            if step.returns_id:
                counts.append(_new_id(await cur.fetchall()))
            else:
                counts.append(int(cur.rowcount))
            if step.guard and counts[-1] < 1:
                return None
        chain = job.chain
        if chain is not None:
            await cur.execute(to_postgres(chain.last))
            last = await cur.fetchone()
            for when, build in chain.links:
                if when is None or counts[when] > 0:
                    (sql, params), last = build(last)
                    await cur.execute(to_postgres(sql), tuple(params))
        return counts

    async def finish(self) -> None:
        """Waits for the batches under way (their callers may have gone)."""
        await asyncio.gather(*self._batches, return_exceptions=True)

    def _meant(self, error: Exception) -> Exception:
        meant = postgres_error(error, self.url)
        if meant is not error:
            meant.__suppress_context__ = True
        return meant

    async def returning(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return await self.fetchall(sql, params)  # it commits, as a write must

    async def script(self, sql: str) -> None:
        async with self._lock:
            with _postgres_errors(self.url):
                async with self.conn.cursor() as cur:
                    # Several engines may create the tables at once; one at a time, please.
                    await cur.execute("SELECT pg_advisory_xact_lock(7341)")
                    for statement in (s.strip() for s in sql.split(";")):
                        if statement:
                            await cur.execute(to_postgres(statement))
                await self.conn.commit()


@contextlib.asynccontextmanager
async def open_postgres(
    url: str, *, synchronous_commit: bool = True
) -> AsyncIterator[PostgresDatabase]:
    """The home's PostgreSQL database, on one connection. ``synchronous_commit=False``:
    a COMMIT returns before the server has flushed it to disk (a crash of the server
    may lose the last ones; never an inconsistent state)."""
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
        raise DatabaseUnavailable(
            f"cannot reach the database {redact_url(url)}: {first}",
            database=redact_url(url),
            problem=first,
        ) from None
    db = PostgresDatabase(conn, url)
    try:
        if not synchronous_commit:
            with _postgres_errors(url):
                await conn.execute("SET synchronous_commit = off")
                await conn.commit()
        yield db
    finally:
        await db.finish()
        await conn.close()


@contextlib.contextmanager
def _postgres_errors(url: str) -> Iterator[None]:
    """PostgreSQL's errors about the database itself, as ``DatabaseUnavailable``."""
    try:
        yield
    except Exception as error:
        meant = postgres_error(error, url)
        if meant is error:
            raise
        raise meant from None


def postgres_error(error: Exception, url: str) -> Exception:
    """Like ``sqlite_error``, for PostgreSQL (by SQLSTATE); other errors unchanged."""
    state = str(getattr(error, "sqlstate", None) or "")
    lines = str(error).strip().splitlines()
    problem, where = (lines[0] if lines else type(error).__name__), redact_url(url)
    if state == "42P01":  # undefined_table
        return DatabaseDamaged(
            f"the database {where} has no hitl tables ({problem}): no home was started "
            "there, or --database names another database; nothing was changed. Start one "
            "with `hitl run TASK`, or run `hitl doctor`",
            database=where,
            problem=problem,
        )
    if state == "53100":  # disk_full
        return DiskFull(
            f"the disk of the database server {where} is full ({problem}); nothing was "
            "changed. Free some space there and try again",
            database=where,
            problem=problem,
        )
    if state == "25006":  # read_only_sql_transaction
        return DatabaseReadOnly(
            f"the database {where} accepts no writes ({problem}); nothing was changed. "
            "Listings still work; run and decide on a server that accepts writes",
            database=where,
            problem=problem,
        )
    if state in ("55P03", "57014", "40P01"):  # lock_not_available, timeout, deadlock
        return DatabaseBusy(
            f"the database {where} is busy: another session held what this needed for "
            f"too long ({problem}); nothing was changed. Try again when it has finished",
            database=where,
            problem=problem,
        )
    if state == "42501":  # insufficient_privilege
        return DatabaseUnavailable(
            f"the database user may not do this in {where} ({problem}); nothing was "
            "changed. Upgrading a home's tables needs their owner once: run any hitl "
            "command that writes (e.g. `hitl resume`) as that user",
            database=where,
            problem=problem,
        )
    if state.startswith("08") or (not state and type(error).__name__ == "OperationalError"):
        return DatabaseUnavailable(
            f"lost the connection to the database {where} ({problem}); try again",
            database=where,
            problem=problem,
        )
    return error
