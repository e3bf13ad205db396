"""``hitl_threads``: one row per thread, what listings show without opening LangGraph."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.errors import UnknownThread
from engine.storage.database import Database, Statement
from engine.storage.lookup import Naming, find_by_prefix
from engine.views import ThreadView

COLUMNS = (
    "t.id, t.title, t.task, t.model, t.status, t.created_at, t.updated_at, t.error, "
    "t.answer, t.graph, (SELECT COUNT(*) FROM hitl_approvals a "
    "WHERE a.thread_id = t.id AND a.status = 'pending')"
)
"""A thread's row as ``thread_of`` reads it, from ``hitl_threads t``."""
_SELECT = f"SELECT {COLUMNS} FROM hitl_threads t"
_NAMING = Naming(
    UnknownThread,
    needed="a thread id is needed; `hitl threads` lists them",
    missing="no thread {ref!r}; `hitl threads` lists them",
    ambiguous="thread {ref!r} is ambiguous ({ids}, ...); give more of the id",
)


def thread_of(row: Sequence[Any]) -> ThreadView:
    id_, title, task, model, status, created_at, updated_at, error, answer, graph, pending = row
    return ThreadView(
        id=id_,
        title=title,
        task=task,
        model=model,
        status=status,
        created_at=created_at,
        updated_at=updated_at,
        error=error,
        answer=answer,
        pending=pending,
        graph=graph,
    )


class Threads:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self, status: str | None = None) -> list[ThreadView]:
        """Every thread (with ``status``, when given), oldest first."""
        where, params = (" WHERE t.status = ?", (status,)) if status else ("", ())
        rows = await self.db.fetchall(f"{_SELECT}{where} ORDER BY t.created_at", params)
        return [thread_of(r) for r in rows]

    async def get(self, thread_id: str) -> ThreadView | None:
        """The thread with exactly this id, if the engine knows it."""
        rows = await self.db.fetchall(f"{_SELECT} WHERE t.id = ?", (thread_id,))
        return thread_of(rows[0]) if rows else None

    async def find(self, ref: str) -> ThreadView:
        """The thread whose id is ``ref`` or starts with it (unique prefix)."""
        return thread_of(await find_by_prefix(self.db, _SELECT, "t.id", ref, _NAMING))

    @staticmethod
    def insert_statement(thread: ThreadView) -> Statement:
        return (
            "INSERT INTO hitl_threads (id, title, task, model, status, created_at, updated_at, "
            "graph) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                thread.id,
                thread.title,
                thread.task,
                thread.model,
                thread.status,
                thread.created_at,
                thread.updated_at,
                thread.graph,
            ),
        )

    @staticmethod
    def adopt_statement(thread: ThreadView) -> Statement:
        """A thread another program started on the shared checkpointer, recorded the
        first time it is seen (changes no row when it is known already)."""
        insert, params = Threads.insert_statement(thread)
        return insert + " ON CONFLICT (id) DO NOTHING", params

    @staticmethod
    def update_statement(thread: ThreadView) -> Statement:
        """Writes a thread's status, error and answer as ``thread`` has them."""
        return (
            "UPDATE hitl_threads SET status = ?, error = ?, answer = ?, updated_at = ? "
            "WHERE id = ?",
            (thread.status, thread.error, thread.answer, thread.updated_at, thread.id),
        )
