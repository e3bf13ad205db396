"""Where one approval cycle's database hops and CPU go, phase by phase.

    .venv/bin/python bench/cycle_profile.py                  # 1 and 100 threads
    .venv/bin/python bench/cycle_profile.py --threads 1 --rounds 30
    .venv/bin/python bench/cycle_profile.py --tree before=/tmp/base --tree after=.

The cycle is the built-in agent's: ``start("email the report to boss@company.com")``
→ the scripted model asks for ``send_email`` (medium) → paused → ``decide(id,
Approve())`` → the tool runs → final answer. N threads go through it in lock step:
all start and pause, then all are decided (each ``decide`` in its own task) and run
to the end; that repeats ``--rounds`` times after one warm-up cycle.

Every hop to the SQLite database thread is told to an observer
(``EngineOptions.observer``) and put in a phase of its thread:

* start→paused: ``start()`` and the run up to the pause (and the lease let go);
* decide: the ``decide()`` call itself;
* decided→executed: the run ``decide`` kicked, up to the commit of ``ToolExecuted``;
* executed→done: the rest of that run;
* background: hops of no thread (the watcher, lease renewals).

A hop is a *commit* when it writes (a transaction, a checkpoint put), else a *read*.
CPU is the main thread's (``time.thread_time``), where the event loop and LangGraph
run; the database thread's own CPU is in "process CPU". Phases are timed one by one
only at 1 thread (at N they overlap: there the decide and later phases are one span).
The bare row is ``bench/bare_graph.py``'s graph (the same shape, no engine) on
LangGraph's ``InMemorySaver``, paused before its tool node (``interrupt_before``) and
resumed.

Each (tree, N) runs in a fresh interpreter; ``--tree LABEL=PATH`` runs this file as it
is found under PATH (copy it there for an older checkout) with PATH first on the path,
trees alternating per repeat, so two versions are compared side by side in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ is on the path, the root is not
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.messages import HumanMessage

from bench.probe import HOP_PLUMBING, HOP_RELAYS
from bench.report import print_table
from bench.workloads import GATED_TASK, cpu_seconds, fresh_home, open_engine
from engine.observe import Hop

PHASES = ("start→paused", "decide", "decided→executed", "executed→done")
BACKGROUND = "background"
PROFILER = "profiler"
"""The profiler's own reads (waiting for threads, listing them): not part of a cycle."""
WRITES = frozenset({"transaction", "returning", "script", "aput", "aput_writes", "adelete_thread"})
"""Names of the frames that put a hop on the database thread and commit."""
RESULT = "RESULT "

_driver: contextvars.ContextVar[str | None] = contextvars.ContextVar("cycle_phase", default=None)
"""The phase of a call the profiler makes itself (start, decide)."""
_thread: contextvars.ContextVar[str | None] = contextvars.ContextVar("cycle_thread", default=None)


def purpose(frame: FrameType | None) -> tuple[str, str]:
    """(who asked for a hop, as ``module.function``, through relays and storage; the
    storage function it went through)."""
    through = ""
    while frame is not None:
        name = frame.f_code.co_name
        if name not in HOP_PLUMBING:
            here = f"{Path(frame.f_code.co_filename).stem}.{name}"
            in_storage = Path(frame.f_code.co_filename).parent.name == "storage"
            if name not in HOP_RELAYS and not in_storage:
                return here, through
            if not through and name not in HOP_RELAYS:
                through = here
        frame = frame.f_back
    return "?", through


class CycleProbe:
    """An ``engine.observe.Observer`` that sorts hops by phase and caller."""

    def __init__(self) -> None:
        self.phase_of: dict[str, str] = {}
        self.clear()

    def clear(self) -> None:
        self.hops: dict[tuple[str, str, bool], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        """(phase, caller, commit) -> [count, on the database thread s, queued s]."""
        self.executed_cpu: list[float] = []

    def run_started(self, thread_id: str) -> None:
        _thread.set(thread_id)
        _driver.set(None)  # a run kicked from decide() is not part of the call
        self.phase_of.setdefault(thread_id, PHASES[0])

    def slot_taken(self, priority: int, asked: float, taken: float) -> None:
        pass

    def hop(self, hop: Hop) -> None:
        who, through = purpose(hop.caller)
        thread = _thread.get()
        phase = _driver.get() or (self.phase_of.get(thread, BACKGROUND) if thread else BACKGROUND)
        commit = hop.caller is not None and hop.caller.f_code.co_name in WRITES
        label = f"{who} [{through}]" if through else who
        stats = self.hops[(phase, label, commit)]
        stats[0] += 1
        stats[1] += hop.ended - hop.started
        stats[2] += hop.started - hop.queued
        if who == "once._finish" and thread is not None:  # ToolExecuted is committed
            self.phase_of[thread] = PHASES[3]
            self.executed_cpu.append(time.thread_time())


async def engine_cycles(n: int, rounds: int) -> dict[str, Any]:
    """``rounds`` rounds of ``n`` cycles at once on a fresh engine, after one warm-up."""
    from engine import Approve

    probe = CycleProbe()
    cpu: dict[str, float] = defaultdict(float)
    with fresh_home() as home:
        async with open_engine(home, observer=probe) as engine:

            async def start_one() -> str:
                _driver.set(PHASES[0])
                thread = await engine.start(GATED_TASK)
                _driver.set(PROFILER)
                await engine.wait(thread.id)
                return thread.id

            async def decide_one(thread_id: str, approval_id: str) -> None:
                _driver.set(PHASES[1])
                await engine.decide(approval_id, Approve(), operator="bench")
                probe.phase_of[thread_id] = PHASES[2]

            async def one_round() -> tuple[float, float, float, float, float]:
                _driver.set(PROFILER)
                t0, p0 = time.thread_time(), cpu_seconds()
                threads = set(await asyncio.gather(*(start_one() for _ in range(n))))
                t1 = time.thread_time()
                pending = [a for a in await engine.pending() if a.thread_id in threads]
                if len(pending) != n:
                    raise RuntimeError(f"{len(pending)} of {n} threads paused")
                t_read = time.thread_time()
                await asyncio.gather(*(decide_one(a.thread_id, a.id) for a in pending))
                t2 = time.thread_time()
                await engine.wait()
                t3 = time.thread_time()
                done = [t for t in await engine.threads("done") if t.id in threads]
                if len(done) != n:
                    raise RuntimeError(f"{len(done)} of {n} threads finished")
                executed = probe.executed_cpu[-1] if n == 1 else t2
                return t1 - t0, t2 - t_read, executed - t2, t3 - executed, cpu_seconds() - p0

            await one_round()  # warm-up: the graph built, caches filled
            probe.clear()
            for _ in range(rounds):
                parts = await one_round()
                for phase, seconds in zip((*PHASES, "process"), parts, strict=True):
                    cpu[phase] += seconds
    cycles = n * rounds
    return {
        "cycles": cycles,
        "hops": [[*key, *value] for key, value in probe.hops.items()],
        "cpu_ms": {k: v / cycles * 1000 for k, v in cpu.items()},
    }


async def bare_cycles(n: int, rounds: int) -> dict[str, Any]:
    """The same lock-step rounds on bare LangGraph in memory: ``bench/bare_graph.py``'s
    graph paused before its tool node and resumed."""
    from langgraph.checkpoint.memory import InMemorySaver

    from bench.bare_graph import build_bare_graph

    serial = 0
    cpu: dict[str, float] = defaultdict(float)
    with fresh_home() as home:
        graph = build_bare_graph(InMemorySaver(), home)

        async def one_round() -> tuple[float, float, float]:
            nonlocal serial
            configs = []
            for _ in range(n):
                serial += 1
                configs.append({"configurable": {"thread_id": f"bare-{serial}"}})
            t0, p0 = time.thread_time(), cpu_seconds()
            first = {"messages": [HumanMessage(GATED_TASK)]}
            await asyncio.gather(
                *(graph.ainvoke(first, c, interrupt_before=["tool"]) for c in configs)
            )
            t1 = time.thread_time()
            outs = await asyncio.gather(*(graph.ainvoke(None, c) for c in configs))
            if any("[demo model] Done." not in str(o["messages"][-1].content) for o in outs):
                raise RuntimeError("a bare thread did not finish")
            return t1 - t0, time.thread_time() - t1, cpu_seconds() - p0

        await one_round()
        for _ in range(rounds):
            parts = await one_round()
            for key, seconds in zip(
                ("start→paused", "resumed→done", "process"), parts, strict=True
            ):
                cpu[key] += seconds
    cycles = n * rounds
    return {"cycles": cycles, "cpu_ms": {k: v / cycles * 1000 for k, v in cpu.items()}}


def run_worker(tree: Path, side: str, n: int, rounds: int) -> dict[str, Any]:
    """One measurement in a fresh interpreter, with the code found under ``tree``."""
    spec = json.dumps({"side": side, "n": n, "rounds": rounds})
    env = os.environ | {"PYTHONPATH": str(tree)}
    script = tree / "bench" / "cycle_profile.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--worker", spec],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
        timeout=900,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT):
            result: dict[str, Any] = json.loads(line.removeprefix(RESULT))
            return result
    raise RuntimeError(f"worker {spec} in {tree} failed:\n{proc.stderr[-3000:]}")


def merge(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Repeats pooled: hop counts summed (then per cycle), CPU as the median per cycle."""
    cycles = sum(r["cycles"] for r in runs)
    hops: dict[tuple[str, str, bool], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for run in runs:
        for phase, label, commit, count, db, queued in run.get("hops", []):
            row = hops[(phase, label, commit)]
            row[0] += count
            row[1] += db
            row[2] += queued
    keys = runs[0]["cpu_ms"].keys()
    cpu = {k: statistics.median(r["cpu_ms"][k] for r in runs) for k in keys}
    worst = {k: max(r["cpu_ms"][k] for r in runs) for k in keys}
    return {"cycles": cycles, "hops": hops, "cpu_ms": cpu, "cpu_worst": worst}


def phase_rows(found: dict[str, Any], n: int) -> list[list[str]]:
    """Per phase: commits, reads, database ms, CPU ms, per cycle; the cycle's total; then
    the background's hops in the same time (not in the total)."""
    cycles, hops, cpu = found["cycles"], found["hops"], found["cpu_ms"]

    def counts(phases: Sequence[str]) -> list[str]:
        mine = [(c, v) for (p, _, c), v in hops.items() if p in phases]
        commits = sum(v[0] for c, v in mine if c)
        reads = sum(v[0] for c, v in mine if not c)
        db = sum(v[1] for _, v in mine)
        return [
            f"{commits / cycles:.2f}",
            f"{reads / cycles:.2f}",
            f"{(commits + reads) / cycles:.2f}",
            f"{db / cycles * 1000:.2f}",
        ]

    rows = []
    for phase in PHASES:
        if phase == PHASES[1] and n > 1:
            shown = f"{sum(cpu[p] for p in PHASES[1:]):.2f} (decide→done)"
        else:
            shown = f"{cpu[phase]:.2f}" if n == 1 or phase == PHASES[0] else ""
        rows.append([phase, *counts([phase]), shown])
    main = sum(cpu[p] for p in PHASES)
    worst = sum(found["cpu_worst"][p] for p in PHASES)
    rows.append(
        [
            "**per cycle**",
            *counts(PHASES),
            f"{main:.2f} main (worst {worst:.2f}); process {cpu['process']:.2f}",
        ]
    )
    rows.append(["background (not in the total)", *counts([BACKGROUND]), ""])
    return rows


def caller_rows(found: dict[str, Any], limit: int) -> list[list[str]]:
    cycles = found["cycles"]
    ordered = sorted(
        found["hops"].items(), key=lambda kv: (*PHASES, BACKGROUND, PROFILER).index(kv[0][0])
    )
    return [
        [
            phase,
            label,
            "commit" if commit else "read",
            f"{v[0] / cycles:.2f}",
            f"{v[1] / v[0] * 1000:.2f}",
        ]
        for (phase, label, commit), v in ordered
        if v[0] / cycles >= 0.01 and phase != PROFILER
    ][:limit]


def report(
    trees: dict[str, Path],
    levels: Sequence[int],
    rounds: dict[int, int],
    repeats: int,
    callers: bool,
) -> None:
    for n in levels:
        engine_runs: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
        bare_runs: list[dict[str, Any]] = []
        labels = list(trees)
        for rep in range(repeats):
            order = labels[rep % len(labels) :] + labels[: rep % len(labels)]
            for label in order:
                engine_runs[label].append(run_worker(trees[label], "engine", n, rounds[n]))
            bare_runs.append(run_worker(next(iter(trees.values())), "bare", n, rounds[n]))
        print(f"\n## {n} concurrent cycle(s): {rounds[n]} round(s) x {repeats} repeat(s)\n")
        header = ["phase", "commits", "reads", "hops", "db ms", "main-thread CPU ms"]
        for label in labels:
            found = merge(engine_runs[label])
            print(f"### engine ({label}), per cycle\n")
            print_table(header, phase_rows(found, n), 1)
            if callers:
                print()
                print_table(
                    ["phase", "hop (caller [storage])", "kind", "per cycle", "db ms each"],
                    caller_rows(found, 60),
                    3,
                )
            print()
        bare = merge(bare_runs)
        cpu = bare["cpu_ms"]
        print(
            f"bare LangGraph, InMemorySaver: main-thread CPU per cycle start→paused "
            f"{cpu['start→paused']:.2f} + resumed→done {cpu['resumed→done']:.2f} = "
            f"{cpu['start→paused'] + cpu['resumed→done']:.2f} ms (process {cpu['process']:.2f})"
        )
        for label in labels:
            found = merge(engine_runs[label])
            extra = sum(found["cpu_ms"][p] for p in PHASES) - (
                cpu["start→paused"] + cpu["resumed→done"]
            )
            print(f"engine ({label}) uses {extra:.2f} ms more main-thread CPU per cycle")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 100])
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="rounds per repeat (default: 20 at 1 thread, 2 at more)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tree", action="append", default=[], help="LABEL=PATH, repeatable")
    parser.add_argument("--callers", action="store_true", help="hops by caller too")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        job = json.loads(args.worker)
        run = engine_cycles if job["side"] == "engine" else bare_cycles
        print(RESULT + json.dumps(asyncio.run(run(job["n"], job["rounds"]))), flush=True)
        return 0
    root = Path(__file__).resolve().parent.parent
    trees = dict(t.split("=", 1) for t in args.tree) or {"this": str(root)}
    rounds = {n: args.rounds or (20 if n == 1 else 2) for n in args.threads}
    report(
        {k: Path(v).resolve() for k, v in trees.items()},
        args.threads,
        rounds,
        args.repeats,
        args.callers,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
