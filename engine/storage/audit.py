"""``hitl_audit``, the tamper-evident audit log: an append-only hash chain.

Each entry's hash covers its own content, its sequence number and the previous entry's
hash, so changing, removing or reordering any entry breaks the chain from there on.
What the chain cannot show is the newest entries being cut off: ``verify()`` gives the
last hash (``Verification.head``) to note somewhere else for that.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.storage.database import Chain, ChainBuilder, Database, Statement, Write

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: float
    kind: str
    thread_id: str | None
    approval_id: str | None
    tool: str | None
    operator: str | None
    body: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of walking the chain: ``ok``, or the first entry that is wrong and how."""

    entries: int
    ok: bool
    problem: str | None = None
    seq: int | None = None
    head: str = GENESIS


def entry_hash(
    seq: int,
    at: float,
    kind: str,
    thread_id: str | None,
    approval_id: str | None,
    tool: str | None,
    operator: str | None,
    body: str,
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        [seq, repr(at), kind, thread_id, approval_id, tool, operator, body, prev_hash],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


_COLUMNS = "seq, at, kind, thread_id, approval_id, tool, operator, body, prev_hash, hash"


def _entry(row: Sequence[Any]) -> AuditEntry:
    return AuditEntry(
        seq=row[0],
        at=row[1],
        kind=row[2],
        thread_id=row[3],
        approval_id=row[4],
        tool=row[5],
        operator=row[6],
        body=json.loads(row[7]),
        prev_hash=row[8],
        hash=row[9],
    )


@dataclass(frozen=True, slots=True)
class AuditNote:
    """An audit entry to be written in the same transaction as the change it records:
    a crash can leave both or neither, never the effect without its record."""

    kind: str
    body: dict[str, Any]
    thread_id: str | None = None
    approval_id: str | None = None
    tool: str | None = None
    operator: str | None = None

    def link(self) -> ChainBuilder:
        text = json.dumps(self.body, sort_keys=True, ensure_ascii=False, default=str)
        fields = (self.kind, self.thread_id, self.approval_id, self.tool, self.operator)

        def build(last: Sequence[Any] | None) -> tuple[Statement, Sequence[Any]]:
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            at = time.time()
            digest = entry_hash(seq, at, *fields, text, prev)
            insert = f"INSERT INTO hitl_audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            return (insert, (seq, at, *fields, text, prev, digest)), (seq, digest)

        return build


def audit_chain(notes: Sequence[tuple[int | None, AuditNote]]) -> Chain | None:
    """The chain links for ``notes``: (index of the write each depends on, or None; note)."""
    if not notes:
        return None
    return Chain(
        "hitl_audit",
        "SELECT seq, hash FROM hitl_audit ORDER BY seq DESC LIMIT 1",
        [(when, note.link()) for when, note in notes],
        tuple(note.kind for _, note in notes),
    )


async def commit(
    db: Database,
    writes: Sequence[Statement | Write],
    audit: Sequence[tuple[int | None, AuditNote]] = (),
) -> list[int] | None:
    """One transaction: the writes, then the audit entries that record them (each only
    if the write it names, by index, changed a row; None: always). None when a guard
    failed: then nothing was written."""
    return await db.transaction(writes, audit_chain(audit))


class AuditLog:
    """Appends are serialised across processes by the database's write lock (BEGIN
    IMMEDIATE on SQLite, a table lock on PostgreSQL): two writers can never both chain
    onto the same previous entry. Entries that record a change are written with it, by
    ``commit``; ``append`` is for entries that record nothing else."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def append(self, note: AuditNote, *writes: Statement) -> None:
        await commit(self.db, writes, [(None, note)])

    async def entries(
        self,
        *,
        thread_id: str | None = None,
        tool: str | None = None,
        operator: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[AuditEntry]:
        where: list[str] = ["1 = 1"]
        params: list[object] = []
        for column, value in (("thread_id", thread_id), ("tool", tool), ("operator", operator)):
            if value is not None and "\x00" in value:  # nothing recorded has one (and
                return []  # PostgreSQL refuses to compare with it)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        if until is not None:
            where.append("at <= ?")
            params.append(until)
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM hitl_audit WHERE {' AND '.join(where)} ORDER BY seq",
            params,
        )
        return [_entry(r) for r in rows]

    async def last(self, kind: str) -> AuditEntry | None:
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM hitl_audit WHERE kind = ? ORDER BY seq DESC LIMIT 1", (kind,)
        )
        return _entry(rows[0]) if rows else None

    async def verify(self) -> Verification:
        """Walks the whole chain and names the first entry that was changed, removed or
        moved."""
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM hitl_audit ORDER BY seq")
        prev, expected_seq = GENESIS, 1
        for row in rows:
            seq, at, kind, thread_id, approval_id, tool, operator, body, prev_hash, digest = row
            if seq != expected_seq:
                missing = (
                    f"#{expected_seq}"
                    if seq == expected_seq + 1
                    else (f"#{expected_seq} to #{seq - 1}")
                )
                return Verification(len(rows), False, f"entry {missing} was removed", expected_seq)
            if prev_hash != prev:
                return Verification(
                    len(rows),
                    False,
                    f"entry #{seq} does not follow entry #{seq - 1}: "
                    "an entry before it was changed, removed or moved",
                    seq,
                )
            recomputed = entry_hash(
                seq, at, kind, thread_id, approval_id, tool, operator, body, prev_hash
            )
            if recomputed != digest:
                return Verification(
                    len(rows), False, f"entry #{seq} ({kind}) was changed after it was written", seq
                )
            prev, expected_seq = digest, seq + 1
        return Verification(len(rows), True, None, None, prev)
