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


class AuditLog:
    """Appends are serialised across processes by SQLite's write lock (BEGIN IMMEDIATE):
    two writers can never both chain onto the same previous entry."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def setup(self) -> None:
        async with self._store.db.lock:
            await self._store.db.script(SCHEMA)

    async def append(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        thread_id: str | None = None,
        approval_id: str | None = None,
        tool: str | None = None,
        operator: str | None = None,
    ) -> AuditEntry:
        text = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
        made: dict[str, Any] = {}

        def chain(last: Sequence[Any] | None) -> tuple[str, Sequence[Any]]:
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            at = time.time()
            digest = entry_hash(seq, at, kind, thread_id, approval_id, tool, operator, text, prev)
            made.update(seq=seq, at=at, prev=prev, digest=digest)
            return (
                f"INSERT INTO hitl_audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, at, kind, thread_id, approval_id, tool, operator, text, prev, digest),
            )

        async with self._store.db.lock:
            await self._store.db.append_chained(
                "hitl_audit", "SELECT seq, hash FROM hitl_audit ORDER BY seq DESC LIMIT 1", chain
            )
        seq, at, prev, digest = made["seq"], made["at"], made["prev"], made["digest"]
        return AuditEntry(seq, at, kind, thread_id, approval_id, tool, operator, body, prev, digest)

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


def audit_record(event: object) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """(kind, indexed fields, body) of the audit entry an engine event makes, if any.

    Only what a reviewer needs after the fact: approvals asked for, every decision (with
    the original and the edited arguments and the reason), every gated execution and its
    result, denials, expiries and resolutions of outcome-unknown calls.
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
            "tool_call_id": a.tool_call_id,
        }
        return kind, {"thread_id": a.thread_id, "approval_id": a.id, "tool": a.tool}, body
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
            "reason": wire.get("message"),
            "approvals": f"{a.received}/{a.required}",
            "approvers": list(a.approvers),
        }
        fields = {
            "thread_id": a.thread_id,
            "approval_id": a.id,
            "tool": a.tool,
            "operator": event.operator,
        }
        return kind, fields, body
    if isinstance(event, ToolExecuted) and event.gated:
        body = {
            "args": event.args,
            "ok": event.ok,
            "result": event.result,
            "tool_call_id": event.tool_call_id,
        }
        return "tool_executed", {"thread_id": event.thread_id, "tool": event.tool}, body
    if isinstance(event, CallDenied):
        body = {"args": event.args, "reason": event.reason, "tool_call_id": event.tool_call_id}
        return "call_denied", {"thread_id": event.thread_id, "tool": event.tool}, body
    return None
