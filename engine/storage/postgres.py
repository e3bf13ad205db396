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


class PostgresDatabase:
    """One async connection; a lock keeps its transactions from interleaving.

    The server's errors about the database itself (no hitl tables, a full disk, a
    read-only server, a lost connection) come out as ``DatabaseUnavailable``."""

    dialect: Dialect = "postgres"

    def __init__(self, conn: Any, url: str = "") -> None:
        self.conn = conn
        self.url = url
        self._lock = asyncio.Lock()

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
        async with self._lock:
            with _postgres_errors(self.url):
                return await self._transaction(statements, chain)

    async def _transaction(
        self, statements: Sequence[Statement | Write], chain: Chain | None
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
                    if step.returns_id:
                        counts.append(_new_id(await cur.fetchall()))
                    else:
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
        raise DatabaseUnavailable(
            f"cannot reach the database {redact_url(url)}: {first}",
            database=redact_url(url),
            problem=first,
        ) from None
    try:
        yield PostgresDatabase(conn, url)
    finally:
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
