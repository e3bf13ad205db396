"""The home directory, and the tables the engine keeps beside LangGraph's checkpoints.

These plain rows are what listings read (``hitl pending`` never imports LangGraph),
what makes decisions race-safe across processes (conditional updates), and what makes
gated tools at-most-once (an execution row is committed before the tool runs).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.database import Database, Statement, Write
from engine.errors import UnknownApproval, UnknownThread
from engine.views import ApprovalView, HistoryEntry, LedgerEntry, ThreadView

if TYPE_CHECKING:
    from engine.audit import AuditNote

LEASE_SECONDS = 15.0
"""A lease not renewed for this long is free, even when its owner's host is elsewhere."""
SHORT_ID_LENGTHS = (8, 12, 16)
"""An approval's id is the shortest of these prefixes of its interrupt id that is free."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS hitl_threads (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    answer TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS hitl_approvals (
    id TEXT PRIMARY KEY,
    interrupt_id TEXT NOT NULL UNIQUE,
    thread_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    tool_call_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    args TEXT NOT NULL,
    original_args TEXT NOT NULL,
    description TEXT NOT NULL,
    tier TEXT NOT NULL,
    reason TEXT NOT NULL,
    required INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,
    approvers TEXT NOT NULL DEFAULT '[]',
    args_schema TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'pending',
    version INTEGER NOT NULL DEFAULT 0,
    decision TEXT,
    decided_by TEXT,
    decided_at REAL,
    applied_at REAL,
    created_at REAL NOT NULL,
    rules TEXT NOT NULL DEFAULT '[]',
    distinct_operators INTEGER NOT NULL DEFAULT 0,
    expires_at REAL,
    warned_at REAL,
    policy_digest TEXT NOT NULL DEFAULT '',
    edited_by TEXT
);
CREATE INDEX IF NOT EXISTS hitl_approvals_open ON hitl_approvals (status, created_at);
CREATE INDEX IF NOT EXISTS hitl_approvals_thread ON hitl_approvals (thread_id);
CREATE TABLE IF NOT EXISTS hitl_executions (
    thread_id TEXT NOT NULL,
    tool_call_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    args TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    owner TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    PRIMARY KEY (thread_id, tool_call_id)
);
CREATE TABLE IF NOT EXISTS hitl_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    thread_id TEXT,
    kind TEXT NOT NULL,
    key TEXT,
    body TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS hitl_journal_thread ON hitl_journal (thread_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS hitl_journal_key ON hitl_journal (thread_id, key);
CREATE TABLE IF NOT EXISTS hitl_leases (
    thread_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS hitl_verdicts (
    thread_id TEXT NOT NULL,
    tool_call_id TEXT NOT NULL,
    call_digest TEXT NOT NULL,
    tool TEXT NOT NULL,
    tier TEXT NOT NULL,
    required INTEGER NOT NULL,
    distinct_operators INTEGER NOT NULL,
    expires_after REAL,
    reason TEXT NOT NULL,
    rules TEXT NOT NULL,
    policy_digest TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (thread_id, tool_call_id, call_digest)
);
CREATE TABLE IF NOT EXISTS hitl_policies (
    digest TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    body TEXT NOT NULL,
    text TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS hitl_ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id TEXT NOT NULL,
    tool_call_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    at REAL NOT NULL
);
"""

_THREAD_COLUMNS = (
    "t.id, t.title, t.task, t.model, t.status, t.created_at, t.updated_at, t.error, t.answer"
)
_PENDING_COUNT = (
    "(SELECT COUNT(*) FROM hitl_approvals a WHERE a.thread_id = t.id AND a.status = 'pending')"
)
_APPROVAL_COLUMNS = (
    "id, thread_id, kind, tool_call_id, tool, args, original_args, description, tier, reason, "
    "required, received, status, created_at, interrupt_id, args_schema, approvers, decision, "
    "decided_by, decided_at, version, rules, distinct_operators, expires_at, policy_digest, "
    "edited_by"
)


def _thread(row: Sequence[Any]) -> ThreadView:
    id_, title, task, model, status, created_at, updated_at, error, answer, pending = row
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
    )


def _approval(row: Sequence[Any]) -> ApprovalView:
    (id_, thread_id, kind, call_id, tool, args, original, description, tier, reason) = row[:10]
    (required, received, status, created_at, interrupt_id, schema, approvers) = row[10:17]
    decision, decided_by, decided_at, version, rules, distinct, expires_at = row[17:24]
    policy_digest, edited_by = row[24:26]
    return ApprovalView(
        id=id_,
        thread_id=thread_id,
        kind=kind,
        tool_call_id=call_id,
        tool=tool,
        args=json.loads(args),
        original_args=json.loads(original),
        description=description,
        tier=tier,
        reason=reason,
        required=required,
        received=received,
        status=status,
        created_at=created_at,
        interrupt_id=interrupt_id,
        args_schema=json.loads(schema),
        approvers=tuple(json.loads(approvers)),
        decision=json.loads(decision) if decision else None,
        decided_by=decided_by,
        decided_at=decided_at,
        version=version,
        rules=tuple(json.loads(rules)),
        distinct_operators=bool(distinct),
        expires_at=expires_at,
        policy_digest=policy_digest,
        edited_by=edited_by,
    )


_MIGRATIONS: Sequence[tuple[str, str, str]] = (
    ("hitl_approvals", "policy_digest", "TEXT NOT NULL DEFAULT ''"),
    ("hitl_approvals", "edited_by", "TEXT"),
)
"""Columns added since the first release: (table, column, type), added to older homes."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class Execution:
    """The durable record that a gated tool was about to run (and whether it finished)."""

    status: str
    result: str | None
    owner: str


@dataclass(frozen=True, slots=True)
class FixedVerdict:
    """A call's verdict as it was when its approval was first requested; whoever runs
    the call later (a resume, a sibling's decision, a crash) reads this back."""

    tier: str
    required: int
    distinct_operators: bool
    expires_after: float | None
    reason: str
    rules: tuple[str, ...]
    policy_digest: str
    at: float


class Store:
    """The engine's own tables, on the connection it shares with the checkpointer.

    Every method takes ``lock`` (the checkpointer's) so that our statements and
    LangGraph's never interleave inside one transaction.
    """

    def __init__(self, db: Database, origin: str, *, lease_seconds: float = LEASE_SECONDS) -> None:
        self.db = db
        self.origin = origin
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.lease_seconds = lease_seconds

    async def setup(self) -> None:
        async with self.db.lock:
            await self.db.script(SCHEMA)
        for table, column, kind in _MIGRATIONS:
            if column not in await self._columns(table):
                with contextlib.suppress(Exception):  # another process added it first
                    await self._write([(f"ALTER TABLE {table} ADD COLUMN {column} {kind}", ())])

    async def _columns(self, table: str) -> set[str]:
        if self.db.dialect == "sqlite":
            rows = await self._all("SELECT name FROM pragma_table_info(?)", (table,))
        else:
            rows = await self._all(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = ? AND table_schema = current_schema()",
                (table,),
            )
        return {r[0] for r in rows}

    async def commit(
        self,
        writes: Sequence[Statement | Write],
        audit: Sequence[tuple[int | None, AuditNote]] = (),
    ) -> list[int] | None:
        """One transaction: the writes, then the audit entries that record them (each
        only if the write it names changed a row). None when a guard failed: then
        nothing was written."""
        from engine.audit import audit_chain

        async with self.db.lock:
            return await self.db.transaction(writes, audit_chain(audit))

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self.db.lock:
            return await self.db.fetchall(sql, params)

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _write(self, statements: Sequence[Statement]) -> list[int]:
        """Runs the statements in one committed transaction; returns each rowcount."""
        if not statements:
            return []
        async with self.db.lock:
            counts = await self.db.transaction(statements)
        assert counts is not None  # no guards here
        return counts

    # --- threads -------------------------------------------------------------

    @staticmethod
    def thread_insert(thread: ThreadView) -> Statement:
        return (
            "INSERT INTO hitl_threads (id, title, task, model, status, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                thread.id,
                thread.title,
                thread.task,
                thread.model,
                thread.status,
                thread.created_at,
                thread.updated_at,
            ),
        )

    @staticmethod
    def thread_update(thread: ThreadView) -> Statement:
        """Writes a thread's status, error and answer as ``thread`` has them."""
        return (
            "UPDATE hitl_threads SET status = ?, error = ?, answer = ?, updated_at = ? "
            "WHERE id = ?",
            (thread.status, thread.error, thread.answer, thread.updated_at, thread.id),
        )

    async def threads(self, status: str | None = None) -> list[ThreadView]:
        where, params = ("WHERE t.status = ?", (status,)) if status else ("", ())
        rows = await self._all(
            f"SELECT {_THREAD_COLUMNS}, {_PENDING_COUNT} FROM hitl_threads t {where} "
            "ORDER BY t.created_at",
            params,
        )
        return [_thread(r) for r in rows]

    async def thread(self, ref: str) -> ThreadView:
        """The thread whose id is ``ref`` or starts with it (unique prefix)."""
        if not ref.strip():
            raise UnknownThread("a thread id is needed; `hitl threads` lists them")
        rows = await self._all(
            f"SELECT {_THREAD_COLUMNS}, {_PENDING_COUNT} FROM hitl_threads t "
            "WHERE t.id = ? OR t.id LIKE ? ESCAPE '\\' ORDER BY t.id = ? DESC LIMIT 3",
            (ref, _like_prefix(ref), ref),
        )
        if not rows:
            raise UnknownThread(f"no thread {ref!r}; `hitl threads` lists them")
        if rows[0][0] != ref and len(rows) > 1:
            ids = ", ".join(r[0] for r in rows)
            raise UnknownThread(f"thread {ref!r} is ambiguous ({ids}, ...); give more of the id")
        return _thread(rows[0])

    # --- approvals -----------------------------------------------------------

    async def approval_ids_for(self, interrupt_ids: Sequence[str]) -> dict[str, str | None]:
        """For each interrupt, the shortest free prefix of its id (8, 12, 16 hex digits
        or all of it) to show as its approval's id; None where the interrupt already has
        its approval. Short ids are what people type; a clash must never lose one."""
        if not interrupt_ids:
            return {}
        candidates = {i: [i[:n] for n in SHORT_ID_LENGTHS] + [i] for i in interrupt_ids}
        every = [c for options in candidates.values() for c in options]
        rows = await self._all(
            f"SELECT id, interrupt_id FROM hitl_approvals WHERE id IN ({_marks(every)}) "
            f"OR interrupt_id IN ({_marks(interrupt_ids)})",
            (*every, *interrupt_ids),
        )
        known = {r[1] for r in rows}
        taken = {r[0] for r in rows}
        chosen: dict[str, str | None] = {}
        for interrupt_id, options in candidates.items():
            if interrupt_id in known:
                chosen[interrupt_id] = None
                continue
            chosen[interrupt_id] = pick = next(c for c in options if c not in taken)
            taken.add(pick)
        return chosen

    @staticmethod
    def approval_insert(a: ApprovalView) -> Statement:
        """A new pending approval; changes no row when its interrupt already has one."""
        return (
            "INSERT INTO hitl_approvals (id, interrupt_id, thread_id, kind, tool_call_id, "
            "tool, args, original_args, description, tier, reason, required, args_schema, "
            "created_at, rules, distinct_operators, expires_at, policy_digest) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (interrupt_id) DO NOTHING",
            (
                a.id,
                a.interrupt_id,
                a.thread_id,
                a.kind,
                a.tool_call_id,
                a.tool,
                json.dumps(a.args),
                json.dumps(a.original_args),
                a.description,
                a.tier,
                a.reason,
                a.required,
                json.dumps(a.args_schema),
                a.created_at,
                json.dumps(list(a.rules)),
                int(a.distinct_operators),
                a.expires_at,
                a.policy_digest,
            ),
        )

    async def pending(self, thread_id: str | None = None) -> list[ApprovalView]:
        where = "status = 'pending'" + (" AND thread_id = ?" if thread_id else "")
        rows = await self._all(
            f"SELECT {_APPROVAL_COLUMNS} FROM hitl_approvals WHERE {where} ORDER BY created_at, id",
            (thread_id,) if thread_id else (),
        )
        return [_approval(r) for r in rows]

    async def approvals_of(self, thread_id: str) -> list[ApprovalView]:
        rows = await self._all(
            f"SELECT {_APPROVAL_COLUMNS} FROM hitl_approvals WHERE thread_id = ? "
            "ORDER BY created_at, id",
            (thread_id,),
        )
        return [_approval(r) for r in rows]

    async def approval(self, ref: str) -> ApprovalView:
        if not ref.strip():
            raise UnknownApproval("an approval id is needed; `hitl pending` lists the open ones")
        rows = await self._all(
            f"SELECT {_APPROVAL_COLUMNS} FROM hitl_approvals WHERE id = ? OR id LIKE ? "
            "ESCAPE '\\' ORDER BY id = ? DESC LIMIT 3",
            (ref, _like_prefix(ref), ref),
        )
        if not rows:
            raise UnknownApproval(f"no approval {ref!r}; `hitl pending` lists the open ones")
        if rows[0][0] != ref and len(rows) > 1:
            ids = ", ".join(r[0] for r in rows)
            raise UnknownApproval(f"approval {ref!r} is ambiguous ({ids}, ...); give more of it")
        return _approval(rows[0])

    @staticmethod
    def approval_decision(before: ApprovalView, after: ApprovalView, at: float) -> Write:
        """Records one person's decision (``after``) unless the approval changed since it
        was read (``before``) or has expired: a guard, so the transaction it is in
        writes nothing else either.

        The version check makes racing decisions safe across processes: exactly one of
        two updates of the same version wins.
        """
        return Write(
            "UPDATE hitl_approvals SET status = ?, args = ?, approvers = ?, received = ?, "
            "decision = ?, decided_by = ?, decided_at = ?, tier = ?, reason = ?, "
            "required = ?, rules = ?, distinct_operators = ?, expires_at = ?, edited_by = ?, "
            "version = version + 1 "
            "WHERE id = ? AND status = 'pending' AND version = ? "
            "AND (expires_at IS NULL OR expires_at > ?)",
            (
                after.status,
                json.dumps(after.args),
                json.dumps(list(after.approvers)),
                len(after.approvers),
                json.dumps(after.decision) if after.decision is not None else None,
                after.decided_by,
                after.decided_at,
                after.tier,
                after.reason,
                after.required,
                json.dumps(list(after.rules)),
                int(after.distinct_operators),
                after.expires_at,
                after.edited_by,
                before.id,
                before.version,
                at,
            ),
            guard=True,
        )

    @staticmethod
    def approval_expiry(before: ApprovalView, after: ApprovalView, at: float) -> Write:
        """Rejects an overdue approval, unless someone decided it meanwhile."""
        return Write(
            "UPDATE hitl_approvals SET status = ?, decision = ?, decided_by = ?, "
            "decided_at = ?, version = version + 1 "
            "WHERE id = ? AND status = 'pending' AND version = ? AND expires_at <= ?",
            (
                after.status,
                json.dumps(after.decision),
                after.decided_by,
                after.decided_at,
                before.id,
                before.version,
                at,
            ),
            guard=True,
        )

    async def call_approval(self, thread_id: str, tool_call_id: str) -> ApprovalView | None:
        """The tool-approval of a call: its verdict as decided (edits raise it)."""
        row = await self._one(
            f"SELECT {_APPROVAL_COLUMNS} FROM hitl_approvals WHERE thread_id = ? "
            "AND tool_call_id = ? AND kind = 'tool_approval' ORDER BY created_at DESC LIMIT 1",
            (thread_id, tool_call_id),
        )
        return _approval(row) if row else None

    async def expired(self, now: float) -> list[ApprovalView]:
        rows = await self._all(
            f"SELECT {_APPROVAL_COLUMNS} FROM hitl_approvals "
            "WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= ? "
            "ORDER BY expires_at",
            (now,),
        )
        return [_approval(r) for r in rows]

    async def claim_warnings(self, now: float, windows: Mapping[str, float]) -> list[ApprovalView]:
        """Pending approvals of each tier that entered its warning window; each is returned
        once, by whichever process claims it first."""
        due: list[ApprovalView] = []
        for tier, seconds in windows.items():
            rows = await self._all(
                f"SELECT {_APPROVAL_COLUMNS} FROM hitl_approvals WHERE status = 'pending' "
                "AND tier = ? AND warned_at IS NULL AND expires_at IS NOT NULL "
                "AND expires_at - ? <= ?",
                (tier, seconds, now),
            )
            for approval in map(_approval, rows):
                [claimed] = await self._write(
                    [
                        (
                            "UPDATE hitl_approvals SET warned_at = ? "
                            "WHERE id = ? AND warned_at IS NULL",
                            (now, approval.id),
                        )
                    ]
                )
                if claimed:
                    due.append(approval)
        return due

    async def unapplied(self, thread_id: str) -> list[ApprovalView]:
        """Decided approvals whose decision has not yet reached the graph."""
        rows = await self._all(
            f"SELECT {_APPROVAL_COLUMNS} FROM hitl_approvals WHERE thread_id = ? "
            "AND status != 'pending' AND applied_at IS NULL ORDER BY decided_at",
            (thread_id,),
        )
        return [_approval(r) for r in rows]

    async def threads_with_unapplied(self) -> list[str]:
        rows = await self._all(
            "SELECT DISTINCT thread_id FROM hitl_approvals "
            "WHERE status != 'pending' AND applied_at IS NULL"
        )
        return [r[0] for r in rows]

    async def mark_applied(self, approval_ids: Sequence[str]) -> None:
        now = time.time()
        await self._write(
            [
                ("UPDATE hitl_approvals SET applied_at = ? WHERE id = ?", (now, i))
                for i in approval_ids
            ]
        )

    # --- executions (at-most-once) -------------------------------------------

    async def execution(self, thread_id: str, tool_call_id: str) -> Execution | None:
        row = await self._one(
            "SELECT status, result, owner FROM hitl_executions "
            "WHERE thread_id = ? AND tool_call_id = ?",
            (thread_id, tool_call_id),
        )
        return Execution(*row) if row else None

    def execution_claim(
        self, thread_id: str, tool_call_id: str, tool: str, args: dict[str, Any]
    ) -> Statement:
        """Records that the call is about to run, unless a record exists (a row changed
        if new). Committed before the tool runs: after a crash it says "it may have run"."""
        return (
            "INSERT INTO hitl_executions (thread_id, tool_call_id, tool, args, status, "
            "owner, started_at) VALUES (?, ?, ?, ?, 'started', ?, ?) "
            "ON CONFLICT (thread_id, tool_call_id) DO NOTHING",
            (thread_id, tool_call_id, tool, json.dumps(args), self.origin, time.time()),
        )

    def execution_restart(
        self, thread_id: str, tool_call_id: str, tool: str, args: dict[str, Any]
    ) -> Statement:
        """A person chose to run an outcome-unknown call again: it is "started" anew."""
        return (
            "UPDATE hitl_executions SET status = 'started', tool = ?, args = ?, owner = ?, "
            "started_at = ?, finished_at = NULL, result = NULL "
            "WHERE thread_id = ? AND tool_call_id = ?",
            (tool, json.dumps(args), self.origin, time.time(), thread_id, tool_call_id),
        )

    @staticmethod
    def execution_finish(thread_id: str, tool_call_id: str, status: str, result: str) -> Statement:
        """Closes a started execution (only a started one: a replay changes nothing)."""
        return (
            "UPDATE hitl_executions SET status = ?, result = ?, finished_at = ? "
            "WHERE thread_id = ? AND tool_call_id = ? AND status = 'started'",
            (status, result, time.time(), thread_id, tool_call_id),
        )

    # --- verdicts: fixed when a call is first judged ---------------------------

    @staticmethod
    def verdict_insert(
        thread_id: str, tool_call_id: str, digest: str, tool: str, verdict: FixedVerdict
    ) -> Statement:
        """Keeps a call's verdict (unless it has one): what an edit is compared with."""
        return (
            "INSERT INTO hitl_verdicts (thread_id, tool_call_id, call_digest, tool, "
            "tier, required, distinct_operators, expires_after, reason, rules, "
            "policy_digest, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (thread_id, tool_call_id, call_digest) DO NOTHING",
            (
                thread_id,
                tool_call_id,
                digest,
                tool,
                verdict.tier,
                verdict.required,
                int(verdict.distinct_operators),
                verdict.expires_after,
                verdict.reason,
                json.dumps(list(verdict.rules)),
                verdict.policy_digest,
                verdict.at,
            ),
        )

    async def fix_verdict(
        self, thread_id: str, tool_call_id: str, digest: str, tool: str, verdict: FixedVerdict
    ) -> FixedVerdict:
        """Stores ``verdict`` for this call unless it has one; returns the one stored."""
        [new] = await self._write(
            [self.verdict_insert(thread_id, tool_call_id, digest, tool, verdict)]
        )
        if new:
            return verdict
        stored = await self.fixed_verdict(thread_id, tool_call_id, digest)
        assert stored is not None  # rows of this table are never deleted
        return stored

    async def fixed_verdict(
        self, thread_id: str, tool_call_id: str, digest: str
    ) -> FixedVerdict | None:
        row = await self._one(
            "SELECT tier, required, distinct_operators, expires_after, reason, rules, "
            "policy_digest, at FROM hitl_verdicts "
            "WHERE thread_id = ? AND tool_call_id = ? AND call_digest = ?",
            (thread_id, tool_call_id, digest),
        )
        if row is None:
            return None
        tier, required, distinct, expires_after, reason, rules, policy_digest, at = row
        return FixedVerdict(
            tier,
            required,
            bool(distinct),
            expires_after,
            reason,
            tuple(json.loads(rules)),
            policy_digest,
            at,
        )

    # --- policies: every one that was ever in force, by digest ----------------

    @staticmethod
    def policy_insert(digest: str, source: str, body: str, text: str) -> Statement:
        return (
            "INSERT INTO hitl_policies (digest, source, body, text, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (digest) DO NOTHING",
            (digest, source, body, text, time.time()),
        )

    async def policy(self, digest: str) -> tuple[str, str] | None:
        """(source, canonical body) of a policy once in force here."""
        row = await self._one("SELECT source, body FROM hitl_policies WHERE digest = ?", (digest,))
        return (row[0], row[1]) if row else None

    # --- leases: one process runs a thread at a time -------------------------

    async def acquire_lease(self, thread_id: str) -> bool:
        """Takes the thread for this process; free when unheld, expired, or its owner died."""
        now = time.time()
        [taken] = await self._write(
            [
                (
                    "INSERT INTO hitl_leases (thread_id, owner, host, pid, expires_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO UPDATE SET "
                    "owner = excluded.owner, host = excluded.host, pid = excluded.pid, "
                    "expires_at = excluded.expires_at "
                    "WHERE hitl_leases.owner = excluded.owner OR hitl_leases.expires_at < ?",
                    (thread_id, self.origin, self.host, self.pid, now + self.lease_seconds, now),
                )
            ]
        )
        if taken:
            return True
        row = await self._one(
            "SELECT owner, host, pid FROM hitl_leases WHERE thread_id = ?", (thread_id,)
        )
        if row is None or row[1] != self.host or row[2] == self.pid or _pid_alive(row[2]):
            return False
        [taken] = await self._write(  # its owner died on this host: take it over
            [
                (
                    "UPDATE hitl_leases SET owner = ?, host = ?, pid = ?, expires_at = ? "
                    "WHERE thread_id = ? AND owner = ?",
                    (self.origin, self.host, self.pid, now + self.lease_seconds, thread_id, row[0]),
                )
            ]
        )
        return taken == 1

    @staticmethod
    def lease_release(thread_id: str, origin: str) -> Statement:
        return ("DELETE FROM hitl_leases WHERE thread_id = ? AND owner = ?", (thread_id, origin))

    async def renew_leases(self, thread_ids: Sequence[str]) -> None:
        expires = time.time() + self.lease_seconds
        await self._write(
            [
                (
                    "UPDATE hitl_leases SET expires_at = ? WHERE thread_id = ? AND owner = ?",
                    (expires, t, self.origin),
                )
                for t in thread_ids
            ]
        )

    async def release_lease(self, thread_id: str) -> None:
        await self._write([self.lease_release(thread_id, self.origin)])

    async def lease_holder(self, thread_id: str) -> tuple[str, int] | None:
        row = await self._one(
            "SELECT host, pid FROM hitl_leases WHERE thread_id = ? AND expires_at > ?",
            (thread_id, time.time()),
        )
        return (row[0], row[1]) if row else None

    # --- journal -------------------------------------------------------------

    def journal_insert(
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

    async def journal_since(self, seq: int) -> tuple[int, list[HistoryEntry]]:
        """(newest seq, the rows other processes wrote after ``seq``).

        Our own rows are skipped without decoding: with hundreds of threads they are
        most of the journal, and this runs four times a second.
        """
        rows = await self._all(
            "SELECT seq, at, kind, CASE WHEN origin = ? THEN NULL ELSE body END "
            "FROM hitl_journal WHERE seq > ? ORDER BY seq LIMIT 5000",
            (self.origin, seq),
        )
        head = rows[-1][0] if rows else seq
        return head, [
            HistoryEntry(r[0], r[1], r[2], json.loads(r[3])) for r in rows if r[3] is not None
        ]

    async def journal_head(self) -> int:
        row = await self._one("SELECT COALESCE(MAX(seq), 0) FROM hitl_journal")
        return int(row[0])

    async def history(self, thread_id: str) -> list[HistoryEntry]:
        rows = await self._all(
            "SELECT seq, at, kind, body FROM hitl_journal WHERE thread_id = ? ORDER BY seq",
            (thread_id,),
        )
        return [HistoryEntry(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    # --- ledger (what the demo money and data tools did) ---------------------

    async def add_ledger(
        self, thread_id: str, tool_call_id: str, kind: str, body: dict[str, Any]
    ) -> int:
        async with self.db.lock:
            [(row_id,)] = await self.db.returning(
                "INSERT INTO hitl_ledger (thread_id, tool_call_id, kind, body, at) "
                "VALUES (?, ?, ?, ?, ?) RETURNING id",
                (thread_id, tool_call_id, kind, json.dumps(body), time.time()),
            )
        return int(row_id)

    async def ledger(self) -> list[LedgerEntry]:
        rows = await self._all(
            "SELECT id, thread_id, tool_call_id, kind, body, at FROM hitl_ledger ORDER BY id"
        )
        return [LedgerEntry(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


def _like_prefix(ref: str) -> str:
    escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
