"""``hitl_executions``: what makes a gated tool run at most once.

An execution row is committed before the tool runs; after a crash, a "started" row
says "it may have run", and a person decides rather than the engine running it again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from engine.storage.database import Database, Statement, fetchone


@dataclass(frozen=True, slots=True)
class Execution:
    """The durable record that a gated tool was about to run (and whether it finished)."""

    status: str
    result: str | None
    owner: str


class Executions:
    def __init__(self, db: Database, origin: str) -> None:
        self.db = db
        self.origin = origin
        """Who claims executions here: this engine's id, as in the journal."""

    async def get(self, thread_id: str, tool_call_id: str) -> Execution | None:
        row = await fetchone(
            self.db,
            "SELECT status, result, owner FROM hitl_executions "
            "WHERE thread_id = ? AND tool_call_id = ?",
            (thread_id, tool_call_id),
        )
        return Execution(*row) if row else None

    def claim_statement(
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

    def restart_statement(
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
    def finish_statement(thread_id: str, tool_call_id: str, status: str, result: str) -> Statement:
        """Closes a started execution (only a started one: a replay changes nothing)."""
        return (
            "UPDATE hitl_executions SET status = ?, result = ?, finished_at = ? "
            "WHERE thread_id = ? AND tool_call_id = ? AND status = 'started'",
            (status, result, time.time(), thread_id, tool_call_id),
        )
