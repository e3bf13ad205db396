"""What the engine benchmark runs, on each side: the engine, bare LangGraph on the stock
saver, and bare LangGraph on a connection tuned like the engine's.

Heavy imports (LangGraph, the engine) happen inside the functions: a worker process
times them, or wants them out of the measured window.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bench.probe import LoopLag, Probe
from bench.report import percentile

if TYPE_CHECKING:
    from engine import ApprovalView, Engine, Home

Side = Literal["engine", "bare", "bare-tuned"]
SIDES: tuple[Side, ...] = ("engine", "bare", "bare-tuned")

LOW_TASK = "search for quarterly revenue and read notes.txt"
"""Two low-tier calls (search, read_file) in one parallel turn, then a final answer:
runs to completion without approvals."""
GATED_TASK = "email the report to boss@company.com"
"""One medium-tier call: pauses on an approval."""
NOTES = "Quarterly revenue was 4.2M, up 8% on the previous quarter.\n"


@contextlib.contextmanager
def fresh_home() -> Iterator[Path]:
    """A new home with the sandbox file the low-tier task reads."""
    path = Path(tempfile.mkdtemp(prefix="hitl-bench-"))
    try:
        home = path / "home"
        (home / "sandbox").mkdir(parents=True)
        (home / "sandbox" / "notes.txt").write_text(NOTES)
        yield home
    finally:
        shutil.rmtree(path, ignore_errors=True)


def peak_rss_mb() -> float:
    """Peak RSS of this process so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """RSS of this process now, MB."""
    with contextlib.suppress(OSError), open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return float("nan")


def cpu_seconds() -> float:
    """User + system CPU of this process, all its threads (SQLite's worker included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.asynccontextmanager
async def open_engine(home: Path | Home, **options: Any) -> AsyncIterator[Engine]:
    """``Engine.open`` as the ``hitl`` command uses it: after a ``gc.freeze()`` that moves
    the imports' objects out of the cyclic collector's sight (its full passes otherwise
    walk them, pausing the loop for ~95 ms with hundreds of threads)."""
    from engine.engine import Engine

    gc.freeze()
    async with Engine.open(home, **options) as engine:
        yield engine


@contextlib.asynccontextmanager
async def bare_graph(home: Path, tuned: bool = False) -> AsyncIterator[Any]:
    """The stock saver (``from_conn_string``: WAL, synchronous=FULL), or with ``tuned``
    the same saver on a connection opened like the engine's (synchronous=NORMAL)."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from bench.bare_graph import build_bare_graph

    path = home / "bare.sqlite"
    if not tuned:
        async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
            await saver.setup()
            yield build_bare_graph(saver, home)
        return
    import aiosqlite

    conn = await aiosqlite.connect(str(path), timeout=30.0)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            await conn.execute(f"PRAGMA {pragma}")
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        yield build_bare_graph(saver, home)
    finally:
        await conn.close()


class BareRunner:
    """Runs rounds of threads on bare LangGraph: ``asyncio.gather`` of ``ainvoke``."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.serial = 0

    async def round(self, n: int) -> int:
        """Runs ``n`` threads at once; returns how many finished their task."""
        from langchain_core.messages import HumanMessage

        async def one() -> bool:
            self.serial += 1
            config = {"configurable": {"thread_id": f"bare-{self.serial}"}}
            out = await self.graph.ainvoke({"messages": [HumanMessage(LOW_TASK)]}, config)
            return str(out["messages"][-1].content).startswith("[demo model] Done.")

        return sum(await asyncio.gather(*(one() for _ in range(n))))


async def engine_round(engine: Engine, n: int) -> None:
    """Starts ``n`` threads, one ``start()`` at a time, and waits for all of them."""
    for _ in range(n):
        await engine.start(LOW_TASK)
    await engine.wait()


async def run_rounds(
    side: Side, home: Path, concurrency: int, total: int, **options: Any
) -> dict[str, Any]:
    """Starts ``concurrency`` threads at a time until ``total`` ran; times the runs only.

    Before the clock each side runs one thread (building its graph and warming its
    connection). ``options``: more ``Engine.open`` options (engine side only)."""
    rounds = max(1, total // concurrency)
    if side == "engine":
        async with open_engine(home, **options) as engine:
            await engine_round(engine, 1)
            t0, c0 = time.perf_counter(), cpu_seconds()
            for _ in range(rounds):
                await engine_round(engine, concurrency)
            elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
            ok = len(await engine.threads("done")) - 1
    else:
        async with bare_graph(home, tuned=side == "bare-tuned") as graph:
            runner = BareRunner(graph)
            await runner.round(1)
            t0, c0 = time.perf_counter(), cpu_seconds()
            ok = 0
            for _ in range(rounds):
                ok += await runner.round(concurrency)
            elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    n = rounds * concurrency
    if ok != n:
        raise RuntimeError(f"{side}: only {ok} of {n} threads finished their task")
    return {"threads": n, "seconds": elapsed, "tps": n / elapsed, "cpu_ms": cpu / n * 1000}


async def warm_up(side: Side) -> None:
    """Imports and first-run costs, in a scratch home, before anything is measured."""
    with fresh_home() as home:
        await run_rounds(side, home, 2, 2)


@dataclass
class ApprovalTimes:
    """Approve -> ToolExecuted, one approval at a time (see ``approve_under_load``)."""

    total_ms: list[float] = field(default_factory=list)
    decide_ms: list[float] = field(default_factory=list)
    windows: list[tuple[str, float, float]] = field(default_factory=list)
    """(thread, decide() called, ToolExecuted seen), perf_counter seconds."""
    busy_tps: float = 0.0
    busy_in_flight: float = 0.0
    """The busy threads in flight on average (the open loop's; a closed loop has all)."""
    window_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "n": len(self.total_ms),
            "p50_ms": percentile(self.total_ms, 0.50),
            "p99_ms": percentile(self.total_ms, 0.99),
            "max_ms": max(self.total_ms),
            "decide_p50_ms": percentile(self.decide_ms, 0.50),
            "decide_p99_ms": percentile(self.decide_ms, 0.99),
            "busy_tps": self.busy_tps,
            "busy_in_flight": self.busy_in_flight,
        }


async def approve_under_load(
    home: Path,
    *,
    busy: int,
    gated: int,
    think: float,
    interval: float,
    settle: float,
    busy_rate: float = 0.0,
    probe: Probe | None = None,
    lag: LoopLag | None = None,
) -> ApprovalTimes:
    """``gated`` threads pause on one approval each, while a busy load runs on an engine
    whose scripted model thinks ``think`` s per turn: with ``busy_rate``, an open loop
    (a low-tier thread starts every 1/``busy_rate`` s whatever the engine's pace, at
    most ``busy`` in flight, so a faster engine is not loaded harder); without it,
    ``busy`` closed loops that each start a low-tier thread and wait for it, forever.
    After ``settle`` s of that load, one approval every
    ``interval`` s (open loop, each timed on its own, as several operators would) is
    approved; each is timed until its ``ToolExecuted`` arrives on ``subscribe()``.

    ``probe`` observes the engine and, from the first approval on, watches the gated
    threads; ``lag`` samples the event loop's lag while the approvals run."""
    from engine import Approve
    from engine.events import ApprovalRequested, ToolExecuted

    options: dict[str, Any] = {"think_seconds": think}
    if probe is not None:
        options["observer"] = probe
    times = ApprovalTimes()
    async with open_engine(home, **options) as engine:
        await engine_round(engine, 1)  # builds the graph before the clock
        sub = engine.subscribe(limit=1_000_000)
        waiting: dict[str, asyncio.Future[float]] = {}
        gated_ids: set[str] = set()
        requested = 0
        all_requested = asyncio.Event()

        async def consume() -> None:
            nonlocal requested
            async for batch in sub.batches():
                now = time.perf_counter()
                for event in batch:
                    if isinstance(event, ToolExecuted):
                        fut = waiting.get(event.thread_id)
                        if fut is not None and not fut.done():
                            fut.set_result(now)
                    elif isinstance(event, ApprovalRequested):
                        if event.approval.thread_id in gated_ids:
                            requested += 1
                            if requested >= gated:
                                all_requested.set()

        finished = 0
        in_flight: list[int] = []
        """The busy threads in flight, sampled at each arrival (open loop)."""

        async def busy_loop() -> None:
            nonlocal finished
            while True:
                thread = await engine.start(LOW_TASK)
                await engine.wait(thread.id)
                finished += 1

        async def busy_one(room: asyncio.Semaphore) -> None:
            nonlocal finished
            try:
                thread = await engine.start(LOW_TASK)
                await engine.wait(thread.id)
                finished += 1
            finally:
                room.release()

        async def arrivals() -> None:
            """One busy thread per 1/``busy_rate`` s on a fixed schedule (a late tick
            starts at once, it is not skipped), at most ``busy`` in flight."""
            room = asyncio.Semaphore(busy)
            running: set[asyncio.Task[None]] = set()
            loop = asyncio.get_running_loop()
            due = loop.time()
            try:
                while True:
                    await room.acquire()
                    in_flight.append(len(running) + 1)
                    task = asyncio.create_task(busy_one(room))
                    running.add(task)
                    task.add_done_callback(running.discard)
                    due += 1 / busy_rate
                    await asyncio.sleep(max(0.0, due - loop.time()))
            finally:
                for task in list(running):
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)

        async def approve(approval: ApprovalView) -> None:
            fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            waiting[approval.thread_id] = fut
            if probe is not None:
                probe.tag(approval.thread_id)  # inherited by the runner decide() kicks
            t0 = time.perf_counter()
            await engine.decide(approval.id, Approve(), operator="bench")
            t1 = time.perf_counter()
            async with asyncio.timeout(120):
                t2 = await fut
            times.total_ms.append((t2 - t0) * 1000)
            times.decide_ms.append((t1 - t0) * 1000)
            times.windows.append((approval.thread_id, t0, t2))

        consumer = asyncio.create_task(consume())
        if busy and busy_rate:
            loops = [asyncio.create_task(arrivals())]
        else:
            loops = [asyncio.create_task(busy_loop()) for _ in range(busy)]
        await asyncio.sleep(settle if busy else 0.0)  # let the busy load reach steady state
        for _ in range(gated):
            gated_ids.add((await engine.start(GATED_TASK)).id)
        async with asyncio.timeout(300):
            await all_requested.wait()
        pending = [a for a in await engine.pending() if a.thread_id in gated_ids]
        if len(pending) != gated:
            raise RuntimeError(f"expected {gated} pending approvals, found {len(pending)}")
        busy_before, t_start = finished, time.perf_counter()
        if probe is not None:
            probe.clear()
            probe.watch = set(gated_ids)
        if lag is not None:
            lag.start()
        approvals = []
        for approval in pending:
            approvals.append(asyncio.create_task(approve(approval)))
            await asyncio.sleep(interval)
        await asyncio.gather(*approvals)
        times.window_s = time.perf_counter() - t_start
        times.busy_tps = (finished - busy_before) / times.window_s
        times.busy_in_flight = statistics.mean(in_flight) if in_flight else float(busy)
        if lag is not None:
            lag.stop()
        for task in [*loops, consumer]:
            task.cancel()
        await asyncio.gather(*loops, consumer, return_exceptions=True)
        sub.close()
    return times
