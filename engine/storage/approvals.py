"""``hitl_approvals``: one row per question put to people, and what they answered.

Decisions are conditional updates on the row's version, so exactly one of two racing
decisions (from any process) wins; expiry is the same kind of update.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from engine.errors import UnknownApproval
from engine.storage.database import Database, Statement, Write, execute
from engine.storage.json_text import loads
from engine.storage.lookup import Naming, find_by_prefix, marks
from engine.storage.threads import COLUMNS as THREAD_COLUMNS
from engine.storage.threads import thread_of
from engine.views import ApprovalView, ThreadView

SHORT_ID_LENGTHS = (8, 12, 16)
"""An approval's id is the shortest of these prefixes of its interrupt id that is free."""

_COLUMNS = (
    "id, thread_id, kind, tool_call_id, tool, args, original_args, description, tier, "
    "reason, required, received, status, created_at, interrupt_id, args_schema, approvers, "
    "decision, decided_by, decided_at, version, rules, distinct_operators, expires_at, "
    "policy_digest, edited_by, format, action_index, action_count, allowed, protected, "
    "interrupt_value"
)
_SELECT = f"SELECT {_COLUMNS} FROM hitl_approvals"
_WIDTH = len(_COLUMNS.split(","))
_WITH_THREAD = (
    f"SELECT {', '.join('c.' + c.strip() for c in _COLUMNS.split(','))}, {THREAD_COLUMNS} "
    "FROM hitl_approvals c LEFT JOIN hitl_threads t ON t.id = c.thread_id"
)
"""An approval's row and its thread's, in one read."""
_UNSENT = "applied_at IS NULL AND (status != 'pending' OR action_count > 1)"
"""Decisions not yet sent, with the pending cards that may hold them back."""
_NAMING = Naming(
    UnknownApproval,
    needed="an approval id is needed; `hitl pending` lists the open ones",
    missing="no approval {ref!r}; `hitl pending` lists the open ones",
    ambiguous="approval {ref!r} is ambiguous ({ids}, ...); give more of it",
)


def _approval(row: Sequence[Any]) -> ApprovalView:
    (id_, thread_id, kind, call_id, tool, args, original, description, tier, reason) = row[:10]
    (required, received, status, created_at, interrupt_id, schema, approvers) = row[10:17]
    decision, decided_by, decided_at, version, rules, distinct, expires_at = row[17:24]
    policy_digest, edited_by, format_, index, count, allowed, protected, value = row[24:32]
    return ApprovalView(
        id=id_,
        thread_id=thread_id,
        kind=kind,
        tool_call_id=call_id,
        tool=tool,
        args=loads(args),
        original_args=loads(original),
        description=description,
        tier=tier,
        reason=reason,
        required=required,
        received=received,
        status=status,
        created_at=created_at,
        interrupt_id=interrupt_id,
        args_schema=loads(schema),
        approvers=tuple(loads(approvers)),
        decision=loads(decision) if decision else None,
        decided_by=decided_by,
        decided_at=decided_at,
        version=version,
        rules=tuple(loads(rules)),
        distinct_operators=bool(distinct),
        expires_at=expires_at,
        policy_digest=policy_digest,
        edited_by=edited_by,
        format=format_,
        action_index=index,
        action_count=count,
        allowed=tuple(loads(allowed)),
        protected=bool(protected),
        value=loads(value) if value is not None else None,
    )


def _short_candidates(key: str) -> list[str]:
    """A card's key is its interrupt's id, or ``id:index`` for one of several actions."""
    base, _, index = key.partition(":")
    suffix = f"-{index}" if index else ""
    return [f"{base[:n]}{suffix}" for n in SHORT_ID_LENGTHS] + [key]


class Approvals:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _select(self, where: str, params: Sequence[Any] = ()) -> list[ApprovalView]:
        return [_approval(r) for r in await self.db.fetchall(f"{_SELECT} WHERE {where}", params)]

    async def find(self, ref: str) -> ApprovalView:
        """The approval whose id is ``ref`` or starts with it (unique prefix)."""
        return _approval(await find_by_prefix(self.db, _SELECT, "id", ref, _NAMING))

    async def find_with_thread(self, ref: str) -> tuple[ApprovalView, ThreadView | None]:
        """``find(ref)`` and the row of its thread (None if it has none), in one read:
        a decision that resumes the thread records it as running in its own commit."""
        row = await find_by_prefix(self.db, _WITH_THREAD, "c.id", ref, _NAMING)
        thread = thread_of(row[_WIDTH:]) if row[_WIDTH] is not None else None
        return _approval(row[:_WIDTH]), thread

    async def pending(self, thread_id: str | None = None) -> list[ApprovalView]:
        """Every pending approval (of one thread, when given), oldest first."""
        where = "status = 'pending'" + (" AND thread_id = ?" if thread_id else "")
        return await self._select(
            f"{where} ORDER BY created_at, id", (thread_id,) if thread_id else ()
        )

    async def of_thread(self, thread_id: str) -> list[ApprovalView]:
        return await self._select("thread_id = ? ORDER BY created_at, id", (thread_id,))

    async def of_call(self, thread_id: str, tool_call_id: str) -> ApprovalView | None:
        """The tool-approval of a call: its verdict as decided (edits raise it)."""
        found = await self._select(
            "thread_id = ? AND tool_call_id = ? AND kind = 'tool_approval' "
            "ORDER BY created_at DESC LIMIT 1",
            (thread_id, tool_call_id),
        )
        return found[0] if found else None

    async def of_interrupt(self, thread_id: str, interrupt_id: str) -> list[ApprovalView]:
        """Every card of one interrupt, in action order."""
        return await self._select(
            "thread_id = ? AND (interrupt_id = ? OR interrupt_id LIKE ?) ORDER BY action_index",
            (thread_id, interrupt_id, f"{interrupt_id}:%"),
        )

    async def expired(self, now: float) -> list[ApprovalView]:
        return await self._select(
            "status = 'pending' AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at",
            (now,),
        )

    async def unapplied(self, thread_id: str) -> list[ApprovalView]:
        """Decided approvals whose decision has not yet reached the graph and can: every
        other card of their interrupt is decided too (a batched review is sent whole)."""
        rows = await self._select(f"thread_id = ? AND {_UNSENT} ORDER BY decided_at", (thread_id,))
        waiting = {a.interrupt for a in rows if a.status == "pending"}
        return [a for a in rows if a.status != "pending" and a.interrupt not in waiting]

    async def threads_with_unapplied(self) -> list[str]:
        """The threads :meth:`unapplied` has something for."""
        rows = await self.db.fetchall(
            f"SELECT thread_id, interrupt_id, status FROM hitl_approvals WHERE {_UNSENT}"
        )
        waiting = {(t, i.split(":", 1)[0]) for t, i, status in rows if status == "pending"}
        ready = [
            t
            for t, i, status in rows
            if status != "pending" and (t, i.split(":", 1)[0]) not in waiting
        ]
        return list(dict.fromkeys(ready))

    async def short_ids(self, interrupt_ids: Sequence[str]) -> dict[str, str | None]:
        """For each interrupt, the shortest free prefix of its id (8, 12, 16 hex digits
        or all of it) to show as its approval's id; None where the interrupt already has
        its approval. Short ids are what people type; a clash must never lose one."""
        if not interrupt_ids:
            return {}
        candidates = {i: _short_candidates(i) for i in interrupt_ids}
        every = [c for options in candidates.values() for c in options]
        rows = await self.db.fetchall(
            f"SELECT id, interrupt_id FROM hitl_approvals WHERE id IN ({marks(every)}) "
            f"OR interrupt_id IN ({marks(interrupt_ids)})",
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

    async def claim_warnings(self, now: float, windows: Mapping[str, float]) -> list[ApprovalView]:
        """Pending approvals of each tier that entered its warning window; each is returned
        once, by whichever process claims it first."""
        due: list[ApprovalView] = []
        for tier, seconds in windows.items():
            found = await self._select(
                "status = 'pending' AND tier = ? AND warned_at IS NULL "
                "AND expires_at IS NOT NULL AND expires_at - ? <= ?",
                (tier, seconds, now),
            )
            for approval in found:
                claim = (
                    "UPDATE hitl_approvals SET warned_at = ? WHERE id = ? AND warned_at IS NULL",
                    (now, approval.id),
                )
                [claimed] = await execute(self.db, [claim])
                if claimed:
                    due.append(approval)
        return due

    async def mark_applied(self, approval_ids: Sequence[str]) -> None:
        await execute(self.db, self.applied_statements(approval_ids, time.time()))

    @staticmethod
    def applied_statements(approval_ids: Sequence[str], at: float) -> list[Statement]:
        """Marks decisions as sent to the graph (none for no ids): written with the
        status the run that sent them ended in."""
        if not approval_ids:
            return []
        return [
            (
                f"UPDATE hitl_approvals SET applied_at = ? WHERE id IN ({marks(approval_ids)})",
                (at, *approval_ids),
            )
        ]

    @staticmethod
    def insert_statement(a: ApprovalView) -> Statement:
        """A new pending approval; changes no row when its interrupt already has one."""
        return (
            "INSERT INTO hitl_approvals (id, interrupt_id, thread_id, kind, tool_call_id, "
            "tool, args, original_args, description, tier, reason, required, args_schema, "
            "created_at, rules, distinct_operators, expires_at, policy_digest, format, "
            "action_index, action_count, allowed, protected, interrupt_value) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
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
                a.format,
                a.action_index,
                a.action_count,
                json.dumps(list(a.allowed)),
                int(a.protected),
                json.dumps(a.value) if a.value is not None else None,
            ),
        )

    @staticmethod
    def decision_statement(before: ApprovalView, after: ApprovalView, at: float) -> Write:
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
    def withdraw_statement(before: ApprovalView, at: float) -> Write:
        """Closes a pending card whose interrupt is gone: its thread went on elsewhere."""
        return Write(
            "UPDATE hitl_approvals SET status = 'withdrawn', decided_at = ?, applied_at = ?, "
            "version = version + 1 WHERE id = ? AND status = 'pending' AND version = ?",
            (at, at, before.id, before.version),
            guard=True,
        )

    @staticmethod
    def unsent_statement(before: ApprovalView, at: float) -> Write:
        """Closes a decided card whose decision the thread never took (a server
        refused it: the thread went on elsewhere); a decision already sent stays."""
        return Write(
            "UPDATE hitl_approvals SET status = 'withdrawn', applied_at = ?, "
            "version = version + 1 WHERE id = ? AND applied_at IS NULL AND version = ?",
            (at, before.id, before.version),
            guard=True,
        )

    @staticmethod
    def expiry_statement(before: ApprovalView, after: ApprovalView, at: float) -> Write:
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
