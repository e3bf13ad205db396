"""What adopting an app's threads costs: ``CheckpointFeed`` on a full checkpoint database.
Prints tables; never run by the tests.

An app's database is filled through the stock savers (SQLite: ``SqliteSaver.put`` and
``put_writes``; PostgreSQL: ``AsyncPostgresSaver.aput`` and ``aput_writes``, hitl's
triggers in place as they would be): N root threads, several checkpoints each with the
writes of their tasks, one in five paused with an interrupt write on its latest
checkpoint. Then, through the engine's own ``Database``:

1. ``paused()`` once (a scan of every thread's latest checkpoint);
2. ``poll()`` with nothing changed, many times;
3. ``poll()`` after 10 threads changed (a new checkpoint, a new question, an answer),
   many times; every changed thread must be in the poll's answer ("missed" counts any
   that was not);
4. ``poll()`` after the app deleted its latest thread and then changed 10 (SQLite gives
   the deleted rows' ids to the next rows: the feed's recovery path), a quarter as many;
5. PostgreSQL only: what hitl's triggers add to the app's writes (a checkpoint and an
   interrupt write, each committed as the saver does), with and without them,
   alternated.

    .venv/bin/python bench/adoption.py [--threads 10000] [--polls 200]
    .venv/bin/python bench/adoption.py --quick   # tiny: a smoke run (CI)

PostgreSQL runs when HITL_TEST_POSTGRES_URL names a server: in a database of its own,
dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

if __package__ in (None, ""):  # run as a script: bench/ is on the path, the root is not
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.types import Interrupt

from bench.report import machine_info, percentile, print_table, verdict
from engine.foreign.adoption import CheckpointFeed
from engine.storage.database import Database, open_sqlite
from engine.storage.postgres import open_postgres

CHECKPOINTS = 4
"""Checkpoints per thread, each with the writes of one task."""
PAUSED_EVERY = 5
CHANGED_PER_POLL = 10
PG_CONNECTIONS = 8
"""App connections filling PostgreSQL at once (the saver commits every call)."""


# --- the app's side: threads through the stock savers ---------------------------


@dataclass
class AppThread:
    """A thread of the app's, as the saver knows it: its latest checkpoint."""

    thread_id: str
    config: RunnableConfig | None = None
    checkpoint: Checkpoint | None = None
    step: int = 0

    @property
    def asks(self) -> bool:
        """Whether the fill leaves it paused at a question (one in ``PAUSED_EVERY``)."""
        return int(self.thread_id.rsplit("-", 1)[1]) % PAUSED_EVERY == 0


def _next_checkpoint(saver: BaseCheckpointSaver[Any], thread: AppThread) -> Checkpoint:
    previous = thread.checkpoint or empty_checkpoint()
    checkpoint = empty_checkpoint()
    checkpoint["id"] = str(uuid6(clock_seq=thread.step))
    versions = {
        channel: saver.get_next_version(previous["channel_versions"].get(channel), None)
        for channel in ("messages", "draft")
    }
    checkpoint["channel_versions"] = versions
    checkpoint["channel_values"] = {
        "messages": [f"message {i} of {thread.thread_id}: " + "x" * 200 for i in range(3)],
        "draft": f"step {thread.step}",
    }
    return checkpoint


def _step(thread: AppThread, saver: BaseCheckpointSaver[Any]) -> tuple[Any, ...]:
    """What ``put``/``aput`` take for the thread's next checkpoint."""
    checkpoint = _next_checkpoint(saver, thread)
    config: RunnableConfig = {"configurable": {"thread_id": thread.thread_id, "checkpoint_ns": ""}}
    if thread.checkpoint is not None:
        config["configurable"]["checkpoint_id"] = thread.checkpoint["id"]
    metadata = {"source": "loop", "step": thread.step, "parents": {}}
    thread.checkpoint, thread.step = checkpoint, thread.step + 1
    return config, checkpoint, metadata, dict(checkpoint["channel_versions"])


def _task_writes(thread: AppThread) -> list[tuple[str, Any]]:
    return [("draft", f"step {thread.step}"), ("branch:to:agent", None)]


def _question(thread: AppThread) -> list[tuple[str, Any]]:
    return [("__interrupt__", [Interrupt(value={"question": f"send {thread.thread_id}?"})])]


def _answer() -> list[tuple[str, Any]]:
    return [("__resume__", "yes")]


def _task() -> str:
    return str(uuid.uuid4())


def fill_sqlite(path: Path, threads: Sequence[AppThread]) -> None:
    """Every thread through ``SqliteSaver`` (commits each call; synchronous off, as
    this is setup)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        saver = SqliteSaver(conn)
        saver.setup()
        for thread in threads:
            for _ in range(CHECKPOINTS):
                thread.config = saver.put(*_step(thread, saver))
                saver.put_writes(thread.config, _task_writes(thread), _task())
            if thread.asks:
                assert thread.config is not None
                saver.put_writes(thread.config, _question(thread), _task())
    finally:
        conn.close()


def change_sqlite(path: Path, threads: Sequence[AppThread], deleted: AppThread | None) -> None:
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        if deleted is not None:
            saver.delete_thread(deleted.thread_id)
        for kind, thread in zip(itertools.cycle("cqa"), threads, strict=False):
            _change(saver, kind, thread)
    finally:
        conn.close()


def _change(saver: BaseCheckpointSaver[Any], kind: str, thread: AppThread) -> None:
    assert thread.config is not None
    if kind == "c":  # moved on
        thread.config = saver.put(*_step(thread, saver))
    else:  # asked, or answered
        saver.put_writes(thread.config, _question(thread) if kind == "q" else _answer(), _task())


async def _achange(saver: BaseCheckpointSaver[Any], kind: str, thread: AppThread) -> None:
    assert thread.config is not None
    if kind == "c":
        thread.config = await saver.aput(*_step(thread, saver))
    else:
        writes = _question(thread) if kind == "q" else _answer()
        await saver.aput_writes(thread.config, writes, _task())


async def fill_postgres(url: str, threads: Sequence[AppThread]) -> None:
    """Every thread through ``AsyncPostgresSaver``, ``PG_CONNECTIONS`` at once."""

    async def fill(part: Sequence[AppThread]) -> None:
        async with _pg_saver(url, fast=True) as saver:
            for thread in part:
                for _ in range(CHECKPOINTS):
                    thread.config = await saver.aput(*_step(thread, saver))
                    await saver.aput_writes(thread.config, _task_writes(thread), _task())
                if thread.asks:
                    assert thread.config is not None
                    await saver.aput_writes(thread.config, _question(thread), _task())

    parts = [threads[i::PG_CONNECTIONS] for i in range(PG_CONNECTIONS)]
    await asyncio.gather(*(fill(part) for part in parts))


@contextlib.asynccontextmanager
async def _pg_saver(url: str, *, fast: bool = False) -> AsyncIterator[Any]:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    if fast:  # setup only: commits need not wait for the disk
        url = _with_option(url, "synchronous_commit=off")
    async with AsyncPostgresSaver.from_conn_string(url) as saver:
        yield saver


def _with_option(url: str, option: str) -> str:
    parts = urlsplit(url)
    query = parts.query.split("&") if parts.query else []
    for i, item in enumerate(query):
        if item.startswith("options="):
            query[i] = f"{item}%20-c{option.replace('=', '%3D')}"
            break
    else:
        query.append(f"options=-c{option.replace('=', '%3D')}")
    return urlunsplit(parts._replace(query="&".join(query)))


# --- hitl's side: the feed ------------------------------------------------------


@dataclass
class FeedNumbers:
    fill_s: float
    paused_ms: float
    paused_found: int
    idle: list[float]
    busy: list[float]
    after_delete: list[float]
    """Polls after the app deleted its latest thread (SQLite then reuses its rowids)."""
    missed: int


Change = Callable[[Sequence[AppThread], AppThread | None], Awaitable[None]]
"""Changes these threads (one of three ways each), after deleting that one if any."""


async def measure_feed(
    db: Database, threads: Sequence[AppThread], polls: int, change: Change, fill_s: float
) -> FeedNumbers:
    feed = await CheckpointFeed.open(db)
    started = time.perf_counter()
    found = await feed.paused()
    paused_ms = (time.perf_counter() - started) * 1000
    idle = [await _timed(feed.poll) for _ in range(polls)]
    busy: list[float] = []
    after_delete: list[float] = []
    missed = 0
    latest: AppThread | None = None
    for n in range(polls + polls // 4):
        first = (n * CHANGED_PER_POLL) % len(threads)
        changed = [threads[(first + i) % len(threads)] for i in range(CHANGED_PER_POLL)]
        deleted = latest if n >= polls else None  # the app deletes its latest thread
        await change(changed, deleted)
        started = time.perf_counter()
        seen = await feed.poll()
        (after_delete if deleted else busy).append((time.perf_counter() - started) * 1000)
        missed += len({t.thread_id for t in changed} - seen)
        latest = changed[-1]
    return FeedNumbers(fill_s, paused_ms, len(found), idle, busy, after_delete, missed)


async def _timed(poll: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await poll()
    return (time.perf_counter() - started) * 1000


async def bench_sqlite(scratch: Path, count: int, polls: int) -> FeedNumbers:
    path = scratch / "app.sqlite"
    threads = [AppThread(f"thread-{i}") for i in range(count)]
    started = time.perf_counter()
    await asyncio.to_thread(fill_sqlite, path, threads)
    fill_s = time.perf_counter() - started

    async def change(changed: Sequence[AppThread], deleted: AppThread | None) -> None:
        await asyncio.to_thread(change_sqlite, path, changed, deleted)

    async with open_sqlite(path) as db:
        return await measure_feed(db, threads, polls, change, fill_s)


@contextlib.asynccontextmanager
async def scratch_postgres(server: str) -> AsyncIterator[str]:
    """A database of the bench's own on ``server``, dropped afterwards."""
    import psycopg

    name = f"hitl_bench_adopt_{uuid.uuid4().hex[:8]}"
    async with await psycopg.AsyncConnection.connect(server, autocommit=True) as admin:
        await admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        async with await psycopg.AsyncConnection.connect(server, autocommit=True) as admin:
            await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


async def bench_postgres(url: str, count: int, polls: int) -> FeedNumbers:
    threads = [AppThread(f"thread-{i}") for i in range(count)]
    async with _pg_saver(url) as saver:
        await saver.setup()
    async with open_postgres(url) as db:
        await CheckpointFeed.open(db)  # the triggers, before the app writes
        started = time.perf_counter()
        await fill_postgres(url, threads)
        fill_s = time.perf_counter() - started
        async with _pg_saver(url) as app:
            await db.script("ANALYZE")  # as autovacuum would have, after the fill

            async def change(changed: Sequence[AppThread], deleted: AppThread | None) -> None:
                if deleted is not None:
                    await app.adelete_thread(deleted.thread_id)
                for kind, thread in zip(itertools.cycle("cqa"), changed, strict=False):
                    await _achange(app, kind, thread)

            return await measure_feed(db, threads, polls, change, fill_s)


async def bench_trigger_cost(server: str, ops: int) -> list[tuple[str, list[float]]]:
    """The app's write (a checkpoint, then an interrupt write), with and without hitl's
    triggers, alternated op by op in two schemas of one database."""
    import psycopg

    costs: dict[str, list[float]] = {"without hitl's triggers": [], "with hitl's triggers": []}
    async with scratch_postgres(server) as url:
        schemas = {}
        for label in costs:
            schema = f"s_{uuid.uuid4().hex[:8]}"
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
                await admin.execute(f"CREATE SCHEMA {schema}")
            schemas[label] = _with_option(url, f"search_path={schema}")
        async with contextlib.AsyncExitStack() as stack:
            savers = {}
            for label, where in schemas.items():
                savers[label] = await stack.enter_async_context(_pg_saver(where))
                await savers[label].setup()
            async with open_postgres(schemas["with hitl's triggers"]) as db:
                await CheckpointFeed.open(db)
            threads = {label: [AppThread(f"w-{i}") for i in range(20)] for label in costs}
            for n in range(ops):
                for label, saver in savers.items():
                    thread = threads[label][n % 20]
                    started = time.perf_counter()
                    thread.config = await saver.aput(*_step(thread, saver))
                    await saver.aput_writes(thread.config, _question(thread), _task())
                    costs[label].append((time.perf_counter() - started) * 1000)
    return list(costs.items())


# --- the report -----------------------------------------------------------------


def _row(name: str, count: int, numbers: FeedNumbers) -> list[Any]:
    def ms(values: list[float], q: float) -> str:
        return f"{percentile(values, q):.2f}"

    return [
        name,
        f"{count:,}",
        f"{numbers.fill_s:.1f}",
        f"{numbers.paused_ms:.1f} ({numbers.paused_found:,})",
        ms(numbers.idle, 0.5),
        ms(numbers.idle, 0.99),
        ms(numbers.busy, 0.5),
        ms(numbers.busy, 0.99),
        ms(numbers.after_delete, 0.5),
        ms(numbers.after_delete, 0.99),
        numbers.missed,
        verdict(
            max(percentile(v, 0.99) for v in (numbers.idle, numbers.busy, numbers.after_delete)) < 5
        ),
    ]


async def report(count: int, polls: int, trigger_ops: int) -> None:
    print(machine_info())
    server = os.environ.get("HITL_TEST_POSTGRES_URL")
    rows = []
    with tempfile.TemporaryDirectory(prefix="hitl-bench-adoption-") as scratch:
        rows.append(_row("sqlite", count, await bench_sqlite(Path(scratch), count, polls)))
    if server:
        async with scratch_postgres(server) as url:
            rows.append(_row("postgres", count, await bench_postgres(url, count, polls)))
    print()
    print(
        f"CheckpointFeed: {count:,} root threads x {CHECKPOINTS} checkpoints, one in "
        f"{PAUSED_EVERY} paused; {polls} polls idle, then {polls} polls each after "
        f"{CHANGED_PER_POLL} threads changed (ms)"
    )
    print_table(
        [
            "database",
            "threads",
            "fill s",
            "paused() ms (found)",
            "idle poll p50",
            "idle poll p99",
            "poll, 10 changed p50",
            "poll, 10 changed p99",
            "after a delete p50",
            "after a delete p99",
            "missed",
            "p99 < 5 ms",
        ],
        rows,
        1,
    )
    if not server:
        print("\nPostgreSQL skipped: set HITL_TEST_POSTGRES_URL to include it")
        return
    costs = await bench_trigger_cost(server, trigger_ops)
    print(
        f"\nThe app's write on PostgreSQL (aput + aput_writes of a question, each "
        f"committed), {trigger_ops} of each, alternated (ms)"
    )
    print_table(
        ["", "p50", "p90", "p99"],
        [
            [label, *(f"{percentile(values, q):.2f}" for q in (0.5, 0.9, 0.99))]
            for label, values in costs
        ],
        1,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="tiny: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.threads, args.polls = 50, 5
    asyncio.run(report(args.threads, args.polls, trigger_ops=20 if args.quick else 500))


if __name__ == "__main__":
    main()
