"""Engine benchmark: this engine against bare LangGraph, side by side in one run.

    .venv/bin/python bench/engine.py            # full run (tens of minutes on 2 cores)
    .venv/bin/python bench/engine.py --profile  # where the time goes at 100 threads
    .venv/bin/python bench/engine.py --quick    # both, tiny: a smoke run (CI), not numbers
    .venv/bin/python bench/engine.py --only cycle,latency --latency-runs 5
    .venv/bin/python bench/engine.py --postgres postgresql://user@host/db  # PG columns

The PostgreSQL columns run where ``--postgres`` or ``$HITL_TEST_POSTGRES_URL`` names a
server that answers (each measurement in a database of its own, made there and dropped
afterwards); elsewhere they are shown as n/a.

What is measured (every measurement runs in its own fresh subprocess and a fresh
temporary home / SQLite file, so no run inherits another's heap, caches or database):

1. Throughput, threads per second, at 1, 10, 100 and 500 concurrent threads, of the
   same agent graph and the same scripted model (no think delay), run by

   * the engine: ``Engine.open(home)``, ``engine.start(task)`` per thread, then
     ``engine.wait()``; and by
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
   (imports, a 2-thread run in a scratch home) and runs one thread on its own graph and
   database before the clock starts. Levels are repeated and the order of the sides
   rotates per repeat; the table gives medians, the median of the per-repeat ratios
   (engine / bare), and the process CPU time (user + system, all threads) per thread,
   which a noisy shared machine disturbs less than wall time.

2. The approval cycle, the product's hot path (bench/cycle.py, bench/cycle_table.py),
   threads per second at 1, 10, 100 and 500 concurrent threads. Per thread: "email the
   report to boss@company.com" -> the scripted model asks for ``send_email`` (medium)
   -> pause -> approve -> the tool writes its ``.eml`` -> final answer. Five sides:

   * the engine on SQLite (``durability="full"`` where ``EngineOptions`` has it) and
     on PostgreSQL (a fresh ``hitl_bench_<random>`` database as the home's
     ``database_url``): ``engine.start(task)`` for the round's threads at once
     (gathered), each ``ApprovalRequested`` seen on ``engine.subscribe()`` approved at
     once with ``engine.decide(id, Approve())`` in a task of its own, until every thread
     has sent ``ThreadFinished``;
   * bare LangGraph (bench/bare_graph.py with ``gated``: ``interrupt()`` in the tool
     node where the engine's gate pauses, for calls the default policy does not rate
     low) on ``InMemorySaver``, on the stock ``AsyncSqliteSaver.from_conn_string`` (its
     own PRAGMAs) and on the stock ``AsyncPostgresSaver.from_conn_string`` + ``setup()``
     (a fresh database): ``asyncio.gather`` of threads that each ``ainvoke`` and, as
     soon as the interrupt comes back, ``ainvoke(Command(resume={id: approve}))``.

   Each side runs in a fresh process after a warm-up (2 threads in a scratch home and,
   on PostgreSQL, a scratch database) and one thread before the clock; every thread
   must have written its email. Repeats rotate the order of the sides. Printed:
   threads/s and CPU ms per thread (median, min-max), and the ratios engine SQLite /
   stock SQLite, engine SQLite / InMemory and engine PG / stock PG taken within each
   repeat (median, min-max), beside the targets (>= 1.3, >= 0.6, >= 1.3; CPU <= 8 ms
   per cycle on SQLite). CPU is the benchmark process's; PostgreSQL's own is not in it.

3. Approve-to-tool-executed latency: N threads on a gated (medium) task, "email the
   report to boss@company.com", pause on one approval each; then, one after another,
   ``engine.decide(id, Approve())`` is called and the time until the matching
   ``ToolExecuted`` event arrives on ``engine.subscribe()`` is taken. Measured idle and
   with a busy load of low-tier threads on an engine whose scripted model thinks 50 ms
   per turn: by default the load the target names, 200 threads busy at once (200
   closed loops, each starting a low-tier thread and waiting for it, back to back: the
   engine is saturated, however fast it is); ``--busy-rate R`` gives an open loop
   instead, one new thread every 1/R s whatever the engine's pace, at most 200 in
   flight (on a quiet machine only a few are then in flight at once). The loaded
   run is repeated ``--latency-runs K`` times, each in a fresh process: each run's
   p50 / p99 / max is shown, and the worst p99 is judged (the target must hold in every
   run, not in the best).

4. Listing 1,000 pending approvals on a fresh start: 1,000 gated threads are left
   pending and the engine closed; then (a) ``HITL_HOME=... hitl pending --json`` is run
   as a subprocess (wall time, interpreter start included), and (b) a fresh subprocess
   times ``Engine.open`` + ``await engine.pending()`` (imports excluded, shown apart).

5. Peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) of a subprocess that runs
   1,000 concurrent low-tier threads, engine and (for reference) bare. (The engine's
   threads are started one ``start()`` at a time, so fewer are in flight at the peak
   than on the bare side, which starts all 1,000 ``ainvoke`` at once.)

The engine is used through its public API only; ``gc.freeze()`` is called before it
opens, as the ``hitl`` command does.

``--profile`` looks at the engine's storage as it is now: SQLite owned by one database
thread (``engine.storage.database.DatabaseThread``: a priority queue, one hop per
transaction), LangGraph's sync ``SqliteSaver`` run on that thread, and graph runs
holding one of ``EngineOptions.run_slots`` run slots (decisions first). In fresh
subprocesses it runs:

* 100 concurrent engine threads observed by ``bench.probe.Probe`` (an
  ``engine.observe.Observer``, given as ``EngineOptions.observer``): every hop by
  caller, with its time queued for the database thread, on it and waking up after;
  run-slot waits by priority; hops per thread;
* the same 100 threads on each side, engine and bare, under cProfile (main-thread CPU
  by package and top functions; the database thread is not profiled) and pyinstrument
  (call trees, written to ``--profile-dir``, when pyinstrument is installed);
* "what-if" runs of the engine with another ``run_slots``;
* the approve path under 200 busy threads with the same probe plus an event-loop lag
  sampler: each approve->ToolExecuted window split into run-slot waits, hop queueing,
  hop running, hop wake-up and the rest.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ is on the path, the root is not
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cycle_table import measure_cycle
from bench.report import (
    machine_info,
    print_cprofile,
    print_hops,
    print_latency_probe,
    print_table,
    print_variants,
    verdict,
)
from bench.workers import run_worker, serve
from bench.workloads import SIDES

TARGET_RATIO = 1.0
TARGET_P99_MS = 100.0
TARGET_LIST_S = 1.0
TARGET_RSS_MB = 300.0
THINK = 0.05
"""Seconds the scripted model thinks per turn in the approval measurements."""


@dataclass(frozen=True, slots=True)
class Sizes:
    levels: dict[int, int]
    """Concurrency -> threads run at that level."""
    cycle_levels: dict[int, int]
    """The same, for the approval cycle."""
    repeats: int
    busy: int
    gated: int
    interval: float
    """Seconds between approvals."""
    settle: float
    """Seconds the busy load runs before the approvals."""
    busy_rate: float
    """Busy threads started per second (open loop, at most ``busy`` in flight); 0: ``busy``
    closed loops, all of them busy at once (the default: the load the target names)."""
    pending: int
    listings: int
    """Runs of each listing (``hitl pending``, ``Engine.open`` + ``pending()``)."""
    rss: int
    profile_threads: int
    profile_repeats: int
    profile_busy: int
    profile_gated: int
    slot_variants: tuple[int, ...]


FULL = Sizes(
    levels={1: 50, 10: 100, 100: 200, 500: 500},
    cycle_levels={1: 30, 10: 100, 100: 200, 500: 500},
    repeats=3,
    busy=200,
    gated=100,
    interval=0.2,
    settle=2.0,
    busy_rate=0.0,
    pending=1000,
    listings=3,
    rss=1000,
    profile_threads=100,
    profile_repeats=3,
    profile_busy=200,
    profile_gated=40,
    slot_variants=(1, 16),
)
QUICK = Sizes(
    levels={5: 10},
    cycle_levels={5: 10},
    repeats=1,
    busy=8,
    gated=4,
    interval=0.05,
    settle=0.3,
    busy_rate=0.0,
    pending=10,
    listings=1,
    rss=10,
    profile_threads=8,
    profile_repeats=1,
    profile_busy=8,
    profile_gated=4,
    slot_variants=(1,),
)


class Table:
    """The main table's rows, echoed to stderr as they come (a full run takes minutes)."""

    HEADER = ("measure", "engine", "bare LangGraph", "comparison / detail", "target", "met")

    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def row(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])
        print("  .. " + " | ".join(self.rows[-1]), file=sys.stderr)

    def print(self) -> None:
        print_table(self.HEADER, self.rows, len(self.HEADER))


def measure_throughput(table: Table, sizes: Sizes, repeats: int) -> None:
    for level, total in sizes.levels.items():
        runs: dict[str, list[float]] = {side: [] for side in SIDES}
        cpu: dict[str, list[float]] = {side: [] for side in SIDES}
        ratios, tuned_ratios = [], []
        for rep in range(repeats):
            order = SIDES[rep % 3 :] + SIDES[: rep % 3]  # each side in each slot once
            got = {
                side: run_worker("throughput", side=side, concurrency=level, total=total)
                for side in order
            }
            for side in order:
                runs[side].append(got[side]["tps"])
                cpu[side].append(got[side]["cpu_ms"])
            ratios.append(got["engine"]["tps"] / got["bare"]["tps"])
            tuned_ratios.append(got["engine"]["tps"] / got["bare-tuned"]["tps"])
        eng, bare, tuned = (statistics.median(runs[side]) for side in SIDES)
        ratio, tuned_ratio = statistics.median(ratios), statistics.median(tuned_ratios)
        spread = f" (range {min(ratios):.2f}-{max(ratios):.2f})" if repeats > 1 else ""
        cpus = " / ".join(f"{statistics.median(cpu[side]):.1f}" for side in SIDES)
        table.row(
            f"throughput @{level} concurrent ({total} threads)",
            f"{eng:.1f} threads/s",
            f"{bare:.1f} threads/s",
            f"**ratio {ratio:.2f}**{spread}; bare with the engine's PRAGMAs "
            f"{tuned:.1f} threads/s, ratio {tuned_ratio:.2f}; CPU per thread {cpus} ms",
            f">= {TARGET_RATIO:.1f}",
            verdict(ratio >= TARGET_RATIO),
        )


def run_latency(sizes: Sizes, busy: int, gated: int, probed: bool = False) -> dict[str, Any]:
    """The approve path of ``gated`` approvals under ``busy`` threads (``workers.latency``)."""
    return run_worker(
        "latency",
        busy=busy,
        gated=gated,
        think=THINK,
        interval=sizes.interval,
        settle=sizes.settle,
        probed=probed,
        busy_rate=sizes.busy_rate,
    )


def measure_latency(table: Table, sizes: Sizes, runs: int) -> None:
    """Idle once; under load ``runs`` times, each in a fresh process, every run's row
    shown and the worst p99 judged (the target must hold in every run)."""
    load = (
        f"busy {sizes.busy_rate:g} threads/s open loop, <= {sizes.busy} in flight"
        if sizes.busy_rate
        else f"{sizes.busy} busy threads, closed loop"
    )
    loaded = [(f"{load}, run {i + 1} of {runs}", sizes.busy) for i in range(runs)]
    worst = 0.0
    for label, busy in [("idle", 0), *loaded]:
        lat = run_latency(sizes, busy, sizes.gated)
        worst = max(worst, lat["p99_ms"]) if busy else worst
        extra = (
            f"; busy load ran {lat['busy_tps']:.1f} threads/s, "
            f"{lat.get('busy_in_flight', busy):.0f} in flight"
            if busy
            else ""
        )
        table.row(
            f"approve->ToolExecuted p50 / p99 ({label}, n={lat['n']})",
            f"{lat['p50_ms']:.1f} / {lat['p99_ms']:.1f} ms",
            "-",
            f"max {lat['max_ms']:.1f} ms; decide() itself p50 {lat['decide_p50_ms']:.1f} / "
            f"p99 {lat['decide_p99_ms']:.1f} ms{extra}",
            f"p99 < {TARGET_P99_MS:.0f} ms",
            verdict(lat["p99_ms"] < TARGET_P99_MS),
        )
    if runs > 1:
        table.row(
            f"approve->ToolExecuted, worst p99 of {runs} runs ({load})",
            f"{worst:.1f} ms",
            "-",
            "each run a fresh process and home",
            f"p99 < {TARGET_P99_MS:.0f} ms in every run",
            verdict(worst < TARGET_P99_MS),
        )


def hitl_pending(home: Path, expected: int) -> float:
    """Wall seconds of ``hitl pending --json`` in a subprocess; checks what it listed."""
    hitl = Path(sys.executable).parent / "hitl"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(hitl), "pending", "--json"],
        capture_output=True,
        text=True,
        env=os.environ | {"HITL_HOME": str(home)},
        timeout=120,
    )
    wall = time.perf_counter() - t0
    listed = len(json.loads(proc.stdout)) if proc.returncode == 0 else -1
    if listed != expected:
        raise RuntimeError(f"hitl pending listed {listed}: {proc.stderr[-2000:]}")
    return wall


def measure_listing(table: Table, sizes: Sizes) -> None:
    n = sizes.pending
    scratch = Path(tempfile.mkdtemp(prefix="hitl-bench-pending-"))
    try:
        home = scratch / "home"
        made = run_worker("make_pending", home=str(home), n=n)
        walls = [hitl_pending(home, n) for _ in range(sizes.listings)]
        cli = statistics.median(walls)
        table.row(
            f"`hitl pending --json`, {n} pending, wall",
            f"{cli * 1000:.0f} ms",
            "-",
            f"median of {len(walls)} (min {min(walls) * 1000:.0f} ms); making them took "
            f"{made['seconds']:.1f} s, peak RSS {made['peak_rss_mb']:.0f} MB",
            f"< {TARGET_LIST_S:.0f} s",
            verdict(cli < TARGET_LIST_S),
        )
        opens = [run_worker("open_pending", home=str(home)) for _ in range(sizes.listings)]
        for o in opens:
            if o["n"] != n:
                raise RuntimeError(f"Engine.pending() listed {o['n']}, not {n}")

        def median(key: str) -> float:
            return float(statistics.median(o[key] for o in opens)) * 1000

        table.row(
            f"Engine.open + pending(), {n} pending, fresh process",
            f"{median('open_pending_s'):.0f} ms",
            "-",
            f"open {median('open_s'):.0f} + pending {median('pending_s'):.0f} ms; + import "
            f"engine.engine {median('import_s'):.0f} ms; process wall {median('wall_s'):.0f} ms",
            f"< {TARGET_LIST_S:.0f} s",
            verdict(median("open_pending_s") < TARGET_LIST_S * 1000),
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def measure_memory(table: Table, sizes: Sizes) -> None:
    mem = {side: run_worker("memory", side=side, n=sizes.rss) for side in ("engine", "bare")}
    eng, bare = mem["engine"], mem["bare"]
    table.row(
        f"peak RSS, {sizes.rss} concurrent threads",
        f"{eng['peak_rss_mb']:.0f} MB",
        f"{bare['peak_rss_mb']:.0f} MB",
        f"after imports {eng['rss_after_import_mb']:.0f} / {bare['rss_after_import_mb']:.0f} "
        f"MB; run {eng['tps']:.1f} / {bare['tps']:.1f} threads/s",
        f"< {TARGET_RSS_MB:.0f} MB",
        verdict(eng["peak_rss_mb"] < TARGET_RSS_MB),
    )


TABLES = ("throughput", "cycle", "latency", "listing", "memory")
"""What a run measures (``--only``): the low-tier throughput, the approval cycle, the
approve->executed latency, the listing of pending approvals, peak memory."""


def main_table(sizes: Sizes, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    repeats, only = args.repeats or sizes.repeats, set(args.only.split(","))
    print(machine_info())
    print(f"mode: {'quick' if args.quick else 'full'}; {repeats} repeat(s) per level\n")
    if "throughput" in only:
        print(
            "bare LangGraph = same graph shape and scripted model on the stock "
            "AsyncSqliteSaver (from_conn_string: WAL, synchronous=FULL);\nthe engine's "
            "connection may use synchronous=NORMAL, so 'bare with the engine's PRAGMAs' is "
            "also shown.\n"
        )
    sys.stdout.flush()
    table = Table()
    if "throughput" in only:
        measure_throughput(table, sizes, repeats)
    if "latency" in only:
        measure_latency(table, sizes, args.latency_runs)
    if "listing" in only:
        measure_listing(table, sizes)
    if "memory" in only:
        measure_memory(table, sizes)
    if table.rows:
        table.print()
    if "cycle" in only:
        measure_cycle(sizes.cycle_levels, repeats, args.postgres)
    print(f"\ntotal bench time {time.perf_counter() - started:.0f} s\n")


def print_profile(sizes: Sizes, n: int, repeats: int, busy: int, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    print(machine_info())
    print(f"\n## Profile at {n} concurrent threads (files in {out})\n")
    probed = run_worker("profile", side="engine", n=n, tool="probe", out_dir=str(out))
    print(
        f"### engine: database hops ({probed['tps']:.1f} threads/s, "
        f"{probed['seconds']:.2f} s, probed)\n"
    )
    print_hops(probed, n)
    tools = ["cprofile"] + (["pyinstrument"] if importlib.util.find_spec("pyinstrument") else [])
    for tool in tools:
        for side in ("engine", "bare"):
            got = run_worker("profile", side=side, n=n, tool=tool, out_dir=str(out))
            if tool == "cprofile":
                print_cprofile(side, got, n)
    variants: list[tuple[str, str, int]] = [
        ("engine", "engine", 0),
        *((f"engine + slots={k}", "engine", k) for k in sizes.slot_variants),
        ("bare", "bare", 0),
    ]
    tps: list[list[float]] = [[] for _ in variants]
    cpu: list[list[float]] = [[] for _ in variants]
    for rep in range(repeats):
        order = list(range(len(variants)))
        if rep % 2:
            order.reverse()
        for i in order:
            _, side, run_slots = variants[i]
            got = run_worker("throughput", side=side, concurrency=n, total=n, run_slots=run_slots)
            tps[i].append(got["tps"])
            cpu[i].append(got["cpu_ms"])
    print_variants(n, [label for label, _, _ in variants], tps, cpu)
    print_latency_probe(run_latency(sizes, busy, sizes.profile_gated, probed=True), busy)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, every table: a smoke run")
    parser.add_argument("--repeats", type=int, default=0, help="repeats per level")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("HITL_TEST_POSTGRES_URL"),
        help="PostgreSQL server for the cycle's PostgreSQL columns (a fresh database per "
        "measurement is made there and dropped); default $HITL_TEST_POSTGRES_URL",
    )
    parser.add_argument(
        "--latency-runs", type=int, default=1, help="fresh-process runs of the loaded latency"
    )
    parser.add_argument(
        "--only", default=",".join(TABLES), help=f"comma-separated subset of {','.join(TABLES)}"
    )
    parser.add_argument(
        "--busy-rate",
        type=float,
        default=None,
        help="busy threads started per second in the latency runs (an open loop, at most "
        "200 in flight); default 0: 200 closed loops, 200 threads busy at once",
    )
    parser.add_argument("--profile", action="store_true", help="profile engine vs bare instead")
    parser.add_argument("--profile-threads", type=int, default=0)
    parser.add_argument("--profile-repeats", type=int, default=0)
    parser.add_argument("--profile-busy", type=int, default=0)
    parser.add_argument("--profile-dir", default=str(Path(tempfile.gettempdir()) / "hitl-profile"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return serve(args.worker)
    if unknown := set(args.only.split(",")) - set(TABLES):
        parser.error(f"--only: no table {', '.join(sorted(unknown))}; known: {', '.join(TABLES)}")
    sizes = QUICK if args.quick else FULL
    if args.busy_rate is not None:
        if args.busy_rate < 0:
            parser.error("--busy-rate: a rate of threads per second, 0 or more")
        sizes = dataclasses.replace(sizes, busy_rate=args.busy_rate)
    if not args.profile:
        main_table(sizes, args)
    if args.profile or args.quick:
        print_profile(
            sizes,
            args.profile_threads or sizes.profile_threads,
            args.profile_repeats or sizes.profile_repeats,
            args.profile_busy or sizes.profile_busy,
            Path(args.profile_dir),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
