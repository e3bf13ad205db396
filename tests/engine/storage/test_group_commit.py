"""Group commit on SQLite: what is queued while the database thread is busy commits in one
COMMIT, one failing transaction spoils none of the others, and nobody is answered before
the COMMIT that makes their writes durable."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest

from engine.slots import urgent
from engine.storage.database import BATCH_LIMIT, SqliteDatabase, Write, execute, open_sqlite


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    async with open_sqlite(tmp_path / "hitl.sqlite") as sqlite:
        await sqlite.script(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
            "CREATE TABLE notes (name TEXT PRIMARY KEY, parent INTEGER"
            " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
        yield sqlite


def commits_of(db: SqliteDatabase) -> list[str]:
    """Every COMMIT the engine's connection runs from now on."""
    seen: list[str] = []
    db.conn.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)
    return seen


def on_disk(db: SqliteDatabase) -> set[str]:
    """The notes in the file, as another process would read them."""
    [(_, _, file)] = db.conn.execute("PRAGMA database_list").fetchall()
    with contextlib.closing(sqlite3.connect(file)) as other:
        return {name for (name,) in other.execute("SELECT name FROM notes")}


@contextlib.asynccontextmanager
async def held(db: SqliteDatabase) -> AsyncIterator[None]:
    """Keeps the database thread busy; what is called meanwhile queues behind it."""
    started, gate = threading.Event(), threading.Event()

    def busy() -> None:
        started.set()
        gate.wait(30)

    blocker = asyncio.ensure_future(db.thread.run(busy, kind="alone"))
    await asyncio.to_thread(started.wait, 30)
    try:
        yield
    finally:
        gate.set()
        await blocker


async def queued(db: SqliteDatabase, *calls: Awaitable[Any]) -> list[Any]:
    """Runs ``calls`` queued while the thread is busy; each result, or error."""
    async with held(db):
        tasks = [asyncio.ensure_future(c) for c in calls]
        await asyncio.sleep(0)  # each is now in the thread's queue
    return await asyncio.gather(*tasks, return_exceptions=True)


def insert(db: SqliteDatabase, name: str, parent: int | None = None) -> Awaitable[Any]:
    return execute(db, [("INSERT INTO notes (name, parent) VALUES (?, ?)", (name, parent))])


async def test_transactions_queued_while_busy_commit_in_one_commit(db: SqliteDatabase) -> None:
    commits = commits_of(db)
    results = await queued(db, *(insert(db, f"n{i}") for i in range(20)))
    assert results == [[1]] * 20
    assert len(commits) == 1
    assert on_disk(db) == {f"n{i}" for i in range(20)}


async def test_a_batch_is_capped(db: SqliteDatabase) -> None:
    commits = commits_of(db)
    await queued(db, *(insert(db, f"n{i}") for i in range(BATCH_LIMIT + 1)))
    assert len(commits) == 2
    assert len(on_disk(db)) == BATCH_LIMIT + 1


async def test_a_failing_transaction_spoils_none_of_its_batch(db: SqliteDatabase) -> None:
    commits = commits_of(db)
    await insert(db, "taken")
    duplicate = execute(
        db,
        [
            ("INSERT INTO notes (name) VALUES (?)", ("written-then-failed",)),
            ("INSERT INTO notes (name) VALUES (?)", ("taken",)),
        ],
    )
    guarded = db.transaction(
        [
            ("INSERT INTO notes (name) VALUES (?)", ("written-then-guarded",)),
            Write("UPDATE notes SET parent = 1 WHERE name = ?", ("nobody",), guard=True),
        ]
    )
    first, failed, refused, last = await queued(
        db, insert(db, "first"), duplicate, guarded, insert(db, "last")
    )
    assert (first, last, refused) == ([1], [1], None)
    assert isinstance(failed, sqlite3.IntegrityError)
    assert len(commits) == 2  # "taken", then the batch
    assert on_disk(db) == {"taken", "first", "last"}


async def test_a_failed_commit_fails_every_caller_of_its_batch(db: SqliteDatabase) -> None:
    await db.thread.run(lambda: db.conn.execute("PRAGMA foreign_keys = ON"), kind="alone")
    # A deferred foreign key is checked at COMMIT: the whole batch's COMMIT fails.
    results = await queued(db, insert(db, "a"), insert(db, "orphan", parent=7), insert(db, "b"))
    assert all(isinstance(r, sqlite3.IntegrityError) for r in results), results
    assert "FOREIGN KEY" in str(results[0])
    assert on_disk(db) == set()
    assert await insert(db, "after") == [1]  # the connection is usable again
    assert on_disk(db) == {"after"}


async def test_no_caller_is_answered_before_the_commit(db: SqliteDatabase) -> None:
    at_commit, go = threading.Event(), threading.Event()

    def trace(sql: str) -> None:
        if sql == "COMMIT":
            at_commit.set()
            go.wait(30)

    async with held(db):
        tasks = [asyncio.ensure_future(insert(db, f"n{i}")) for i in range(5)]
        await asyncio.sleep(0)
        db.conn.set_trace_callback(trace)
    await asyncio.to_thread(at_commit.wait, 30)
    for _ in range(5):  # anything the thread handed the loop before its COMMIT runs now
        await asyncio.sleep(0)
    answered = [t for t in tasks if t.done()]
    go.set()
    await asyncio.gather(*tasks)
    assert answered == []
    assert on_disk(db) == {f"n{i}" for i in range(5)}


async def test_reads_in_a_batch_wait_for_its_commit(db: SqliteDatabase) -> None:
    """A read after a write in the same batch sees that write; were the commit to fail,
    it must not have been told of it."""
    await db.thread.run(lambda: db.conn.execute("PRAGMA foreign_keys = ON"), kind="alone")
    read = db.fetchall("SELECT name FROM notes")
    results = await queued(db, insert(db, "orphan", parent=7), read)
    assert all(isinstance(r, sqlite3.IntegrityError) for r in results), results


async def test_a_decisions_transaction_never_waits_for_a_batch_of_background_work(
    db: SqliteDatabase,
) -> None:
    """Work queued for a person's decision is committed in a batch of its own, first:
    a decision arriving behind a queue of checkpoints is not made to wait for them."""
    commits = commits_of(db)
    answered: list[str] = []

    async def noted(name: str, urgent_work: bool) -> None:
        with urgent() if urgent_work else contextlib.nullcontext():  # as decide() marks it
            await insert(db, name)
        answered.append(name)

    background = [noted(f"b{i}", False) for i in range(10)]
    await queued(db, *background, noted("decision", True))
    assert answered[0] == "decision", answered
    assert len(commits) == 2  # the decision's batch, then the background's
    assert on_disk(db) == {"decision", *(f"b{i}" for i in range(10))}


async def test_a_running_batch_yields_to_a_decision_queued_meanwhile(
    db: SqliteDatabase,
) -> None:
    """A decision arriving while a batch of background work runs waits for one job of it
    at most: the batch commits what it has done, the rest goes back to the queue."""
    answered: list[str] = []
    inside, go = threading.Event(), threading.Event()

    def slow_first() -> None:
        db.conn.execute("INSERT INTO notes (name) VALUES ('b0')")
        inside.set()
        go.wait(30)

    async def noted(name: str, call: Awaitable[Any]) -> None:
        await call
        answered.append(name)

    async def decision() -> None:
        with urgent():
            await insert(db, "decision")
        answered.append("decision")

    async with held(db):
        background = [
            asyncio.ensure_future(noted("b0", db.thread.run(slow_first, kind="write"))),
            *(asyncio.ensure_future(noted(f"b{i}", insert(db, f"b{i}"))) for i in range(1, 10)),
        ]
        await asyncio.sleep(0)
    await asyncio.to_thread(inside.wait, 30)  # the batch is on its first job
    urgent_task = asyncio.ensure_future(decision())
    await asyncio.sleep(0.05)  # the decision is queued
    go.set()
    await asyncio.gather(urgent_task, *background)
    assert answered[:2] == ["b0", "decision"], answered
    assert on_disk(db) == {"decision", *(f"b{i}" for i in range(10))}
