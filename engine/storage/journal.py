"""``hitl_journal``: every event, in order, for other processes and for a thread's story.

Each engine appends its events here in the transaction of the change they describe,
and tails the rows other engines (``origin``) wrote.
"""

from __future__ import annotations

import json
from typing import Any

from engine.storage.database import Database, Write, fetchone
from engine.views import HistoryEntry

TAIL_LIMIT = 5000
"""The most rows one look at the journal reads; the rest wait for the next look."""


class Journal:
    def __init__(self, db: Database, origin: str) -> None:
        self.db = db
        self.origin = origin
        """Who writes here: this engine's id; its own rows are skipped when tailing."""

    def insert_statement(
        self,
        thread_id: str | None,
        kind: str,
        key: str | None,
        body: dict[str, Any],
        at: float,
        when: int | None = None,
    ) -> Write:
        """A journal row, reporting its seq; skipped (0) when the thread already has
        ``key``, as LangGraph replays a step's finished writes when it resumes."""
        return Write(
            "INSERT INTO hitl_journal (origin, thread_id, kind, key, body, at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq",
            (self.origin, thread_id, kind, key, json.dumps(body), at),
            when=when,
            returns_id=True,
        )

    async def since(self, seq: int) -> tuple[int, list[HistoryEntry]]:
        """(newest seq, the rows other processes wrote after ``seq``).

        Our own rows are skipped without decoding: with hundreds of threads they are
        most of the journal, and this runs four times a second.
        """
        rows = await self.db.fetchall(
            "SELECT seq, at, kind, CASE WHEN origin = ? THEN NULL ELSE body END "
            f"FROM hitl_journal WHERE seq > ? ORDER BY seq LIMIT {TAIL_LIMIT}",
            (self.origin, seq),
        )
        head = rows[-1][0] if rows else seq
        return head, [
            HistoryEntry(r[0], r[1], r[2], json.loads(r[3])) for r in rows if r[3] is not None
        ]

    async def head(self) -> int:
        row = await fetchone(self.db, "SELECT COALESCE(MAX(seq), 0) FROM hitl_journal")
        assert row is not None  # an aggregate always has its row
        return int(row[0])

    async def history(self, thread_id: str) -> list[HistoryEntry]:
        rows = await self.db.fetchall(
            "SELECT seq, at, kind, body FROM hitl_journal WHERE thread_id = ? ORDER BY seq",
            (thread_id,),
        )
        return [HistoryEntry(r[0], r[1], r[2], json.loads(r[3])) for r in rows]
