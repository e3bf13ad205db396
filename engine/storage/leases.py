"""``hitl_leases``: one process runs a thread at a time.

A lease names its owner (an engine), host and pid, and expires unless renewed; a lease
whose owner died on this host is free at once, one held elsewhere when it expires.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence

from engine.storage.database import Database, Statement, execute, fetchone

LEASE_SECONDS = 15.0
"""A lease not renewed for this long is free, even when its owner's host is elsewhere."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Leases:
    def __init__(self, db: Database, origin: str, *, seconds: float = LEASE_SECONDS) -> None:
        self.db = db
        self.origin = origin
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.seconds = seconds

    def take_statement(self, thread_id: str) -> Statement:
        """Takes the thread for this process if it is free (unheld, expired, or ours): a
        row changed when taken. A new thread's is written with the thread's own row."""
        now = time.time()
        return (
            "INSERT INTO hitl_leases (thread_id, owner, host, pid, expires_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO UPDATE SET "
            "owner = excluded.owner, host = excluded.host, pid = excluded.pid, "
            "expires_at = excluded.expires_at "
            "WHERE hitl_leases.owner = excluded.owner OR hitl_leases.expires_at < ?",
            (thread_id, self.origin, self.host, self.pid, now + self.seconds, now),
        )

    async def acquire(self, thread_id: str) -> bool:
        """Takes the thread for this process; free when unheld, expired, or its owner died."""
        [taken] = await execute(self.db, [self.take_statement(thread_id)])
        if taken:
            return True
        now = time.time()
        row = await fetchone(
            self.db, "SELECT owner, host, pid FROM hitl_leases WHERE thread_id = ?", (thread_id,)
        )
        if row is None or row[1] != self.host or row[2] == self.pid or _pid_alive(row[2]):
            return False
        [taken] = await execute(  # its owner died on this host: take it over
            self.db,
            [
                (
                    "UPDATE hitl_leases SET owner = ?, host = ?, pid = ?, expires_at = ? "
                    "WHERE thread_id = ? AND owner = ?",
                    (self.origin, self.host, self.pid, now + self.seconds, thread_id, row[0]),
                )
            ],
        )
        return taken == 1

    async def renew(self, thread_ids: Sequence[str]) -> None:
        expires = time.time() + self.seconds
        await execute(
            self.db,
            [
                (
                    "UPDATE hitl_leases SET expires_at = ? WHERE thread_id = ? AND owner = ?",
                    (expires, t, self.origin),
                )
                for t in thread_ids
            ],
        )

    async def release(self, thread_id: str) -> None:
        await execute(self.db, [self.release_statement(thread_id)])

    def release_statement(self, thread_id: str) -> Statement:
        """Lets go of the thread (if this process holds it); a run that ends writes it
        with the thread's last status."""
        return (
            "DELETE FROM hitl_leases WHERE thread_id = ? AND owner = ?",
            (thread_id, self.origin),
        )

    async def holder(self, thread_id: str) -> tuple[str, int] | None:
        """(host, pid) of the process that holds the thread now, if any."""
        row = await fetchone(
            self.db,
            "SELECT host, pid FROM hitl_leases WHERE thread_id = ? AND expires_at > ?",
            (thread_id, time.time()),
        )
        return (row[0], row[1]) if row else None
