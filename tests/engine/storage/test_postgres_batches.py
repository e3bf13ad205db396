"""Transactions that queue for the PostgreSQL connection commit together (one COMMIT
for many), and each still stands or falls alone: one that fails, or whose guard finds
nothing to change, leaves the others of its batch; a COMMIT that fails fails them all.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from engine.errors import HitlError
from engine.storage.database import Write, fetchone
from engine.storage.postgres import BATCH_LIMIT, PostgresDatabase

pytestmark = pytest.mark.postgres

_LEASE = (
    "INSERT INTO hitl_leases (thread_id, owner, host, pid, expires_at) VALUES (?, 'me', 'h', 1, 0)"
)


def _lease(thread: str) -> Write:
    """A new row, reporting the transaction that wrote it (as its "id")."""
    return Write(
        f"{_LEASE} RETURNING pg_current_xact_id()::text::bigint", (thread,), returns_id=True
    )


async def _leases(url: str) -> set[str]:
    async with await psycopg.AsyncConnection.connect(url) as other:
        rows = await (await other.execute("SELECT thread_id FROM hitl_leases")).fetchall()
    return {str(r[0]) for r in rows}


async def _take(db: PostgresDatabase, url: str, thread: str) -> int:
    """Leases ``thread``; the transaction that did it, once it is committed."""
    counts = await db.transaction([_lease(thread)])
    assert counts is not None
    assert thread in await _leases(url)  # committed before the caller heard
    return counts[0]


async def _busy_then(db: PostgresDatabase, *calls: Any) -> list[Any]:
    """Runs ``calls`` while the connection serves a read: they all queue behind it
    (each queues before the loop next looks for the server's answer)."""
    reading = asyncio.create_task(db.fetchall("SELECT 1"))
    results = await asyncio.gather(*calls, return_exceptions=True)
    await reading
    return results


async def test_queued_transactions_share_one_commit_and_return_after_it(
    postgres: PostgresDatabase, postgres_url: str
) -> None:
    transactions = await _busy_then(
        postgres, *(_take(postgres, postgres_url, f"t{i}") for i in range(20))
    )
    assert len(set(transactions)) == 1  # one transaction, one COMMIT
    assert await _leases(postgres_url) == {f"t{i}" for i in range(20)}


async def test_a_failing_transaction_or_a_guard_leaves_the_others_of_its_batch(
    postgres: PostgresDatabase, postgres_url: str
) -> None:
    await postgres.transaction([(_LEASE, ("taken",))])
    results = await _busy_then(
        postgres,
        postgres.transaction([_lease("a")]),
        postgres.transaction([_lease("b"), (_LEASE, ("taken",))]),  # a duplicate key
        postgres.transaction(
            [
                _lease("c"),
                Write("UPDATE hitl_leases SET pid = 2 WHERE thread_id = 'none'", guard=True),
            ]
        ),
        postgres.transaction([_lease("d")]),
    )
    first, failed, guarded, last = results
    assert isinstance(failed, psycopg.errors.UniqueViolation)
    assert guarded is None
    assert isinstance(first, list) and isinstance(last, list)
    assert first[0] == last[0]  # in one transaction
    assert await _leases(postgres_url) == {"taken", "a", "d"}  # b and c undone whole
    row = await fetchone(postgres, "SELECT count(*) FROM hitl_leases")
    assert row is not None and row[0] == 3  # and the connection still works


async def test_a_commit_that_fails_fails_every_transaction_of_the_batch(
    postgres: PostgresDatabase, postgres_url: str
) -> None:
    await postgres.script(
        "CREATE TABLE checked_late (id INTEGER UNIQUE DEFERRABLE INITIALLY DEFERRED)"
    )
    late = "INSERT INTO checked_late (id) VALUES (1)"
    results = await _busy_then(
        postgres,
        postgres.transaction([_lease("a")]),
        postgres.transaction([(late, ()), (late, ())]),  # refused only at COMMIT
        postgres.transaction([_lease("b")]),
    )
    assert all(isinstance(r, psycopg.errors.UniqueViolation) for r in results), results
    assert await _leases(postgres_url) == set()
    await postgres.transaction([_lease("after")])
    assert await _leases(postgres_url) == {"after"}


async def test_a_transaction_alone_keeps_the_error_wording(
    postgres: PostgresDatabase,
) -> None:
    await postgres.script("DROP TABLE hitl_leases")
    with pytest.raises(HitlError, match="has no hitl tables"):
        await postgres.transaction([_lease("a")])


async def test_a_long_queue_is_committed_in_batches_of_at_most_the_limit(
    postgres: PostgresDatabase, postgres_url: str
) -> None:
    transactions = await _busy_then(
        postgres, *(_take(postgres, postgres_url, f"t{i}") for i in range(150))
    )
    sizes = sorted(transactions.count(xid) for xid in set(transactions))
    assert sizes == [22, BATCH_LIMIT, BATCH_LIMIT]
    assert len(await _leases(postgres_url)) == 150
