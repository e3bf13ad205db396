"""Read a home without starting an engine: the plain rows, no LangGraph import.

What a listing or the console's first paint needs (threads, pending approvals, a
thread's story, the audit log) is in the engine's own tables; reading them this way
takes milliseconds, where opening an ``Engine`` first imports LangGraph (~1 s).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

from engine.audit import AuditEntry, AuditLog, Verification
from engine.database import Database, dialect_of, open_postgres, open_sqlite
from engine.events import current_kind
from engine.home import Home
from engine.store import Store
from engine.views import ApprovalView, HistoryEntry, LedgerEntry, ThreadStatus, ThreadView


class Reader:
    """Read-only queries on a home; the same answers ``Engine``'s queries give."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._audit = AuditLog(store)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, home: Home) -> AsyncIterator[Reader]:
        """Raises HomeNotFound for a home that was never created, and a
        ``DatabaseUnavailable`` for a database it cannot read (another kind of URL, a
        damaged file). It never writes, and so works on a read-only home too."""
        dialect_of(home.database_url)  # a bad URL is named before a missing home
        home.require()
        async with _database(home) as db:
            yield cls(Store(db, origin="reader"))

    async def threads(self, status: ThreadStatus | None = None) -> list[ThreadView]:
        return await self._store.threads(status)

    async def thread(self, ref: str) -> ThreadView:
        return await self._store.thread(ref)

    async def pending(self, thread: str | None = None) -> list[ApprovalView]:
        """Every pending approval (of one thread, when given), oldest first."""
        thread_id = (await self._store.thread(thread)).id if thread else None
        return await self._store.pending(thread_id)

    async def approval(self, ref: str) -> ApprovalView:
        return await self._store.approval(ref)

    async def approvals(self, thread: str) -> list[ApprovalView]:
        return await self._store.approvals_of((await self._store.thread(thread)).id)

    async def history(self, thread: str) -> list[HistoryEntry]:
        """The thread's journal, oldest first, each kind as events are named today
        (rows older than the names carry a former one)."""
        entries = await self._store.history((await self._store.thread(thread)).id)
        return [replace(e, kind=current_kind(e.kind)) for e in entries]

    async def ledger(self) -> list[LedgerEntry]:
        return await self._store.ledger()

    async def audit(
        self,
        *,
        thread: str | None = None,
        tool: str | None = None,
        operator: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[AuditEntry]:
        thread_id = (await self._store.thread(thread)).id if thread else None
        return await self._audit.entries(
            thread_id=thread_id, tool=tool, operator=operator, since=since, until=until
        )

    async def verify_audit(self) -> Verification:
        return await self._audit.verify()


def _database(home: Home) -> contextlib.AbstractAsyncContextManager[Database]:
    if home.database_url and dialect_of(home.database_url) == "postgres":
        return open_postgres(home.database_url)
    return open_sqlite(home.db, readonly=True)
