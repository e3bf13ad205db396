"""``hitl_outbox``: notifications waiting to be delivered, written with their event.

A row is inserted in the transaction that journals the event it tells of (so a crash
leaves both or neither), then delivered by whichever process claims it first: a claim
bumps the row's ``version`` and sets a lease, and every later change checks that
version, so a process whose lease ran out cannot overwrite the one that took over.
Delivery is at least once: a row claimed by a process that died is claimed again when
its lease ends, and sent again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from engine.storage.database import Database, Statement, Write, execute, fetchone

OutboxStatus = Literal["pending", "sent", "dead"]

CLAIM_LIMIT = 16
"""The most notifications one look claims; the rest wait for the next look."""

_COLUMNS = (
    "id, target, kind, config, event, thread_id, approval_id, body, status, attempts, "
    "next_at, version, last_error, created_at, sent_at"
)


@dataclass(frozen=True, slots=True)
class Notification:
    """One row of the outbox, as a process that claimed it (or a listing) sees it."""

    id: int
    target: str
    kind: str
    config: str
    """The target as configured when this was queued (``NotifyTarget.to_json``)."""
    event: str
    thread_id: str | None
    approval_id: str | None
    body: dict[str, Any]
    status: OutboxStatus
    attempts: int
    next_at: float
    version: int
    last_error: str | None
    created_at: float
    sent_at: float | None


Outcome = tuple[Notification, str | None, float | None]
"""A claimed notification, why its delivery failed (None: delivered), and when to try
it again (None, after a failure: it is dead)."""


def _notification(row: Sequence[Any]) -> Notification:
    return Notification(
        int(row[0]),
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        json.loads(row[7]),
        row[8],
        int(row[9]),
        float(row[10]),
        int(row[11]),
        row[12],
        float(row[13]),
        None if row[14] is None else float(row[14]),
    )


class Outbox:
    def __init__(self, db: Database, origin: str) -> None:
        self.db = db
        self.origin = origin
        """Who claims rows here: this engine's id, as in the journal."""

    @staticmethod
    def insert_statement(
        target: str,
        kind: str,
        config: str,
        event: str,
        thread_id: str | None,
        approval_id: str | None,
        body: dict[str, Any],
        at: float,
        *,
        when: int | None,
    ) -> Write:
        """A notification due now; written only if write ``when`` (its event's journal
        row) was, so an event LangGraph replays is not told twice."""
        return Write(
            "INSERT INTO hitl_outbox (target, kind, config, event, thread_id, approval_id, "
            "body, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (target, kind, config, event, thread_id, approval_id, json.dumps(body), at, at),
            when=when,
        )

    async def claim_due(
        self,
        now: float,
        lease_seconds: Callable[[Notification], float],
        *,
        limit: int = CLAIM_LIMIT,
    ) -> list[Notification]:
        """Takes, for this process, the pending notifications due by ``now`` that no
        live lease holds; each taken by one process only (the version check)."""
        most = min(limit, CLAIM_LIMIT)
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM hitl_outbox WHERE status = 'pending' AND next_at <= ? "
            f"AND (lease_until IS NULL OR lease_until < ?) ORDER BY id LIMIT {most}",
            (now, now),
        )
        if not rows:
            return []
        found = [_notification(row) for row in rows]
        counts = await execute(
            self.db,
            [
                (
                    "UPDATE hitl_outbox SET owner = ?, lease_until = ?, version = version + 1 "
                    "WHERE id = ? AND version = ? AND status = 'pending'",
                    (self.origin, now + lease_seconds(n), n.id, n.version),
                )
                for n in found
            ],
        )
        return [_claimed(n) for n, count in zip(found, counts, strict=True) if count == 1]

    async def settle(self, outcomes: Sequence[Outcome], now: float) -> list[bool]:
        """Records the outcomes of one look in one transaction (one commit for all of
        them, however many failed): sent; or failed, tried again at ``retry_at``, or
        dead when that is None. Each is False when this process had lost the row (its
        lease ran out and another took it over: that one's outcome is recorded)."""
        statements: list[Statement] = []
        for claimed, error, retry_at in outcomes:
            if error is None:
                statements.append(
                    (
                        "UPDATE hitl_outbox SET status = 'sent', sent_at = ?, "
                        "attempts = attempts + 1, last_error = NULL, owner = NULL, "
                        "lease_until = NULL WHERE id = ? AND version = ?",
                        (now, claimed.id, claimed.version),
                    )
                )
            else:
                statements.append(
                    (
                        "UPDATE hitl_outbox SET status = ?, attempts = attempts + 1, "
                        "next_at = ?, last_error = ?, owner = NULL, lease_until = NULL "
                        "WHERE id = ? AND version = ?",
                        (
                            "pending" if retry_at is not None else "dead",
                            retry_at or claimed.next_at,
                            error,
                            claimed.id,
                            claimed.version,
                        ),
                    )
                )
        return [count == 1 for count in await execute(self.db, statements)]

    async def listing(
        self, status: OutboxStatus | None = None, limit: int = 200
    ) -> list[Notification]:
        """The newest notifications first (of one status, when given)."""
        where, params = ("WHERE status = ?", (status,)) if status else ("", ())
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM hitl_outbox {where} ORDER BY id DESC LIMIT {int(limit)}",
            params,
        )
        return [_notification(row) for row in rows]

    async def counts(self) -> dict[str, int]:
        """How many notifications are in each status."""
        rows = await self.db.fetchall("SELECT status, COUNT(*) FROM hitl_outbox GROUP BY status")
        return {str(r[0]): int(r[1]) for r in rows}

    async def dead_count(self) -> int:
        row = await fetchone(self.db, "SELECT COUNT(*) FROM hitl_outbox WHERE status = 'dead'")
        return int(row[0]) if row is not None else 0

    async def next_due(self, now: float) -> float | None:
        """When the soonest pending notification can be claimed: when it is due, or
        when the lease on it ends (a lease of this process's own: when its delivery
        ends, which wakes the courier anyway). None: nothing pending."""
        row = await fetchone(
            self.db,
            "SELECT MIN(CASE WHEN lease_until > ? THEN lease_until ELSE next_at END) "
            "FROM hitl_outbox WHERE status = 'pending'",
            (now,),
        )
        return None if row is None or row[0] is None else float(row[0])


def _claimed(n: Notification) -> Notification:
    return replace(n, version=n.version + 1)
