"""Read a home without starting an engine: the plain rows, no LangGraph import.

What a listing or the console's first paint needs (threads, pending approvals, a
thread's story, the audit log) is in the engine's own tables; reading them this way
takes milliseconds, where opening an ``Engine`` first imports LangGraph (~1 s).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from engine.errors import HomeNotFound
from engine.home import Home
from engine.storage.audit import AuditEntry, Verification
from engine.storage.database import Database, dialect_of, open_sqlite
from engine.storage.outbox import Notification, OutboxStatus
from engine.storage.postgres import open_postgres
from engine.storage.schema import check_readable, existing_tables, schema_version
from engine.storage.store import Store, database_name
from engine.views import (
    ApprovalView,
    HistoryEntry,
    JournalEntry,
    LedgerEntry,
    ThreadStatus,
    ThreadView,
    TokenView,
)


class Reader:
    """Read-only queries on a home; the same answers ``Engine``'s queries give."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._audit = store.audit

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, home: Home) -> AsyncIterator[Reader]:
        """Raises HomeNotFound for a home that was never created, and a
        ``DatabaseUnavailable`` for a database it cannot read (another kind of URL, a
        damaged file, one written by a newer hitl, or by an older one that must
        be upgraded first). It never writes, and so works on a
        read-only home too."""
        dialect_of(home.database_url)  # a bad URL is named before a missing home
        home.require()
        async with _database(home) as db:
            if home.sqlite_file is not None and await schema_version(db) is None:
                raise HomeNotFound(
                    f"hitl has not opened {home.sqlite_file} yet, so it lists nothing of it; "
                    "open it once with `hitl --graph SPEC --database FILE` (the console, or "
                    "`resume`), which takes in the threads your app paused there"
                )
            await check_readable(db, database_name(home))
            yield cls(Store(db, origin="reader"))

    async def threads(self, status: ThreadStatus | None = None) -> list[ThreadView]:
        return await self._store.threads.all(status)

    async def thread(self, ref: str) -> ThreadView:
        return await self._store.threads.find(ref)

    async def pending(self, thread: str | None = None) -> list[ApprovalView]:
        """Every pending approval (of one thread, when given), oldest first."""
        thread_id = (await self._store.threads.find(thread)).id if thread else None
        return await self._store.approvals.pending(thread_id)

    async def approval(self, ref: str) -> ApprovalView:
        return await self._store.approvals.find(ref)

    async def approvals(self, thread: str) -> list[ApprovalView]:
        return await self._store.approvals.of_thread((await self._store.threads.find(thread)).id)

    async def history(self, thread: str) -> list[HistoryEntry]:
        return await self._store.journal.history((await self._store.threads.find(thread)).id)

    async def ledger(self) -> list[LedgerEntry]:
        """What the demo money and data tools did (empty where none ever ran)."""
        from engine.tools.ledger import Ledger  # the tools' own table, and their import

        return await Ledger(self._store.db).entries()

    async def audit(
        self,
        *,
        thread: str | None = None,
        tool: str | None = None,
        operator: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[AuditEntry]:
        thread_id = (await self._store.threads.find(thread)).id if thread else None
        return await self._audit.entries(
            thread_id=thread_id, tool=tool, operator=operator, since=since, until=until
        )

    async def notifications(
        self, status: OutboxStatus | None = None, limit: int = 200
    ) -> list[Notification]:
        """The newest notifications of the outbox (of one status, when given)."""
        if not await self._has_outbox():
            return []
        return await self._store.outbox.listing(status, limit)

    async def notification_counts(self) -> dict[str, int]:
        """How many notifications are pending, sent and dead."""
        if not await self._has_outbox():
            return {}
        return await self._store.outbox.counts()

    async def _has_outbox(self) -> bool:
        """A home last written by a hitl from before the outbox has none (yet)."""
        return "hitl_outbox" in await existing_tables(self._store.db)

    async def verify_audit(self) -> Verification:
        return await self._audit.verify()

    async def journal_after(self, seq: int, limit: int = 1000) -> list[JournalEntry]:
        """Every event after ``seq`` (of every thread), oldest first, at most ``limit``."""
        return await self._store.journal.after(seq, limit)

    async def journal_last_seq(self) -> int:
        """The id of the latest journaled event: where "from now on" starts."""
        return await self._store.journal.last_seq()

    async def tokens(self) -> list[TokenView]:
        """Every bearer token of the home, revoked ones too; never their secrets."""
        return await self._store.tokens.all()

    async def token_holder(self, secret: str) -> TokenView | None:
        """The active token a bearer secret belongs to; None for a wrong or revoked one."""
        return await self._store.tokens.holder(secret)


def _database(home: Home) -> contextlib.AbstractAsyncContextManager[Database]:
    if home.database_url and dialect_of(home.database_url) == "postgres":
        return open_postgres(home.database_url)
    return open_sqlite(home.db, readonly=True)
