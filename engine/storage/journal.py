"""``hitl_journal``: every event, in order, for other processes and for a thread's story.

Each engine appends its events here in the transaction of the change they describe,
and tails the rows other engines (``origin``) wrote.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.storage.database import Database, Write, fetchone
from engine.storage.snapshots import SNAPSHOT, Snapshot, unseen_by
from engine.views import HistoryEntry, JournalEntry

TAIL_LIMIT = 5000
"""The most rows one look at the journal reads; the rest wait for the next look."""

_COLUMNS = "seq, at, kind, CASE WHEN origin = ? THEN NULL ELSE body END AS body"

_SQLITE_TAIL = f"SELECT {_COLUMNS} FROM hitl_journal WHERE seq > ? ORDER BY seq LIMIT {TAIL_LIMIT}"
"""SQLite's writers take turns (each holds the write lock through its COMMIT), so a
row committed later has a larger seq."""

_POSTGRES_TAIL = f"""WITH fresh AS MATERIALIZED (
    SELECT {_COLUMNS}, xid FROM hitl_journal WHERE {unseen_by("xid")}
)
SELECT NULL, NULL, NULL, NULL, {SNAPSHOT}
UNION ALL (
    SELECT seq, at, kind, body, xid::text FROM fresh ORDER BY fresh.xid, seq LIMIT {TAIL_LIMIT + 1}
)"""
"""The look's own snapshot, and the rows the previous one could not see. (Found first,
through the index, then sorted: asked for in order, the planner walks the whole index.)"""

_POSTGRES_ONE = f"SELECT {_COLUMNS}, xid::text FROM hitl_journal WHERE xid = ?::xid8 ORDER BY seq"


@dataclass(frozen=True, slots=True)
class TailCursor:
    """Where a tail of the journal stands: SQLite's after ``seq``; PostgreSQL's after
    every row its ``snapshot`` (``engine.storage.snapshots``) could see."""

    seq: int = 0
    snapshot: str | None = None


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

    async def since(self, cursor: TailCursor) -> tuple[TailCursor, list[HistoryEntry]]:
        """(where the tail stands now, the rows other processes wrote since ``cursor``),
        each row once, at most ``TAIL_LIMIT`` read per look.

        Our own rows are skipped without decoding: with hundreds of threads they are
        most of the journal, and this runs four times a second.
        """
        if cursor.snapshot is None:
            rows = await self.db.fetchall(_SQLITE_TAIL, (self.origin, cursor.seq))
            return TailCursor(rows[-1][0] if rows else cursor.seq), _entries(rows)
        return await self._since_snapshot(Snapshot.parse(cursor.snapshot))

    async def _since_snapshot(self, seen: Snapshot) -> tuple[TailCursor, list[HistoryEntry]]:
        """PostgreSQL: the rows of every transaction ``seen`` could not see, in the order
        of their transactions; a look that must stop early stops between two."""
        rows = await self.db.fetchall(_POSTGRES_TAIL, (self.origin, str(seen), str(seen)))
        later = Snapshot.parse(next(str(r[4]) for r in rows if r[0] is None))
        found = sorted((r for r in rows if r[0] is not None), key=lambda r: (int(r[4]), r[0]))
        if len(found) <= TAIL_LIMIT:
            return TailCursor(snapshot=str(later)), _entries(found)
        cut = int(found[-1][4])
        found = [r for r in found if int(r[4]) < cut]
        if not found:  # one transaction wrote more than a look reads: read it whole
            found = await self.db.fetchall(_POSTGRES_ONE, (self.origin, str(cut)))
        last = int(found[-1][4])
        return TailCursor(snapshot=str(seen.through(later, last))), _entries(found)

    async def head(self) -> TailCursor:
        """Where a new tail starts: after every row committed now, and before every row
        of a transaction still in progress (on PostgreSQL a row with a lower seq may
        still commit; it will be read)."""
        if self.db.dialect == "postgres":
            row = await fetchone(self.db, f"SELECT {SNAPSHOT}")
            assert row is not None
            return TailCursor(snapshot=str(row[0]))
        row = await fetchone(self.db, "SELECT COALESCE(MAX(seq), 0) FROM hitl_journal")
        assert row is not None  # an aggregate always has its row
        return TailCursor(int(row[0]))

    async def after(self, seq: int, limit: int = 1000) -> list[JournalEntry]:
        """Every event after ``seq``, of every thread and process, in seq order, at most
        ``limit`` (a replay for a client that reconnects)."""
        rows = await self.db.fetchall(
            "SELECT seq, at, thread_id, kind, body FROM hitl_journal WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [JournalEntry(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    async def last_seq(self) -> int:
        """The highest seq written so far (0 for an empty journal)."""
        row = await fetchone(self.db, "SELECT COALESCE(MAX(seq), 0) FROM hitl_journal")
        assert row is not None  # an aggregate always has its row
        return int(row[0])

    async def history(self, thread_id: str) -> list[HistoryEntry]:
        rows = await self.db.fetchall(
            "SELECT seq, at, kind, body FROM hitl_journal WHERE thread_id = ? ORDER BY seq",
            (thread_id,),
        )
        return _entries(rows)


def _entries(rows: Sequence[Sequence[Any]]) -> list[HistoryEntry]:
    """The rows with a body (another origin's, when tailing), decoded."""
    return [HistoryEntry(r[0], r[1], r[2], json.loads(r[3])) for r in rows if r[3] is not None]
