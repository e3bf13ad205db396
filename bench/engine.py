"""Engine benchmark: this engine against bare LangGraph, side by side in one run.

    .venv/bin/python bench/engine.py            # full run (a few minutes on 2 cores)
    .venv/bin/python bench/engine.py --quick    # smaller sizes, a fast check
    .venv/bin/python bench/engine.py --profile  # where the time goes at 100 threads

What is measured (every measurement runs in its own fresh subprocess and a fresh
temporary home / SQLite file, so no run inherits another's heap, caches or database):

1. Throughput, threads per second, at 1, 10, 100 and 500 concurrent threads, of the
   same agent graph and the same scripted model (no think delay), run by

   * the engine: ``Engine.open(home, watch=True)``, ``engine.start(task)`` per thread,
     then ``engine.wait()``; and by
   * bare LangGraph: a graph of the same shape without the engine (bench/bare_graph.py,
     ``agent`` node calling ``ScriptedChatModel().bind_tools(tool_schemas(CATALOGUE))``,
     a ``Send`` per tool call to a ``tool`` node that validates the arguments with the
     tool's pydantic model and runs the same catalogue implementation, back to
     ``agent``) with the stock ``AsyncSqliteSaver.from_conn_string`` checkpointer, run
     with ``asyncio.gather`` of ``graph.ainvoke``. It has no gate, journal, leases,
     thread rows or events. The stock saver keeps SQLite's synchronous=FULL while the
     engine's connection sets synchronous=NORMAL, so a third column runs the bare graph
     on a connection with the engine's PRAGMAs, to separate that from the engine's cost.

   The task, "search for quarterly revenue and read notes.txt", makes two low-tier
   calls (search, read_file) in one parallel turn and then a final answer, so every
   thread runs to completion without approvals. ``concurrency`` threads are started at
   once and awaited; that round repeats until the level's thread count is reached (the
   1-thread level is many sequential single threads). Each subprocess first warms up
   (imports, a 2-thread run in a scratch home) and compiles its graph before the clock
   starts. Levels are repeated and the order of the sides rotates per repeat; the
   table gives medians, the median of the per-repeat ratios (engine / bare), and the
   process CPU time (user + system, all threads) per thread, which a noisy shared
   machine disturbs less than wall time.

2. Approve-to-tool-executed latency: N threads on a gated (medium) task, "email the
   report to boss@company.com", pause on one approval each; then, one after another,
   ``engine.decide(id, Approve())`` is called and the time until the matching
   ``ToolExecuted`` event arrives on ``engine.subscribe()`` is taken. Measured idle and
   with 200 other threads busy: 200 loops that each start a low-tier thread and wait
   for it, forever, on an engine whose scripted model thinks 50 ms per turn.

3. Listing 1,000 pending approvals on a fresh start: 1,000 gated threads are left
   pending and the engine closed; then (a) ``HITL_HOME=... hitl pending --json`` is run
   as a subprocess (wall time, interpreter start included), and (b) a fresh subprocess
   times ``Engine.open`` + ``await engine.pending()`` (imports excluded, shown apart).

4. Peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) of a subprocess that runs
   1,000 concurrent low-tier threads, engine and (for reference) bare. (The engine's
   threads are started one ``start()`` at a time, so fewer are in flight at the peak
   than on the bare side, which starts all 1,000 ``ainvoke`` at once.)

The engine side touches private names in this file only: ``Engine._graph`` (to
compile before the clock) and, for ``--profile``, the methods the probe wraps.

``--profile`` looks at the engine's storage as it is now: SQLite owned by one database
thread (``engine.storage.database.DatabaseThread``: a priority queue, one hop per transaction),
LangGraph's sync ``SqliteSaver`` run on that thread, and graph runs holding one of
``EngineOptions.run_slots`` run slots (decisions first). In fresh subprocesses it runs:

* 100 concurrent engine threads with a probe that wraps ``DatabaseThread.run`` (every
  hop: its caller, and its time queued for the thread, which is the contention measure
  now, running on the thread, and waking the awaiting coroutine afterwards, which is
  the event loop's backlog), ``RunSlots._acquire`` (slot waits by priority) and
  ``Engine._drive`` (tags each runner with its thread id): hops per thread, by caller;
* the same 100 threads on each side, engine and bare, under cProfile (main-thread CPU
  by package and top functions; the database thread is not profiled) and pyinstrument
  (call trees, written to ``--profile-dir``, when pyinstrument is installed);
* "what-if" runs with one engine cost patched out (journal rows, leases) or another
  ``run_slots``;
* the approve path under 200 busy threads with the same probe plus an event-loop lag
  sampler: each approve->ToolExecuted window split into run-slot waits, hop queueing,
  hop running, hop wake-up and the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import cProfile
import importlib.metadata
import importlib.util
import io
import json
import math
import os
import platform
import pstats
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

LOW_TASK = "search for quarterly revenue and read notes.txt"
GATED_TASK = "email the report to boss@company.com"
NOTES = "Quarterly revenue was 4.2M, up 8% on the previous quarter.\n"
RESULT_PREFIX = "RESULT "

TARGET_RATIO = 1.0
TARGET_P99_MS = 100.0
TARGET_LIST_S = 1.0
TARGET_RSS_MB = 300.0


# --- helpers shared by workers -----------------------------------------------


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


def rss_mb() -> float:
    """Peak RSS of this process so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU of this process, all its threads (SQLite's worker included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def current_rss_mb() -> float:
    with contextlib.suppress(OSError), open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return float("nan")


def union_length(spans: Sequence[tuple[float, float]]) -> float:
    """Total time covered by sorted (start, end) spans; overlapping ones count once."""
    total, reach = 0.0, float("-inf")
    for start, end in spans:
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class BareRunner:
    """Runs rounds of threads on bare LangGraph with the stock AsyncSqliteSaver."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.serial = 0

    async def round(self, n: int) -> int:
        from langchain_core.messages import HumanMessage

        async def one() -> bool:
            self.serial += 1
            config = {"configurable": {"thread_id": f"bare-{self.serial}"}}
            out = await self.graph.ainvoke({"messages": [HumanMessage(LOW_TASK)]}, config)
            return str(out["messages"][-1].content).startswith("[demo model] Done.")

        return sum(await asyncio.gather(*(one() for _ in range(n))))


@contextlib.asynccontextmanager
async def bare_graph(home: Path, tuned: bool = False) -> Any:
    """The stock saver (``from_conn_string``: WAL, synchronous=FULL), or with ``tuned``
    the same saver on a connection opened like the engine's (synchronous=NORMAL)."""
    from bare_graph import build_bare_graph
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = home / "bare.sqlite"
    if tuned:
        import aiosqlite

        conn = await aiosqlite.connect(str(path), timeout=30.0)
        try:
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
                await conn.execute(f"PRAGMA {pragma}")
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            yield build_bare_graph(saver, home), saver
        finally:
            await conn.close()
        return
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.setup()
        yield build_bare_graph(saver, home), saver


async def start(engine: Any, task: str) -> Any:
    """``engine.start(task)``, tried again when the new thread's id is taken: ids are
    ``token_hex(3)`` plus the title's slug, so 1,000 threads of one task collide with
    a probability of about 3% (sqlite3.IntegrityError on hitl_threads.id)."""
    for attempt in range(3):
        try:
            return await engine.start(task)
        except sqlite3.IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def engine_round(engine: Any, n: int) -> None:
    for _ in range(n):
        await start(engine, LOW_TASK)
    await engine.wait()


async def run_rounds(
    side: str, home: Path, concurrency: int, total: int, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Starts ``concurrency`` threads at a time until ``total`` ran; times the runs only.
    ``options``: extra ``Engine.open`` options (engine side only)."""
    rounds = max(1, total // concurrency)
    if side == "engine":
        from engine.engine import Engine

        async with Engine.open(home, watch=True, **(options or {})) as engine:
            engine._graph("scripted")  # compile before the clock, as the bare side does
            t0, c0 = time.perf_counter(), cpu_seconds()
            for _ in range(rounds):
                await engine_round(engine, concurrency)
            elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
            ok = len(await engine.threads("done"))
    else:
        async with bare_graph(home, tuned=side == "bare-tuned") as (graph, _saver):
            runner = BareRunner(graph)
            t0, c0 = time.perf_counter(), cpu_seconds()
            ok = 0
            for _ in range(rounds):
                ok += await runner.round(concurrency)
            elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    n = rounds * concurrency
    if ok != n:
        raise RuntimeError(f"{side}: only {ok} of {n} threads finished their task")
    return {"threads": n, "seconds": elapsed, "tps": n / elapsed, "cpu_ms": cpu / n * 1000}


async def warm_up(side: str) -> None:
    with fresh_home() as home:
        await run_rounds(side, home, 2, 2)


# --- workers (each runs in its own subprocess) --------------------------------


async def w_throughput(side: str, concurrency: int, total: int) -> dict[str, Any]:
    await warm_up(side)
    with fresh_home() as home:
        result = await run_rounds(side, home, concurrency, total)
    return result | {"peak_rss_mb": rss_mb()}


async def w_rss(side: str, n: int) -> dict[str, Any]:
    if side == "engine":
        import engine.engine  # noqa: F401
    else:
        import langgraph.checkpoint.sqlite.aio  # noqa: F401
    with fresh_home() as home:
        base = current_rss_mb()
        result = await run_rounds(side, home, n, n)
    return result | {"peak_rss_mb": rss_mb(), "rss_after_import_mb": base}


async def w_latency(
    busy: int, gated: int, think: float, interval: float, probe_hops: bool = False
) -> dict[str, Any]:
    from engine import Approve
    from engine.engine import Engine
    from engine.events import ApprovalRequested, ToolExecuted

    probe = Probe() if probe_hops else None
    if probe:
        probe.install()
    with fresh_home() as home:
        async with Engine.open(home, watch=True, think_seconds=think) as engine:
            engine._graph("scripted")
            sub = engine.subscribe(limit=1_000_000)
            waiting: dict[str, asyncio.Future[float]] = {}
            requested = 0
            all_requested = asyncio.Event()
            gated_ids: set[str] = set()

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
            stop = False

            async def busy_slot() -> None:
                nonlocal finished
                while not stop:
                    thread = await start(engine, LOW_TASK)
                    await engine.wait(thread.id)
                    finished += 1

            consumer = asyncio.create_task(consume())
            slots = [asyncio.create_task(busy_slot()) for _ in range(busy)]
            await asyncio.sleep(2.0 if busy else 0.0)  # let the busy load reach steady state
            for _ in range(gated):
                gated_ids.add((await start(engine, GATED_TASK)).id)
            async with asyncio.timeout(300):
                await all_requested.wait()
            pending = [a for a in await engine.pending() if a.thread_id in gated_ids]
            if len(pending) != gated:
                raise RuntimeError(f"expected {gated} pending approvals, found {len(pending)}")
            total, decide_call = [], []
            windows: list[tuple[str, float, float]] = []
            busy_before, t_start = finished, time.perf_counter()
            lag = LoopLag() if probe else None
            if probe and lag:
                probe.clear()
                probe.watch = set(gated_ids)
                lag.start()

            async def approve(approval: Any) -> None:
                fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
                waiting[approval.thread_id] = fut
                PROBE_THREAD.set(approval.thread_id)  # inherited by decide's runner task
                t0 = time.perf_counter()
                await engine.decide(approval.id, Approve(), operator="bench")
                t1 = time.perf_counter()
                async with asyncio.timeout(120):
                    t2 = await fut
                total.append((t2 - t0) * 1000)
                decide_call.append((t1 - t0) * 1000)
                windows.append((approval.thread_id, t0, t2))

            # Open loop: one approval every ``interval`` seconds, each timed on its own,
            # so a slow one does not hold back the next (as several operators would).
            approvals = []
            for approval in pending:
                approvals.append(asyncio.create_task(approve(approval)))
                await asyncio.sleep(interval)
            await asyncio.gather(*approvals)
            window_s = time.perf_counter() - t_start
            busy_tps = (finished - busy_before) / window_s
            if lag:
                lag.stop()
            stop = True
            for task in [*slots, consumer]:
                task.cancel()
            await asyncio.gather(*slots, consumer, return_exceptions=True)
            sub.close()
    result = {
        "n": len(total),
        "p50_ms": percentile(total, 0.50),
        "p99_ms": percentile(total, 0.99),
        "max_ms": max(total),
        "decide_p50_ms": percentile(decide_call, 0.50),
        "decide_p99_ms": percentile(decide_call, 0.99),
        "busy_tps": busy_tps,
    }
    if probe and lag:
        result |= probe.path_report(windows) | lag.report()
        result["hops_all"] = probe.hop_table()
        result["db_busy_share"] = sum(v[2] for v in probe.hops.values()) / window_s
        result["slots_all"] = probe.slot_table()
    return result


async def w_make_pending(home: str, n: int) -> dict[str, Any]:
    from engine.engine import Engine

    t0 = time.perf_counter()
    async with Engine.open(Path(home), watch=False) as engine:
        for _ in range(n):
            await start(engine, GATED_TASK)
        await engine.wait()
        count = len(await engine.pending())
    if count != n:
        raise RuntimeError(f"expected {n} pending approvals, found {count}")
    return {"n": count, "seconds": time.perf_counter() - t0, "peak_rss_mb": rss_mb()}


async def w_open_pending(home: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    from engine.engine import Engine

    t1 = time.perf_counter()
    async with Engine.open(Path(home), create=False, watch=True) as engine:
        t2 = time.perf_counter()
        pending = await engine.pending()
        t3 = time.perf_counter()
    return {
        "n": len(pending),
        "import_s": t1 - t0,
        "open_s": t2 - t1,
        "pending_s": t3 - t2,
        "open_pending_s": t3 - t1,
    }


def _no_journal() -> None:
    from engine.storage.database import Write
    from engine.storage.journal import Journal

    def insert_statement(self: Any, *args: Any, when: int | None = None) -> Write:
        return Write("SELECT 1", (), when=when)  # the state change is still written

    Journal.insert_statement = insert_statement  # type: ignore[method-assign]


def _no_leases() -> None:
    from engine.storage.leases import Leases

    async def acquire(self: Any, thread_id: str) -> bool:
        return True

    async def release(self: Any, thread_id: str) -> None:
        return None

    Leases.acquire = acquire  # type: ignore[method-assign]
    Leases.release = release  # type: ignore[method-assign]


ABLATIONS: dict[str, Callable[[], None]] = {
    "no-journal": _no_journal,
    "no-leases": _no_leases,
}
"""What-if patches, applied in a profile subprocess only: each removes one cost.
A patch named ``slots=N`` instead opens the engine with ``run_slots=N``."""


def engine_options(patches: Sequence[str]) -> dict[str, Any]:
    """Engine.open options asked for by ``slots=N`` patches; the others are applied."""
    options: dict[str, Any] = {}
    for name in patches:
        if name.startswith("slots="):
            options["run_slots"] = int(name.split("=", 1)[1])
        else:
            ABLATIONS[name]()
    return options


async def w_ablation(side: str, n: int, patches: Sequence[str]) -> dict[str, Any]:
    options = engine_options(patches)
    await warm_up(side)
    with fresh_home() as home:
        return await run_rounds(side, home, n, n, options)


WORKERS: dict[str, Callable[..., Any]] = {
    "ablation": w_ablation,
    "throughput": w_throughput,
    "rss": w_rss,
    "latency": w_latency,
    "make_pending": w_make_pending,
    "open_pending": w_open_pending,
}


def run_worker(kind: str, timeout: float = 900, **kwargs: Any) -> dict[str, Any]:
    """Runs one measurement in a fresh interpreter; returns its result."""
    spec = json.dumps({"kind": kind, "kwargs": kwargs})
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", spec]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :]) | {"wall_s": wall}
    raise RuntimeError(f"worker {kind} {kwargs} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


# --- profile -------------------------------------------------------------------


PROBE_THREAD: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "probe_thread", default=None
)

HOP_PLUMBING = frozenset(
    {"run", "fetchone", "execute", "fetchall", "transaction", "returning", "script"}
)
"""Frames between a caller and ``DatabaseThread.run`` that name no purpose of their own."""
HOP_RELAYS = frozenset({"_publish", "append", "commit"})
"""Callers whose own caller is named too (``audit.commit < engine._publish <
engine._set_status``), as is the caller of any function in ``engine/storage/``."""


def _in_storage(frame: Any) -> bool:
    """A frame of the engine's tables (``engine/storage/``): its caller is named too."""
    return Path(frame.f_code.co_filename).parent.name == "storage"


def frame_label(frame: Any) -> str:
    return f"{Path(frame.f_code.co_filename).stem}.{frame.f_code.co_name}"


class Probe:
    """Counts database hops and run-slot waits, patching three engine classes.

    * ``DatabaseThread.run``: every hop to the database thread, by caller, with its time
      in the priority queue (put to start on the thread), on the thread (the whole
      transaction) and waking up (end on the thread to the awaiting coroutine running
      again: ``call_soon_threadsafe`` plus the event loop's ready queue);
    * ``RunSlots._acquire``: how long runs wait for a run slot, by priority;
    * ``Engine._drive``: tags each runner (and the tasks LangGraph starts from it) with
      its thread id, so hops and waits can be attributed to threads.
    """

    def __init__(self) -> None:
        self.watch: set[str] = set()
        self.clear()

    def clear(self) -> None:
        self.hops: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
        """label -> [count, queued s, on the thread s, waking s]."""
        self.per_thread: dict[str, int] = defaultdict(int)
        self.queued: list[float] = []
        self.running: list[float] = []
        self.wakes: list[float] = []
        self.depths: list[int] = []
        self.slot_waits: dict[int, list[float]] = defaultdict(list)
        self.spans: dict[str, list[tuple[str, float, float, str]]] = defaultdict(list)
        """(kind, start, end, label) per watched thread; kind: slot, queue, db, wake."""

    def install(self) -> None:
        from engine.engine import Engine
        from engine.slots import RunSlots
        from engine.storage.database import DatabaseThread

        probe = self
        run, acquire, drive = DatabaseThread.run, RunSlots._acquire, Engine._drive

        async def timed_run(self: Any, fn: Callable[..., Any], *args: Any) -> Any:
            label = probe.caller(sys._getframe(1))
            stamps = [0.0, 0.0]

            def timed(*inner: Any) -> Any:
                stamps[0] = time.perf_counter()
                try:
                    return fn(*inner)
                finally:
                    stamps[1] = time.perf_counter()

            depth = self._queue.qsize()
            put = time.perf_counter()
            try:
                return await run(self, timed, *args)
            finally:
                if stamps[1]:
                    probe.hop(label, depth, put, stamps[0], stamps[1], time.perf_counter())

        async def timed_acquire(self: Any, priority: int) -> None:
            t0 = time.perf_counter()
            try:
                await acquire(self, priority)
            finally:
                probe.slot(priority, t0, time.perf_counter())

        async def tagged_drive(self: Any, thread_id: str, first: Any, known: Any) -> None:
            PROBE_THREAD.set(thread_id)  # inherited by the tasks LangGraph starts
            await drive(self, thread_id, first, known)

        DatabaseThread.run = timed_run  # type: ignore[method-assign]
        RunSlots._acquire = timed_acquire  # type: ignore[method-assign]
        Engine._drive = tagged_drive  # type: ignore[method-assign]

    @staticmethod
    def caller(frame: Any) -> str:
        parts: list[str] = []
        while frame is not None and len(parts) < 3:
            name = frame.f_code.co_name
            if name not in HOP_PLUMBING:
                parts.append(frame_label(frame))
                if name not in HOP_RELAYS and not _in_storage(frame):
                    break
            frame = frame.f_back
        return " < ".join(parts) or "?"

    def hop(
        self, label: str, depth: int, put: float, start: float, end: float, back: float
    ) -> None:
        stats = self.hops[label]
        stats[0] += 1
        stats[1] += start - put
        stats[2] += end - start
        stats[3] += back - end
        self.queued.append(start - put)
        self.running.append(end - start)
        self.wakes.append(back - end)
        self.depths.append(depth)
        thread = PROBE_THREAD.get()
        self.per_thread[thread or ""] += 1
        if thread in self.watch:
            spans = self.spans[thread]
            spans += [("queue", put, start, label), ("db", start, end, label)]
            spans.append(("wake", end, back, label))

    def slot(self, priority: int, start: float, end: float) -> None:
        self.slot_waits[priority].append(end - start)
        thread = PROBE_THREAD.get()
        if thread in self.watch:
            self.spans[thread].append(("slot", start, end, f"slot(p{priority})"))

    def hop_table(self) -> list[list[Any]]:
        """[label, count, queued s, on the thread s, waking s], most frequent first."""
        return [[k, *v] for k, v in sorted(self.hops.items(), key=lambda kv: -kv[1][0])]

    def slot_table(self) -> dict[str, list[float]]:
        """priority -> [count, total wait s, p50 ms, p99 ms, max ms]."""
        return {
            str(p): [
                len(w),
                sum(w),
                percentile(w, 0.5) * 1000,
                percentile(w, 0.99) * 1000,
                max(w) * 1000,
            ]
            for p, w in sorted(self.slot_waits.items())
            if w
        }

    def summary(self) -> dict[str, Any]:
        attributed = [c for t, c in self.per_thread.items() if t]
        ms = 1000
        return {
            "hops": self.hop_table(),
            "slots": self.slot_table(),
            "hop_count": len(self.queued),
            "hops_unattributed": self.per_thread.get("", 0),
            "hops_per_thread": [min(attributed), statistics.median(attributed), max(attributed)]
            if attributed
            else [0, 0, 0],
            "queued_ms": [percentile(self.queued, q) * ms for q in (0.5, 0.99, 1.0)],
            "running_ms": [percentile(self.running, q) * ms for q in (0.5, 0.99, 1.0)],
            "wake_ms": [percentile(self.wakes, q) * ms for q in (0.5, 0.99, 1.0)],
            "depth": [percentile(self.depths, q) for q in (0.5, 0.99, 1.0)],
            "totals_s": [sum(self.queued), sum(self.running), sum(self.wakes)],
        }

    def path_report(self, windows: Sequence[tuple[str, float, float]]) -> dict[str, Any]:
        """Splits each approve->ToolExecuted window by what the thread's tasks waited on."""
        kinds = ("slot", "queue", "db", "wake")
        rows: list[dict[str, float]] = []
        paths: list[str] = []
        for thread, t0, t2 in windows:
            seen = [
                (kind, start, min(end, t2), label)
                for kind, start, end, label in self.spans[thread]
                if t0 <= start <= t2
            ]
            row = {"total": (t2 - t0) * 1000}
            for kind in kinds:
                spans = sorted((s, e) for k, s, e, _ in seen if k == kind)
                row[kind] = union_length(spans) * 1000
            row["other"] = row["total"] - union_length(sorted((s, e) for _, s, e, _ in seen)) * 1000
            row["hops"] = sum(1 for k, *_ in seen if k == "db")
            rows.append(row)
            paths.append(
                " > ".join(
                    label
                    for k, _, _, label in sorted(seen, key=lambda x: x[1])
                    if k in ("db", "slot")
                )
            )
        rows.sort(key=lambda r: r["total"])
        return {"path_rows": rows, "path": statistics.mode(paths) if paths else ""}


class LoopLag:
    """How late the event loop runs a 1 ms timer, and how long its ready queue is then."""

    def __init__(self, period: float = 0.001) -> None:
        self.period = period
        self.lags: list[float] = []
        self.ready: list[int] = []
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    def stop(self) -> None:
        if self.task:
            self.task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lags.append(time.perf_counter() - t - self.period)
            self.ready.append(len(getattr(loop, "_ready", ())))

    def report(self) -> dict[str, Any]:
        if not self.lags:
            return {}
        return {
            "loop_lag_ms": [percentile(self.lags, q) * 1000 for q in (0.5, 0.9, 0.99, 1.0)],
            "ready_len": [percentile(self.ready, q) for q in (0.5, 0.9, 0.99, 1.0)],
        }


def package_of(filename: str) -> str:
    parts = Path(filename).parts
    for marker in ("site-packages", "lib"):
        if marker in parts:
            rest = parts[parts.index(marker) + 1 :]
            if marker == "site-packages" and rest:
                return rest[0].removesuffix(".py")
    if "engine" in parts:
        return "engine (ours)"
    if str(ROOT / "bench") in filename:
        return "bench"
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins/C"
    return "stdlib:" + Path(filename).stem


async def profile_run(side: str, n: int, probe: Probe | None) -> dict[str, Any]:
    with fresh_home() as home:
        if side == "engine":
            from engine.engine import Engine

            async with Engine.open(home, watch=True) as engine:
                engine._graph("scripted")
                if probe:
                    probe.clear()  # opening and setup are not part of the run
                t0 = time.perf_counter()
                await engine_round(engine, n)
                elapsed = time.perf_counter() - t0
                hops = probe.summary() | {"seconds": elapsed} if probe else {}
        else:
            async with bare_graph(home) as (graph, _saver):
                t0 = time.perf_counter()
                await BareRunner(graph).round(n)
                elapsed = time.perf_counter() - t0
                hops = {}
    return hops | {"seconds": elapsed, "tps": n / elapsed}


async def w_profile(side: str, n: int, tool: str, out_dir: str) -> dict[str, Any]:
    out = Path(out_dir)
    if tool == "probe":
        probe = Probe()
        probe.install()
        await warm_up(side)
        return await profile_run(side, n, probe)
    await warm_up(side)
    if tool == "cprofile":
        prof = cProfile.Profile()
        prof.enable()
        result = await profile_run(side, n, None)
        prof.disable()
        prof.dump_stats(out / f"{side}.pstats")
        stats = pstats.Stats(prof)
        raw = stats.stats  # type: ignore[attr-defined]
        by_package: dict[str, float] = defaultdict(float)
        total = idle = 0.0
        for (filename, _line, name), (_cc, _nc, tt, _ct, _callers) in raw.items():
            if "poll' of 'select.epoll" in name:
                idle += tt  # the loop waiting for the SQLite thread or a timer: not CPU
                continue
            by_package[package_of(filename)] += tt
            total += tt
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(40)
        (out / f"{side}.cprofile.txt").write_text(text.getvalue())
        cum = io.StringIO()
        pstats.Stats(prof, stream=cum).sort_stats("cumulative").print_stats(80)
        (out / f"{side}.cprofile-cumulative.txt").write_text(cum.getvalue())
        top = sorted(raw.items(), key=lambda kv: -kv[1][2])[:15]
        ours = [
            kv
            for kv in raw.items()
            if f"{os.sep}engine{os.sep}" in kv[0][0]
            or "bare_graph" in kv[0][0]
            or f"checkpoint{os.sep}sqlite" in kv[0][0]
        ]
        ours.sort(key=lambda kv: -kv[1][3])
        return result | {
            "cpu_total": total,
            "idle": idle,
            "by_package": dict(by_package),
            "top": [
                [f"{package_of(f)}:{Path(f).name}:{line}({name})", nc, tt, ct]
                for (f, line, name), (_cc, nc, tt, ct, _c) in top
            ],
            "ours": [
                [f"{Path(f).parent.name}/{Path(f).name}:{line}({name})", nc, tt, ct]
                for (f, line, name), (_cc, nc, tt, ct, _c) in ours[:22]
            ],
        }
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    result = await profile_run(side, n, None)
    profiler.stop()
    (out / f"{side}.pyinstrument.txt").write_text(
        profiler.output_text(unicode=True, color=False, show_all=False)
    )
    (out / f"{side}.pyinstrument.html").write_text(profiler.output_html())
    return result


def print_hops(p: dict[str, Any], n: int) -> None:
    """The hop probe's tables for one run of ``n`` threads."""
    lo, mid, hi = p["hops_per_thread"]
    q, r, w = p["queued_ms"], p["running_ms"], p["wake_ms"]
    queued, running, waking = p["totals_s"]
    print(
        f"{p['hop_count']} database hops = {p['hop_count'] / n:.1f} per thread; "
        f"attributed to one thread's runner: median {mid}, min {lo}, max {hi} per thread; "
        f"{p['hops_unattributed']} outside any runner (start(), the watcher).\n"
        f"Per hop, ms (p50 / p99 / max): queued {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f}; on the "
        f"thread {r[0]:.2f} / {r[1]:.2f} / {r[2]:.2f}; waking up {w[0]:.2f} / {w[1]:.2f} / "
        f"{w[2]:.2f}. Queue depth at put (p50 / p99 / max): "
        f"{' / '.join(str(d) for d in p['depth'])}.\n"
        f"Totals: queued {queued:.2f} s, on the thread {running:.2f} s (database thread busy "
        f"{running / p['seconds'] * 100:.0f}% of the {p['seconds']:.2f} s run), waking "
        f"{waking:.2f} s.\n"
    )
    print("| hop (caller) | count | per thread | queued ms avg | on thread ms avg | wake ms avg |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, count, qs, rs, ws in p["hops"][:18]:
        print(
            f"| {label} | {count} | {count / n:.2f} | {qs / count * 1000:.2f} "
            f"| {rs / count * 1000:.2f} | {ws / count * 1000:.2f} |"
        )
    print("\n| run slot wait, priority | count | total s | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for prio, (count, total, p50, p99, top) in p["slots"].items():
        name = {"0": "0 (decision)", "1": "1 (background)"}.get(prio, prio)
        print(f"| {name} | {count} | {total:.2f} | {p50:.2f} | {p99:.2f} | {top:.2f} |")
    print()


def print_profile(args: argparse.Namespace) -> None:
    n = args.profile_threads
    out = Path(args.profile_dir)
    out.mkdir(parents=True, exist_ok=True)
    print(machine_info())
    print(f"\n## Profile at {n} concurrent threads (files in {out})\n")
    res: dict[tuple[str, str], dict[str, Any]] = {}
    tools = ["cprofile"]
    if importlib.util.find_spec("pyinstrument"):
        tools.append("pyinstrument")
    res["engine", "probe"] = run_worker(
        "profile", side="engine", n=n, tool="probe", out_dir=str(out)
    )
    for tool in tools:
        for side in ("engine", "bare"):
            res[side, tool] = run_worker("profile", side=side, n=n, tool=tool, out_dir=str(out))
    p = res["engine", "probe"]
    print(f"### engine: database hops ({p['tps']:.1f} threads/s, {p['seconds']:.2f} s, probed)\n")
    print_hops(p, n)
    for side in ("engine", "bare"):
        c = res[side, "cprofile"]
        print(
            f"### {side}: cProfile (slows both sides ~2x): {c['tps']:.1f} threads/s; "
            f"main-thread CPU {c['cpu_total']:.2f} s = {c['cpu_total'] / n * 1000:.1f} ms per "
            f"thread, plus {c['idle']:.2f} s idle in epoll; own time by package:\n"
        )
        for pkg, tt in sorted(c["by_package"].items(), key=lambda kv: -kv[1])[:12]:
            print(f"  {pkg:32} {tt:7.3f} s  {tt / c['cpu_total'] * 100:5.1f}%")
        print("top functions by own time (ncalls, tottime s, cumtime s):")
        for name, nc, tt, ct in c["top"]:
            print(f"  {nc:8} {tt:7.3f} {ct:7.3f}  {name}")
        print(
            "engine / graph / checkpointer functions by cumulative time (a coroutine's is "
            "CPU while it runs, not while it awaits):"
        )
        for name, nc, tt, ct in c["ours"]:
            print(f"  {nc:8} {tt:7.3f} {ct:7.3f}  {ct / n * 1000:6.2f} ms/thread  {name}")
        print()
    print_ablations(n, args.profile_repeats)
    print_latency_probe(args)


def print_ablations(n: int, repeats: int) -> None:
    variants: list[tuple[str, list[str]]] = [
        ("engine", []),
        ("engine", ["no-journal"]),
        ("engine", ["no-leases"]),
        ("engine", ["no-journal", "no-leases"]),
        ("engine", ["slots=1"]),
        ("engine", ["slots=16"]),
        ("bare", []),
    ]
    tps: dict[int, list[float]] = defaultdict(list)
    cpu: dict[int, list[float]] = defaultdict(list)
    for rep in range(repeats):
        order = list(range(len(variants)))
        if rep % 2:
            order.reverse()
        for i in order:
            side, patches = variants[i]
            got = run_worker("ablation", side=side, n=n, patches=patches)
            tps[i].append(got["tps"])
            cpu[i].append(got["cpu_ms"])
    base_tps, base_cpu = statistics.median(tps[0]), statistics.median(cpu[0])
    print(f"### What-if: engine at {n} threads with one cost patched out (median of {repeats})\n")
    print("| variant | threads/s | vs engine | CPU ms/thread | vs engine | min CPU | vs engine |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base_min = min(cpu[0])
    for i, (side, patches) in enumerate(variants):
        t, c = statistics.median(tps[i]), statistics.median(cpu[i])
        label = side + (" + " + ", ".join(patches) if patches else "")
        low = min(cpu[i])
        print(
            f"| {label} | {t:.1f} | {t / base_tps:.2f}x | {c:.1f} | {c / base_cpu:.2f}x "
            f"| {low:.1f} | {low / base_min:.2f}x |"
        )
    print(
        "\nCPU = user + system time of the process (all threads) per thread run, less "
        "sensitive than threads/s to a noisy machine; min = least of the repeats.\n"
        "no-journal: no journal rows (nor the audit entries tied to them), only the state "
        "change the events report;\nno-leases: acquire/release_lease do nothing; slots=N: "
        "EngineOptions.run_slots=N (default 4).\n"
    )


def print_latency_probe(args: argparse.Namespace) -> None:
    busy = args.profile_busy
    lat = run_worker("latency", busy=busy, gated=40, think=0.05, interval=0.2, probe_hops=True)
    rows = lat["path_rows"]
    k = max(2, math.ceil(len(rows) * 0.05))
    slow = rows[-k:]
    print(f"### Approve -> ToolExecuted with {busy} busy threads, hops and slots probed\n")
    print(
        f"p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms, max {lat['max_ms']:.0f} ms "
        f"(n={lat['n']}); decide() p50 {lat['decide_p50_ms']:.0f} ms; busy load "
        f"{lat['busy_tps']:.1f} threads/s; database thread busy "
        f"{lat['db_busy_share'] * 100:.0f}% of the window.\n"
        "Each window split by what some task of the approved thread waited on (overlaps "
        "counted once per kind); other = not waiting on a slot or a hop: the path's own "
        "CPU and its turns in the event loop's ready queue.\n"
    )
    kinds = [
        ("total", "approve -> ToolExecuted"),
        ("slot", "waiting for a run slot"),
        ("queue", "hop queued for the database thread"),
        ("db", "hop running on the database thread"),
        ("wake", "hop done, waiting for the loop to resume it"),
        ("other", "other (own CPU, ready queue)"),
        ("hops", "hops on the path (count)"),
    ]
    print(f"| component | p50 ms | mean of the slowest {k} | share of all approvals' time |")
    print("|---|---:|---:|---:|")
    grand = sum(r["total"] for r in rows)
    for key, name in kinds:
        values = [r[key] for r in rows]
        share = "" if key == "hops" else f"{sum(values) / grand * 100:.0f}%"
        print(
            f"| {name} | {percentile(values, 0.5):.1f} | "
            f"{statistics.mean(r[key] for r in slow):.1f} | {share} |"
        )
    print("\nslowest approvals (ms): total, slot, queue, db, wake, other, hops")
    for r in rows[-5:]:
        print(
            f"  {r['total']:7.1f} {r['slot']:7.1f} {r['queue']:7.1f} {r['db']:7.1f} "
            f"{r['wake']:7.1f} {r['other']:7.1f} {r['hops']:4.0f}"
        )
    lag, ready = lat.get("loop_lag_ms", [0] * 4), lat.get("ready_len", [0] * 4)
    print(
        f"\nevent loop: a 1 ms timer ran late by p50 {lag[0]:.1f} / p90 {lag[1]:.1f} / p99 "
        f"{lag[2]:.1f} / max {lag[3]:.1f} ms; ready queue length then p50 {ready[0]} / p90 "
        f"{ready[1]} / p99 {ready[2]} / max {ready[3]}.\n"
        f"\nMost common sequence of hops and slot takes on the path:\n{lat['path']}\n"
    )
    window = {
        "hop_count": sum(row[1] for row in lat["hops_all"]),
        "hops": lat["hops_all"],
        "slots": lat["slots_all"],
    }
    print(f"All hops in the approval window ({window['hop_count']}), by caller:\n")
    print("| hop (caller) | count | queued ms avg | on thread ms avg | wake ms avg |")
    print("|---|---:|---:|---:|---:|")
    for label, count, qs, rs, ws in window["hops"][:16]:
        print(
            f"| {label} | {count} | {qs / count * 1000:.2f} | {rs / count * 1000:.2f} "
            f"| {ws / count * 1000:.2f} |"
        )
    print("\n| run slot wait, priority | count | total s | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for prio, (count, total, p50, p99, top) in window["slots"].items():
        name = {"0": "0 (decision)", "1": "1 (background)"}.get(prio, prio)
        print(f"| {name} | {count} | {total:.2f} | {p50:.2f} | {p99:.2f} | {top:.2f} |")
    print()


# --- the table -----------------------------------------------------------------


def machine_info() -> str:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for dist in ("langgraph", "langgraph-checkpoint-sqlite", "langchain-core", "aiosqlite"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join(
        [
            f"CPU: {cpu}, {os.cpu_count()} cores; load average at start {load}",
            f"Python {platform.python_version()} ({platform.python_implementation()}), "
            f"SQLite {sqlite3.sqlite_version}, {platform.platform()}",
            ", ".join(versions),
        ]
    )


def verdict(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def main_table(args: argparse.Namespace) -> None:
    quick = args.quick
    started = time.perf_counter()
    levels = {1: 10, 10: 20, 100: 100} if quick else {1: 50, 10: 100, 100: 200, 500: 500}
    repeats = args.repeats or (1 if quick else 3)
    busy, gated = (50, 20) if quick else (200, 100)
    n_pending = 200 if quick else 1000
    n_rss = 200 if quick else 1000
    print(machine_info())
    print(f"mode: {'quick' if quick else 'full'}; {repeats} repeat(s) per throughput level\n")
    print(
        "bare LangGraph = same graph shape and scripted model on the stock AsyncSqliteSaver "
        "(from_conn_string: WAL, synchronous=FULL);\nthe engine's connection uses "
        "synchronous=NORMAL, so 'bare with the engine's PRAGMAs' is also shown.\n"
    )
    sys.stdout.flush()

    rows: list[list[str]] = []

    def row(*cells: Any) -> None:
        rows.append([str(c) for c in cells])
        print("  .. " + " | ".join(rows[-1]), file=sys.stderr)

    # 1. throughput
    for level, total in levels.items():
        sides = ("engine", "bare", "bare-tuned")
        runs: dict[str, list[float]] = {side: [] for side in sides}
        cpu: dict[str, list[float]] = {side: [] for side in sides}
        ratios, tuned_ratios = [], []
        for rep in range(repeats):
            order = sides[rep % 3 :] + sides[: rep % 3]  # each side in each slot once
            got = {
                side: run_worker("throughput", side=side, concurrency=level, total=total)
                for side in order
            }
            for side in order:
                runs[side].append(got[side]["tps"])
                cpu[side].append(got[side]["cpu_ms"])
            ratios.append(got["engine"]["tps"] / got["bare"]["tps"])
            tuned_ratios.append(got["engine"]["tps"] / got["bare-tuned"]["tps"])
        eng, bare, tuned = (statistics.median(runs[side]) for side in sides)
        ratio, tuned_ratio = statistics.median(ratios), statistics.median(tuned_ratios)
        spread = f" (range {min(ratios):.2f}-{max(ratios):.2f})" if repeats > 1 else ""
        row(
            f"throughput @{level} concurrent ({total} threads)",
            f"{eng:.1f} threads/s",
            f"{bare:.1f} threads/s",
            f"**ratio {ratio:.2f}**{spread}; bare with the engine's PRAGMAs "
            f"{tuned:.1f} threads/s, ratio {tuned_ratio:.2f}; CPU per thread "
            f"{statistics.median(cpu['engine']):.1f} / {statistics.median(cpu['bare']):.1f} / "
            f"{statistics.median(cpu['bare-tuned']):.1f} ms",
            f">= {TARGET_RATIO:.1f}",
            verdict(ratio >= TARGET_RATIO),
        )

    # 2. approve -> executed
    for label, n_busy in (("idle", 0), (f"{busy} busy", busy)):
        lat = run_worker("latency", busy=n_busy, gated=gated, think=0.05, interval=0.2)
        extra = f"; busy load ran {lat['busy_tps']:.1f} threads/s" if n_busy else ""
        row(
            f"approve->ToolExecuted p50 / p99 ({label}, n={lat['n']})",
            f"{lat['p50_ms']:.1f} / {lat['p99_ms']:.1f} ms",
            "-",
            f"max {lat['max_ms']:.1f} ms; decide() itself p50 {lat['decide_p50_ms']:.1f} / "
            f"p99 {lat['decide_p99_ms']:.1f} ms{extra}",
            f"p99 < {TARGET_P99_MS:.0f} ms",
            verdict(lat["p99_ms"] < TARGET_P99_MS),
        )

    # 3. listing pending approvals on a fresh start
    scratch = Path(tempfile.mkdtemp(prefix="hitl-bench-pending-"))
    try:
        home = scratch / "home"
        made = run_worker("make_pending", home=str(home), n=n_pending)
        hitl = Path(sys.executable).parent / "hitl"
        cli_walls = []
        for _ in range(3):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [str(hitl), "pending", "--json"],
                capture_output=True,
                text=True,
                env=os.environ | {"HITL_HOME": str(home)},
                timeout=120,
            )
            cli_walls.append(time.perf_counter() - t0)
            listed = len(json.loads(proc.stdout)) if proc.returncode == 0 else -1
            if listed != n_pending:
                raise RuntimeError(f"hitl pending listed {listed}: {proc.stderr[-2000:]}")
        cli = statistics.median(cli_walls)
        row(
            f"`hitl pending --json`, {n_pending} pending, wall",
            f"{cli * 1000:.0f} ms",
            "-",
            f"median of 3 (min {min(cli_walls) * 1000:.0f} ms); making them took "
            f"{made['seconds']:.1f} s, peak RSS {made['peak_rss_mb']:.0f} MB",
            f"< {TARGET_LIST_S:.0f} s",
            verdict(cli < TARGET_LIST_S),
        )
        opens = [run_worker("open_pending", home=str(home)) for _ in range(3)]
        for o in opens:
            if o["n"] != n_pending:
                raise RuntimeError(f"Engine.pending() listed {o['n']}, not {n_pending}")
        op = statistics.median(o["open_pending_s"] for o in opens)
        imp = statistics.median(o["import_s"] for o in opens)
        wall = statistics.median(o["wall_s"] for o in opens)
        row(
            f"Engine.open + pending(), {n_pending} pending, fresh process",
            f"{op * 1000:.0f} ms",
            "-",
            f"open {statistics.median(o['open_s'] for o in opens) * 1000:.0f} + pending "
            f"{statistics.median(o['pending_s'] for o in opens) * 1000:.0f} ms; "
            f"+ import engine.engine {imp * 1000:.0f} ms; process wall {wall * 1000:.0f} ms",
            f"< {TARGET_LIST_S:.0f} s",
            verdict(op < TARGET_LIST_S),
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    # 4. memory
    mem = {side: run_worker("rss", side=side, n=n_rss) for side in ("engine", "bare")}
    row(
        f"peak RSS, {n_rss} concurrent threads",
        f"{mem['engine']['peak_rss_mb']:.0f} MB",
        f"{mem['bare']['peak_rss_mb']:.0f} MB",
        f"after imports {mem['engine']['rss_after_import_mb']:.0f} / "
        f"{mem['bare']['rss_after_import_mb']:.0f} MB; run {mem['engine']['tps']:.1f} / "
        f"{mem['bare']['tps']:.1f} threads/s",
        f"< {TARGET_RSS_MB:.0f} MB",
        verdict(mem["engine"]["peak_rss_mb"] < TARGET_RSS_MB),
    )

    header = ["measure", "engine", "bare LangGraph", "comparison / detail", "target", "met"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] * len(header)) + "|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")
    print(f"\ntotal bench time {time.perf_counter() - started:.0f} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a fast check")
    parser.add_argument("--repeats", type=int, default=0, help="repeats per throughput level")
    parser.add_argument("--profile", action="store_true", help="profile engine vs bare instead")
    parser.add_argument("--profile-threads", type=int, default=100)
    parser.add_argument("--profile-repeats", type=int, default=3)
    parser.add_argument("--profile-busy", type=int, default=200)
    parser.add_argument("--profile-dir", default=str(Path(tempfile.gettempdir()) / "hitl-profile"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        worker = w_profile if spec["kind"] == "profile" else WORKERS[spec["kind"]]
        result = asyncio.run(worker(**spec["kwargs"]))
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0
    if args.profile:
        print_profile(args)
    else:
        main_table(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
