"""Another process's journal rows reach a tail exactly once, in whatever order their
transactions commit (PostgreSQL numbers rows when they are inserted, not committed).

Writers are connections of their own that hold their transactions open, as other
engines mid-transaction do.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.engine import Engine
from engine.events import MessageAdded, ThreadStarted
from engine.home import Home
from engine.storage.journal import TAIL_LIMIT, Journal, TailCursor
from engine.storage.postgres import PostgresDatabase, to_postgres
from tests.engine.held_rows import hold_journal_row
from tests.engine.quiet import NO_WATCHER

pytestmark = pytest.mark.postgres

_INSERT = to_postgres(
    "INSERT INTO hitl_journal (origin, thread_id, kind, key, body, at) "
    "SELECT 'writer', NULL, 'note', NULL, json_build_object('n', n)::text, 0 "
    "FROM generate_series(?::int, ?::int) AS n RETURNING seq"
)


async def _connect(url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(url, autocommit=False)


@pytest.fixture
async def writers(postgres_url: str) -> AsyncIterator[list[psycopg.AsyncConnection[Any]]]:
    conns = [await _connect(postgres_url) for _ in range(8)]
    yield conns
    for conn in conns:
        await conn.close()


async def _write(conn: psycopg.AsyncConnection[Any], first: int, last: int | None = None) -> int:
    """Inserts notes ``first``..``last`` in the open transaction; returns the first seq."""
    cur = await conn.execute(_INSERT, (first, first if last is None else last))
    return int((await cur.fetchall())[0][0])


async def _look(tail: Journal, cursor: TailCursor) -> tuple[TailCursor, list[int]]:
    cursor, rows = await tail.since(cursor)
    return cursor, [row.body["n"] for row in rows]


async def test_a_row_committed_after_a_later_numbered_one_is_still_read(
    postgres: PostgresDatabase, writers: list[psycopg.AsyncConnection[Any]]
) -> None:
    tail = Journal(postgres, "tail")
    a, b = writers[:2]
    cursor = await tail.head()
    held = await _write(a, 1)  # A takes the lower seq and stays open
    assert await _write(b, 2) > held
    await b.commit()
    cursor, seen = await _look(tail, cursor)
    assert seen == [2]
    await a.commit()
    cursor, seen = await _look(tail, cursor)
    assert seen == [1]
    assert (await _look(tail, cursor))[1] == []


async def test_a_tail_started_while_a_row_is_in_flight_reads_it_once_it_commits(
    postgres: PostgresDatabase, writers: list[psycopg.AsyncConnection[Any]]
) -> None:
    tail = Journal(postgres, "tail")
    a, b = writers[:2]
    await _write(a, 1)
    await _write(b, 2)
    await b.commit()
    cursor = await tail.head()  # after B's row, before A's
    await a.commit()
    cursor, seen = await _look(tail, cursor)
    assert seen == [1]


async def test_many_writers_committing_in_random_order_are_each_read_exactly_once(
    postgres: PostgresDatabase, writers: list[psycopg.AsyncConnection[Any]]
) -> None:
    tail = Journal(postgres, "tail")
    cursor = await tail.head()
    committed: list[int] = []
    rng = random.Random(12)

    async def writer(conn: psycopg.AsyncConnection[Any], base: int) -> None:
        for step in range(25):
            first = base + step * 10
            count = rng.randint(1, 3)
            await _write(conn, first, first + count - 1)
            await asyncio.sleep(rng.uniform(0, 0.02))  # an interleaving, not a wait
            if rng.random() < 0.1:
                await conn.rollback()
                continue
            await conn.commit()
            committed.extend(range(first, first + count))

    seen: list[int] = []
    jobs = [asyncio.create_task(writer(c, 1000 * i)) for i, c in enumerate(writers)]
    while not all(job.done() for job in jobs):
        cursor, found = await _look(tail, cursor)
        seen += found
        await asyncio.sleep(0.003)
    await asyncio.gather(*jobs)
    cursor, found = await _look(tail, cursor)
    seen += found
    assert sorted(seen) == sorted(committed)
    assert len(seen) == len(set(seen))


async def test_a_look_reads_at_most_a_limit_of_rows_and_the_rest_arrive_later(
    postgres: PostgresDatabase, writers: list[psycopg.AsyncConnection[Any]]
) -> None:
    tail = Journal(postgres, "tail")
    held, *others = writers
    cursor = await tail.head()
    await _write(held, 0)  # in flight throughout the first looks
    size = TAIL_LIMIT // 2 + 1
    for i, conn in enumerate(others[:3]):  # three transactions: more than a look's limit
        await _write(conn, (i + 1) * size, (i + 2) * size - 1)
        await conn.commit()
    cursor, first = await _look(tail, cursor)
    assert 0 < len(first) <= TAIL_LIMIT
    await held.commit()
    seen = list(first)
    while True:
        cursor, rows = await _look(tail, cursor)
        if not rows:
            break
        assert len(rows) <= TAIL_LIMIT
        seen += rows
    assert sorted(seen) == [0, *range(size, 4 * size)]


async def test_one_transaction_larger_than_the_limit_is_read_whole(
    postgres: PostgresDatabase, writers: list[psycopg.AsyncConnection[Any]]
) -> None:
    tail = Journal(postgres, "tail")
    cursor = await tail.head()
    await _write(writers[0], 1, TAIL_LIMIT + 10)
    await writers[0].commit()
    cursor, seen = await _look(tail, cursor)
    assert seen == list(range(1, TAIL_LIMIT + 11))
    assert (await _look(tail, cursor))[1] == []


async def test_another_engines_event_committed_out_of_order_reaches_a_subscriber(
    postgres_url: str, tmp_path: Path
) -> None:
    home = Home(tmp_path / "home", postgres_url)
    watching = {**NO_WATCHER, "follow_journal": True}
    held = await _connect(postgres_url)
    try:
        async with (
            Engine.open(home, **watching) as follower,
            Engine.open(home, **NO_WATCHER) as starter,
        ):
            with follower.subscribe() as events:
                await hold_journal_row(held)
                thread = await starter.start("order 5 chairs at 40 each")
                async with asyncio.timeout(10):
                    async for event in events:
                        if isinstance(event, ThreadStarted) and event.thread.id == thread.id:
                            break
                await held.commit()  # numbered before the starter's rows, committed after
                async with asyncio.timeout(10):
                    async for event in events:
                        if isinstance(event, MessageAdded) and event.content == "held back":
                            break
                await starter.wait(thread.id)
    finally:
        await held.close()
