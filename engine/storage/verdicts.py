"""``hitl_verdicts``: a call's verdict, fixed when the call is first judged.

LangGraph re-runs a node from its top (a sibling's decision, a resume, a crash);
whatever the gate decided the first time is read back here, never judged again under
whatever policy the current process loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from engine.storage.database import Database, Statement, execute, fetchone


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


class Verdicts:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def fix(
        self, thread_id: str, tool_call_id: str, digest: str, tool: str, verdict: FixedVerdict
    ) -> FixedVerdict:
        """Stores ``verdict`` for this call unless it has one; returns the one stored."""
        insert = self.insert_statement(thread_id, tool_call_id, digest, tool, verdict)
        [new] = await execute(self.db, [insert])
        if new:
            return verdict
        stored = await self.get(thread_id, tool_call_id, digest)
        assert stored is not None  # rows of this table are never deleted
        return stored

    async def get(self, thread_id: str, tool_call_id: str, digest: str) -> FixedVerdict | None:
        row = await fetchone(
            self.db,
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

    @staticmethod
    def insert_statement(
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
