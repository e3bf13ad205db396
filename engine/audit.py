"""The tamper-evident audit log: an append-only hash chain in the home's database.

Each entry's hash covers its own content, its sequence number and the previous entry's
hash, so changing, removing or reordering any entry breaks the chain from there on.
What the chain cannot show is the newest entries being cut off: ``head()`` gives the
last hash to note somewhere else for that.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.database import Chain, ChainBuilder, Statement
from engine.store import Store

GENESIS = "0" * 64

SCHEMA = """
CREATE TABLE IF NOT EXISTS hitl_audit (
    seq INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    thread_id TEXT,
    approval_id TEXT,
    tool TEXT,
    operator TEXT,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS hitl_audit_thread ON hitl_audit (thread_id, seq);
"""


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


class AuditLog:
    """Appends are serialised across processes by the database's write lock (BEGIN
    IMMEDIATE on SQLite, a table lock on PostgreSQL): two writers can never both chain
    onto the same previous entry. Entries that record a change are written with it, by
    the store's ``commit``; ``append`` is for entries that record nothing else."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def setup(self) -> None:
        async with self._store.db.lock:
            await self._store.db.script(SCHEMA)

    async def append(self, note: AuditNote, *writes: Statement) -> None:
        await self._store.commit(writes, [(None, note)])

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
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        if until is not None:
            where.append("at <= ?")
            params.append(until)
        rows = await self._store._all(
            f"SELECT {_COLUMNS} FROM hitl_audit WHERE {' AND '.join(where)} ORDER BY seq",
            params,
        )
        return [_entry(r) for r in rows]

    async def last(self, kind: str) -> AuditEntry | None:
        row = await self._store._one(
            f"SELECT {_COLUMNS} FROM hitl_audit WHERE kind = ? ORDER BY seq DESC LIMIT 1", (kind,)
        )
        return _entry(row) if row else None

    async def verify(self) -> Verification:
        """Walks the whole chain and names the first entry that was changed, removed or
        moved."""
        rows = await self._store._all(f"SELECT {_COLUMNS} FROM hitl_audit ORDER BY seq")
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


def audit_note(event: object) -> AuditNote | None:
    """The audit entry an engine event makes, if any.

    Only what a reviewer needs after the fact: approvals asked for (with the verdict and
    the policy it came from), every decision (with the original and the edited
    arguments and the reason), every execution and its result, low tier included,
    denials, expiries and resolutions of outcome-unknown calls.
    """
    from engine.events import ApprovalDecided, ApprovalRequested, CallDenied, ToolExecuted

    if isinstance(event, ApprovalRequested):
        a = event.approval
        kind = "outcome_unknown" if a.kind == "outcome_unknown" else "approval_requested"
        body = {
            "args": a.args,
            "tier": a.tier,
            "reason": a.reason,
            "rules": list(a.rules),
            "required": a.required,
            "distinct_operators": a.distinct_operators,
            "expires_at": a.expires_at,
            "policy": a.policy_digest,
            "tool_call_id": a.tool_call_id,
        }
        return AuditNote(kind, body, a.thread_id, a.id, a.tool)
    if isinstance(event, ApprovalDecided):
        a = event.approval
        if event.decision == "expire":
            kind = "expired"
        elif a.kind == "outcome_unknown":
            kind = "outcome_resolved"
        else:
            kind = "decision"
        wire = a.decision or {}
        body = {
            "decision": event.decision,
            "final": event.final,
            "status": a.status,
            "original_args": a.original_args,
            "args": a.args,
            "edited": a.args != a.original_args,
            "edited_by": a.edited_by,
            "tier": a.tier,
            "rules": list(a.rules),
            "reason": wire.get("message"),
            "approvals": f"{a.received}/{a.required}",
            "approvers": list(a.approvers),
        }
        return AuditNote(kind, body, a.thread_id, a.id, a.tool, event.operator)
    if isinstance(event, ToolExecuted):
        body = {
            "args": event.args,
            "ok": event.ok,
            "result": event.result,
            "gated": event.gated,
            "tool_call_id": event.tool_call_id,
        }
        return AuditNote("tool_executed", body, event.thread_id, tool=event.tool)
    if isinstance(event, CallDenied):
        body = {"args": event.args, "reason": event.reason, "tool_call_id": event.tool_call_id}
        return AuditNote("call_denied", body, event.thread_id, tool=event.tool)
    return None
