"""The engine's tables on one database, and opening them beside LangGraph's checkpointer.

These plain rows are what listings read (``hitl pending`` never imports LangGraph),
what makes decisions race-safe across processes (conditional updates), and what makes
gated tools at-most-once (an execution row is committed before the tool runs).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from engine.home import Home
from engine.storage.approvals import Approvals
from engine.storage.audit import AuditLog, AuditNote, commit
from engine.storage.database import (
    Database,
    Statement,
    Write,
    dialect_of,
    is_postgres,
    open_sqlite,
    redact_url,
)
from engine.storage.executions import Executions
from engine.storage.journal import Journal
from engine.storage.leases import LEASE_SECONDS, Leases
from engine.storage.outbox import Outbox
from engine.storage.policies import Policies
from engine.storage.postgres import open_postgres
from engine.storage.schema import migrate
from engine.storage.sqlite_file import Durability
from engine.storage.threads import Threads
from engine.storage.tokens import Tokens
from engine.storage.verdicts import Verdicts

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from engine.observe import Observer


class Store:
    """One attribute per table. ``origin`` names this engine in the rows it owns
    (journal, executions, leases)."""

    def __init__(self, db: Database, origin: str, *, lease_seconds: float = LEASE_SECONDS) -> None:
        self.db = db
        self.origin = origin
        self.threads = Threads(db)
        self.approvals = Approvals(db)
        self.executions = Executions(db, origin)
        self.leases = Leases(db, origin, seconds=lease_seconds)
        self.journal = Journal(db, origin)
        self.verdicts = Verdicts(db)
        self.policies = Policies(db)
        self.audit = AuditLog(db)
        self.outbox = Outbox(db, origin)
        self.tokens = Tokens(db)

    async def commit(
        self,
        writes: Sequence[Statement | Write],
        audit: Sequence[tuple[int | None, AuditNote]] = (),
    ) -> list[int] | None:
        """One transaction: the writes and the audit entries recording them (see
        ``engine.storage.audit.commit``)."""
        return await commit(self.db, writes, audit)


def database_name(home: Home) -> str:
    """The home's database as a person would name it (a URL without its password)."""
    return redact_url(home.database_url) if home.database_url else str(home.db)


@contextlib.asynccontextmanager
async def open_storage(
    home: Home,
    *,
    origin: str | None = None,
    lease_seconds: float = LEASE_SECONDS,
    observer: Observer | None = None,
    durability: Durability = "full",
) -> AsyncIterator[tuple[BaseCheckpointSaver[Any], Store]]:
    """The checkpointer and the engine's store, on the home's database, brought to the
    current schema (a newer one is refused before anything is written).

    SQLite: one connection per process, shared by both (one writer, one lock).
    PostgreSQL: the saver and the store each have a connection; the server serialises.
    ``origin`` names this engine in the rows it owns (default: a new random id);
    ``observer`` is told of every hop to the SQLite database thread; ``durability``
    ``"fast"`` trades the last commits before a power cut for speed: SQLite's
    ``synchronous=NORMAL``, PostgreSQL's ``synchronous_commit = off``.
    """
    dialect_of(home.database_url)  # a URL of another kind is refused, naming what works
    origin = origin or uuid.uuid4().hex
    if home.database_url and is_postgres(home.database_url):
        import psycopg
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        full = durability == "full"
        async with open_postgres(home.database_url, synchronous_commit=full) as db:
            await migrate(db, database_name(home))
            async with AsyncPostgresSaver.from_conn_string(home.database_url) as pg_saver:
                conn = pg_saver.conn  # from_conn_string: one autocommit connection
                if not full and isinstance(conn, psycopg.AsyncConnection):
                    await conn.execute("SET synchronous_commit = off")  # for its session
                await pg_saver.setup()
                yield pg_saver, Store(db, origin, lease_seconds=lease_seconds)
        return
    from engine.storage.sqlite_saver import ThreadedSqliteSaver

    on_hop = observer.hop if observer else None
    async with open_sqlite(home.db, on_hop=on_hop, durability=durability) as sqlite:
        await migrate(sqlite, database_name(home))
        saver = ThreadedSqliteSaver(sqlite.thread)
        await saver.asetup()
        yield saver, Store(sqlite, origin, lease_seconds=lease_seconds)
