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

The engine side touches three private attributes, in this file only: ``_graph`` (to
compile before the clock) and, for the probes, ``_saver`` / ``_store`` (to swap in an
instrumented lock).

``--profile`` runs 100 concurrent threads on each side in-process with the shared
SQLite lock and the aiosqlite connection instrumented (lock wait and hold time by
caller, SQLite round trips per thread and their time in the worker thread), then under
cProfile (main-thread CPU by package, top functions) and pyinstrument (call trees,
written to ``--profile-dir``, when pyinstrument is installed); then "what-if" runs with
one engine cost patched out in the subprocess (journal, leases, the saver's per-call
setup lock), and the approve path under 200 busy threads with its lock waits traced.
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


async def engine_round(engine: Any, n: int) -> None:
    for _ in range(n):
        await engine.start(LOW_TASK)
    await engine.wait()


async def run_rounds(side: str, home: Path, concurrency: int, total: int) -> dict[str, Any]:
    """Starts ``concurrency`` threads at a time until ``total`` ran; times the runs only."""
    rounds = max(1, total // concurrency)
    if side == "engine":
        from engine.engine import Engine

        async with Engine.open(home, watch=True) as engine:
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
    busy: int, gated: int, think: float, interval: float, probe_lock: bool = False
) -> dict[str, Any]:
    from engine import Approve
    from engine.engine import Engine
    from engine.events import ApprovalRequested, ToolExecuted

    probe = Probe() if probe_lock else None
    if probe:
        drive = Engine._drive

        async def _drive(self: Any, thread_id: str, first: Any) -> None:
            PROBE_THREAD.set(thread_id)  # inherited by the tasks LangGraph starts
            await drive(self, thread_id, first)

        Engine._drive = _drive  # type: ignore[method-assign]
    with fresh_home() as home:
        async with Engine.open(home, watch=True, think_seconds=think) as engine:
            engine._graph("scripted")
            if probe:
                lock = probe.lock()
                engine._saver.lock = lock
                engine._store.lock = lock
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
                    thread = await engine.start(LOW_TASK)
                    await engine.wait(thread.id)
                    finished += 1

            consumer = asyncio.create_task(consume())
            slots = [asyncio.create_task(busy_slot()) for _ in range(busy)]
            await asyncio.sleep(2.0 if busy else 0.0)  # let the busy load reach steady state
            for _ in range(gated):
                gated_ids.add((await engine.start(GATED_TASK)).id)
            async with asyncio.timeout(300):
                await all_requested.wait()
            pending = [a for a in await engine.pending() if a.thread_id in gated_ids]
            if len(pending) != gated:
                raise RuntimeError(f"expected {gated} pending approvals, found {len(pending)}")
            total, decide_call, acquisitions, waited = [], [], [], []
            paths: list[list[str]] = []
            busy_before, t_start = finished, time.perf_counter()
            if probe:
                probe.watch = set(gated_ids)

            async def approve(approval: Any) -> None:
                fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
                waiting[approval.thread_id] = fut
                PROBE_THREAD.set(approval.thread_id)
                t0 = time.perf_counter()
                await engine.decide(approval.id, Approve(), operator="bench")
                t1 = time.perf_counter()
                async with asyncio.timeout(120):
                    t2 = await fut
                total.append((t2 - t0) * 1000)
                decide_call.append((t1 - t0) * 1000)
                if probe:
                    seen = [
                        (start, min(end, t2), caller)
                        for start, end, caller in probe.by_thread[approval.thread_id]
                        if t0 <= start <= t2
                    ]
                    spans = sorted((start, end) for start, end, _ in seen)
                    paths.append([caller for _, _, caller in sorted(seen)])
                    acquisitions.append(len(spans))
                    waited.append(union_length(spans) * 1000)

            # Open loop: one approval every ``interval`` seconds, each timed on its own,
            # so a slow one does not hold back the next (as several operators would).
            approvals = []
            for approval in pending:
                approvals.append(asyncio.create_task(approve(approval)))
                await asyncio.sleep(interval)
            await asyncio.gather(*approvals)
            busy_tps = (finished - busy_before) / (time.perf_counter() - t_start)
            stop = True
            for task in [*slots, consumer]:
                task.cancel()
            await asyncio.gather(*slots, consumer, return_exceptions=True)
            sub.close()
    return {
        "n": len(total),
        "p50_ms": percentile(total, 0.50),
        "p99_ms": percentile(total, 0.99),
        "max_ms": max(total),
        "decide_p50_ms": percentile(decide_call, 0.50),
        "decide_p99_ms": percentile(decide_call, 0.99),
        "busy_tps": busy_tps,
    } | (
        {
            "lock_acquisitions_p50": percentile(acquisitions, 0.5),
            "lock_wait_p50_ms": percentile(waited, 0.5),
            "lock_wait_share": sum(waited) / sum(total),
            "path": statistics.mode(" > ".join(p) for p in paths),
            "lock_wait_mean_ms": 1000
            * sum(v[1] for v in probe.lock_stats.values())
            / sum(v[0] for v in probe.lock_stats.values()),
        }
        if probe
        else {}
    )


async def w_make_pending(home: str, n: int) -> dict[str, Any]:
    from engine.engine import Engine

    t0 = time.perf_counter()
    async with Engine.open(Path(home), watch=False) as engine:
        for _ in range(n):
            await engine.start(GATED_TASK)
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
    from engine.store import Store

    async def append_journal(self: Any, records: Sequence[Any]) -> list[bool]:
        return [True] * len(records)

    Store.append_journal = append_journal  # type: ignore[method-assign]


def _no_leases() -> None:
    from engine.store import Store

    async def acquire_lease(self: Any, thread_id: str) -> bool:
        return True

    async def release_lease(self: Any, thread_id: str) -> None:
        return None

    Store.acquire_lease = acquire_lease  # type: ignore[method-assign]
    Store.release_lease = release_lease  # type: ignore[method-assign]


def _setup_once() -> None:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    setup = AsyncSqliteSaver.setup

    async def once(self: Any) -> None:
        if not self.is_setup:  # the stock one takes the shared lock just to check this
            await setup(self)

    AsyncSqliteSaver.setup = once  # type: ignore[method-assign]


ABLATIONS: dict[str, Callable[[], None]] = {
    "no-journal": _no_journal,
    "no-leases": _no_leases,
    "setup-once": _setup_once,
}
"""What-if patches, applied in a profile subprocess only: each removes one cost."""


async def w_ablation(side: str, n: int, patches: Sequence[str]) -> dict[str, Any]:
    for name in patches:
        ABLATIONS[name]()
    await warm_up(side)
    with fresh_home() as home:
        return await run_rounds(side, home, n, n)


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


class Probe:
    """Instruments the shared asyncio lock and an aiosqlite connection."""

    SKIP = frozenset({"acquire", "__aenter__", "_all", "_one", "_write"})

    def __init__(self) -> None:
        self.watch: set[str] = set()
        self.by_thread: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
        """(start, end, caller) of each wait for the lock, per watched thread."""
        self.lock_stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        self.ops: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        self.statements: dict[str, int] = defaultdict(int)

    def lock(self) -> asyncio.Lock:
        probe = self

        class TimedLock(asyncio.Lock):
            holder = ""
            since = 0.0

            async def acquire(self) -> bool:
                frame = sys._getframe(1)
                while frame is not None and frame.f_code.co_name in Probe.SKIP:
                    frame = frame.f_back  # type: ignore[assignment]
                caller = "?"
                if frame is not None:
                    module = Path(frame.f_code.co_filename).stem
                    caller = f"{module}.{frame.f_code.co_name}"
                t0 = time.perf_counter()
                got = await super().acquire()
                now = time.perf_counter()
                stats = probe.lock_stats[caller]
                stats[0] += 1
                stats[1] += now - t0
                if probe.watch and (thread := PROBE_THREAD.get()) in probe.watch:
                    probe.by_thread[thread].append((t0, now, caller))
                self.holder, self.since = caller, now
                return got

            def release(self) -> None:
                probe.lock_stats[self.holder][2] += time.perf_counter() - self.since
                super().release()

        return TimedLock()

    def connection(self, conn: Any) -> None:
        """Counts every round trip to the aiosqlite worker thread, with its times."""
        original = conn._execute
        probe = self

        async def _execute(fn: Any, *args: Any, **kwargs: Any) -> Any:
            name = getattr(fn, "__name__", type(fn).__name__)
            if name in ("execute", "executemany") and args:
                words = str(args[0]).split()
                probe.statements[" ".join(words[:3])[:40]] += 1
            worker = [0.0]

            def timed() -> Any:
                t = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    worker[0] = time.perf_counter() - t

            t0 = time.perf_counter()
            try:
                return await original(timed)
            finally:
                stats = probe.ops[name]
                stats[0] += 1
                stats[1] += time.perf_counter() - t0
                stats[2] += worker[0]

        conn._execute = _execute


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
                    lock = probe.lock()
                    engine._saver.lock = lock
                    engine._store.lock = lock
                    probe.connection(engine._saver.conn)
                t0 = time.perf_counter()
                await engine_round(engine, n)
                elapsed = time.perf_counter() - t0
        else:
            async with bare_graph(home) as (graph, saver):
                if probe:
                    saver.lock = probe.lock()
                    probe.connection(saver.conn)
                t0 = time.perf_counter()
                await BareRunner(graph).round(n)
                elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "tps": n / elapsed}


async def w_profile(side: str, n: int, tool: str, out_dir: str) -> dict[str, Any]:
    await warm_up(side)
    out = Path(out_dir)
    if tool == "probe":
        probe = Probe()
        result = await profile_run(side, n, probe)
        return result | {
            "lock": {k: v for k, v in probe.lock_stats.items()},
            "ops": {k: v for k, v in probe.ops.items()},
            "statements": dict(probe.statements),
        }
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


def print_profile(args: argparse.Namespace) -> None:
    n = args.profile_threads
    out = Path(args.profile_dir)
    out.mkdir(parents=True, exist_ok=True)
    print(machine_info())
    print(f"\n## Profile at {n} concurrent threads (files in {out})\n")
    res: dict[tuple[str, str], dict[str, Any]] = {}
    tools = ["probe", "cprofile"]
    if importlib.util.find_spec("pyinstrument"):
        tools.append("pyinstrument")
    for tool in tools:
        for side in ("engine", "bare"):
            res[side, tool] = run_worker("profile", side=side, n=n, tool=tool, out_dir=str(out))
    for side in ("engine", "bare"):
        p = res[side, "probe"]
        print(f"### {side}: {p['tps']:.1f} threads/s ({p['seconds']:.2f} s, instrumented)\n")
        print("| lock caller | acquisitions | per thread | wait total s | hold total s |")
        print("|---|---:|---:|---:|---:|")
        lock = sorted(p["lock"].items(), key=lambda kv: -kv[1][2])
        for caller, (count, wait, hold) in lock:
            print(f"| {caller} | {count} | {count / n:.1f} | {wait:.2f} | {hold:.3f} |")
        count = sum(v[0] for v in p["lock"].values())
        hold = sum(v[2] for v in p["lock"].values())
        print(f"| **total** | {count} | {count / n:.1f} | | {hold:.3f} |\n")
        print("| aiosqlite round trip | count | per thread | await total s | in sqlite s |")
        print("|---|---:|---:|---:|---:|")
        for op, (count, waited, worker) in sorted(p["ops"].items(), key=lambda kv: -kv[1][0]):
            print(f"| {op} | {count} | {count / n:.1f} | {waited:.3f} | {worker:.3f} |")
        trips = sum(v[0] for v in p["ops"].values())
        print(f"| **total** | {trips} | {trips / n:.1f} | | |\n")
        print("| statement | count | per thread |")
        print("|---|---:|---:|")
        for stmt, count in sorted(p["statements"].items(), key=lambda kv: -kv[1])[:14]:
            print(f"| {stmt} | {count} | {count / n:.1f} |")
        c = res[side, "cprofile"]
        print(
            f"\ncProfile (slows both sides ~2x): {c['tps']:.1f} threads/s; main-thread CPU "
            f"{c['cpu_total']:.2f} s = {c['cpu_total'] / n * 1000:.1f} ms per thread, plus "
            f"{c['idle']:.2f} s idle in epoll; own time by package:"
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
        ("engine", ["setup-once"]),
        ("engine", ["no-journal", "no-leases", "setup-once"]),
        ("bare", []),
        ("bare", ["setup-once"]),
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
        "no-journal: Store.append_journal writes nothing; no-leases: acquire/release_lease "
        "do nothing;\nsetup-once: AsyncSqliteSaver.setup() stops taking the shared lock on "
        "every checkpointer call once set up.\n"
    )


def print_latency_probe(args: argparse.Namespace) -> None:
    busy = args.profile_busy
    lat = run_worker("latency", busy=busy, gated=40, think=0.05, interval=0.2, probe_lock=True)
    print(f"### Approve -> ToolExecuted with {busy} busy threads, lock instrumented\n")
    print(
        f"p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms (n={lat['n']}); decide() "
        f"p50 {lat['decide_p50_ms']:.0f} ms; busy load {lat['busy_tps']:.1f} threads/s.\n"
        f"Each approval's path (decide + the resumed runner up to ToolExecuted) took the "
        f"shared SQLite lock {lat['lock_acquisitions_p50']} times (p50), waiting "
        f"{lat['lock_wait_p50_ms']:.0f} ms in the lock queue (p50, overlapping waits of its "
        f"tasks counted once); some task of the path was waiting for the lock "
        f"{lat['lock_wait_share'] * 100:.0f}% of all approve->executed time. Mean wait per "
        f"acquisition across all threads: {lat['lock_wait_mean_ms']:.1f} ms.\n\n"
        f"Most common sequence of lock takers on the path:\n{lat['path']}\n"
    )


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
