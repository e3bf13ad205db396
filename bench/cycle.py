"""The approval cycle, the product's hot path, on five sides: the engine on SQLite and on
PostgreSQL, and bare LangGraph on InMemorySaver, the stock AsyncSqliteSaver and the
stock AsyncPostgresSaver.

Per thread: "email the report to boss@company.com" -> the scripted model asks for
``send_email`` (medium) -> pause -> approve -> the tool writes its ``.eml`` -> final
answer. Runs inside a worker process (``bench.workers.cycle``); the PostgreSQL
databases are made and dropped by the parent (``fresh_databases``), so a worker that
dies leaves none behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from bench.workloads import GATED_TASK, cpu_seconds, fresh_home, open_engine

if TYPE_CHECKING:
    from engine import Engine
    from engine.events import Event

CycleSide = Literal["engine-sqlite", "engine-pg", "bare-memory", "bare-sqlite", "bare-pg"]
CYCLE_SIDES: tuple[CycleSide, ...] = (
    "engine-sqlite",
    "engine-pg",
    "bare-memory",
    "bare-sqlite",
    "bare-pg",
)
CYCLE_LABELS: dict[CycleSide, str] = {
    "engine-sqlite": "engine, SQLite",
    "engine-pg": "engine, PostgreSQL",
    "bare-memory": "bare LangGraph, InMemorySaver",
    "bare-sqlite": "bare LangGraph, stock AsyncSqliteSaver",
    "bare-pg": "bare LangGraph, stock AsyncPostgresSaver",
}
ROUND_TIMEOUT = 1200.0
"""Seconds one round may take before the worker gives up (a lost approval hangs it)."""


def on_postgres(side: CycleSide) -> bool:
    return side.endswith("-pg")


def database_url(server: str, name: str) -> str:
    """``server`` (a postgresql:// URL) with its database replaced by ``name``."""
    parts = urlsplit(server)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def fresh_databases(server: str, count: int) -> Iterator[list[str]]:
    """``count`` new, empty databases on ``server`` (``hitl_bench_<random>``), dropped
    afterwards even when the measurement failed or its process died."""
    import psycopg

    names = [f"hitl_bench_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    with psycopg.connect(server, autocommit=True) as admin:
        try:
            for name in names:
                admin.execute(f"CREATE DATABASE {name}")
            yield [database_url(server, name) for name in names]
        finally:
            for name in names:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgres_problem(server: str | None) -> str | None:
    """Why the PostgreSQL columns cannot run (no URL, or the server does not answer)."""
    if not server:
        return "no PostgreSQL: set HITL_TEST_POSTGRES_URL"
    try:
        import psycopg

        with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
            admin.execute("SELECT 1")
    except Exception as error:
        return f"no PostgreSQL at {urlsplit(server).hostname}: {str(error).splitlines()[0]}"
    return None


def full_durability() -> dict[str, Any]:
    """``durability="full"`` where ``EngineOptions`` has that field (older engines keep
    their one setting)."""
    from engine.options import EngineOptions

    names = {f.name for f in dataclasses.fields(EngineOptions)}
    return {"durability": "full"} if "durability" in names else {}


class EngineApprover:
    """Approves every approval as it appears on ``engine.subscribe()``, each ``decide``
    in a task of its own (concurrently, as many operators would), and counts threads
    that end."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.subscription = engine.subscribe(limit=1_000_000)
        self.finished = 0
        self.problems: list[str] = []
        self.changed = asyncio.Event()
        self.deciding: set[asyncio.Task[Any]] = set()
        self.decided_ids: set[str] = set()
        self.follower = asyncio.create_task(self.follow())

    async def follow(self) -> None:
        async for batch in self.subscription.batches():
            for event in batch:
                self.take(event)
            self.changed.set()

    def take(self, event: Event) -> None:
        from engine import Approve
        from engine.events import ApprovalRequested, EventsDropped, ThreadFailed, ThreadFinished

        if isinstance(event, ApprovalRequested):
            ref = event.approval.id
            if ref in self.decided_ids:
                return
            self.decided_ids.add(ref)
            task = asyncio.create_task(self.engine.decide(ref, Approve(), operator="bench"))
            self.deciding.add(task)
            task.add_done_callback(self.decided)
        elif isinstance(event, ThreadFinished):
            self.finished += 1
        elif isinstance(event, ThreadFailed | EventsDropped):
            self.problems.append(repr(event)[:300])

    def decided(self, task: asyncio.Task[Any]) -> None:
        self.deciding.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            self.problems.append(f"decide failed: {error!r}")
            self.changed.set()

    async def round(self, n: int) -> None:
        """Starts ``n`` threads at once (``start()`` calls gathered) and returns when all
        have finished, each approved on the way."""
        target = self.finished + n
        await asyncio.gather(*(self.engine.start(GATED_TASK) for _ in range(n)))
        async with asyncio.timeout(ROUND_TIMEOUT):
            while self.finished < target:
                if self.problems:
                    raise RuntimeError("; ".join(self.problems[:3]))
                self.changed.clear()
                await self.changed.wait()

    async def close(self) -> None:
        self.subscription.close()
        self.follower.cancel()
        await asyncio.gather(self.follower, *self.deciding, return_exceptions=True)


class BareCycle:
    """Runs rounds of the cycle on bare LangGraph: ``asyncio.gather`` of threads that
    each ``ainvoke`` until paused, then resume with ``Command(resume=...)`` as soon as
    the interrupt comes back, keyed by interrupt id."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.serial = 0

    async def one(self) -> bool:
        from langchain_core.messages import HumanMessage
        from langgraph.types import Command

        self.serial += 1
        config = {"configurable": {"thread_id": f"bare-{self.serial}"}}
        out = await self.graph.ainvoke({"messages": [HumanMessage(GATED_TASK)]}, config)
        paused = 0
        while interrupts := out.get("__interrupt__"):
            paused += 1
            resume = {i.id: {"type": "approve"} for i in interrupts}
            out = await self.graph.ainvoke(Command(resume=resume), config)
        done = str(out["messages"][-1].content).startswith("[demo model] Done.")
        return done and paused == 1

    async def round(self, n: int) -> None:
        async with asyncio.timeout(ROUND_TIMEOUT):
            ok = sum(await asyncio.gather(*(self.one() for _ in range(n))))
        if ok != n:
            raise RuntimeError(f"bare: {n - ok} of {n} threads did not pause once and finish")


@contextlib.asynccontextmanager
async def cycle_runner(side: CycleSide, home: Path, url: str | None) -> AsyncIterator[Any]:
    """An ``EngineApprover`` or a ``BareCycle`` on the side's database: the engine's
    home (SQLite file, or ``url``), or the bare graph on its checkpointer."""
    if side.startswith("engine"):
        from engine import Home

        async with open_engine(Home(home, url), **full_durability()) as engine:
            approver = EngineApprover(engine)
            try:
                yield approver
            finally:
                await approver.close()
        return
    from bench.bare_graph import build_bare_graph

    (home / "outbox").mkdir(parents=True, exist_ok=True)
    async with bare_saver(side, home, url) as saver:
        yield BareCycle(build_bare_graph(saver, home, gated=True))


@contextlib.asynccontextmanager
async def bare_saver(side: CycleSide, home: Path, url: str | None) -> AsyncIterator[Any]:
    """The stock checkpointer, opened as its documentation shows."""
    if side == "bare-memory":
        from langgraph.checkpoint.memory import InMemorySaver

        yield InMemorySaver()
    elif side == "bare-sqlite":
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        async with AsyncSqliteSaver.from_conn_string(str(home / "bare.sqlite")) as saver:
            await saver.setup()
            yield saver
    else:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        assert url is not None, "the PostgreSQL side needs a database URL"
        async with AsyncPostgresSaver.from_conn_string(url) as saver:
            await saver.setup()
            yield saver


async def run_cycle(
    side: CycleSide, home: Path, url: str | None, concurrency: int, total: int
) -> dict[str, Any]:
    """``concurrency`` threads at once, in rounds until ``total`` ran; one thread runs
    first, before the clock (building the graph, warming the connection). Checks that
    every thread wrote its email."""
    rounds = max(1, total // concurrency)
    async with cycle_runner(side, home, url) as runner:
        await runner.round(1)
        t0, c0 = time.perf_counter(), cpu_seconds()
        for _ in range(rounds):
            await runner.round(concurrency)
        elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    n = rounds * concurrency
    sent = len(list((home / "outbox").glob("*.eml")))
    if sent != n + 1:
        raise RuntimeError(f"{side}: {sent} emails written for {n + 1} threads")
    return {"threads": n, "seconds": elapsed, "tps": n / elapsed, "cpu_ms": cpu / n * 1000}


async def cycle(
    side: CycleSide, concurrency: int, total: int, urls: list[str] | None = None
) -> dict[str, Any]:
    """The worker: a warm-up run (in a scratch home, and on PostgreSQL the first of
    ``urls``), then the measured one in a fresh home (the second database)."""
    warm, measured = urls or (None, None)
    with fresh_home() as home:
        await run_cycle(side, home, warm, 2, 2)
    with fresh_home() as home:
        return await run_cycle(side, home, measured, concurrency, total)
