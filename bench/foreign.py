"""Approve → executed for a graph of one's own (LangChain ``create_agent`` with
``HumanInTheLoopMiddleware`` per call, from ``examples/``), idle: one thread at a time.

Engine: ``engine.decide(Approve())`` until the tool's message is published (the decision
recorded, the thread's lease taken, the resume sent in the middleware's wire format,
the tool run, the messages journaled). Bare LangGraph: the same graph on the stock
``AsyncSqliteSaver``, ``astream(Command(resume={id: approve}))`` until the tool's update.
Both in this process, alternated per repeat; median and worst of the repeats' p50/p99.

    python bench/foreign.py [--quick] [--calls 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
for path in (ROOT, EXAMPLES):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench.report import machine_info, percentile, print_table  # noqa: E402
from bench.workloads import fresh_home, open_engine  # noqa: E402

SPEC = f"{EXAMPLES / 'hitl_agent.py'}:per_call_agent"
QUIET: dict[str, Any] = {
    "follow_journal": False,
    "warn_expiring": False,
    "expire_on_time": False,
    "apply_stranded_decisions": False,
    "adopt_threads": False,
}


def task(i: int) -> str:
    return f"Email bob{i}@company.com the notes and delete draft{i}.txt"


async def engine_side(home: Path, calls: int) -> list[float]:
    """Seconds from ``decide`` to the tool's message, per call."""
    from engine import Approve, Reject, load_graph
    from engine.events import MessageAdded

    graph = load_graph(SPEC)
    seconds: list[float] = []
    async with open_engine(home, graphs=[graph], operator="bench", **QUIET) as engine:
        with engine.subscribe() as events:
            for i in range(calls + 5):
                thread = await engine.start(task(i), graph=graph.name)
                await engine.wait(thread.id)
                cards = {c.tool: c for c in await engine.pending(thread.id)}
                events.drain()
                began = time.perf_counter()
                await engine.decide(cards["send_email"].id, Approve())
                async for event in events:
                    if (
                        isinstance(event, MessageAdded)
                        and event.thread_id == thread.id
                        and event.role == "tool"
                        and event.name == "send_email"
                    ):
                        break
                if i >= 5:  # the first few warm the imports and caches
                    seconds.append(time.perf_counter() - began)
                await engine.decide(cards["delete_file"].id, Reject("not now"))
                await engine.wait(thread.id)
    return seconds


async def bare_side(home: Path, calls: int) -> list[float]:
    """The same graph and resume on bare LangGraph with the stock SQLite saver."""
    from hitl_agent import build_agent
    from langchain_core.messages import HumanMessage
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from langgraph.types import Command

    seconds: list[float] = []
    async with AsyncSqliteSaver.from_conn_string(str(home / "bare.sqlite")) as saver:
        await saver.setup()
        agent = build_agent("per_call", saver)
        for i in range(calls + 5):
            config: Any = {"configurable": {"thread_id": f"bare-{i}"}}
            await agent.ainvoke({"messages": [HumanMessage(task(i))]}, config)
            state = await agent.aget_state(config)
            email = next(x for x in state.interrupts if x.value["name"] == "send_email")
            began = time.perf_counter()
            async for update in agent.astream(
                Command(resume={email.id: {"type": "approve"}}), config, stream_mode="updates"
            ):
                if "tools" in update:
                    break
            if i >= 5:
                seconds.append(time.perf_counter() - began)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: numbers mean nothing")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    calls, repeats = (5, 1) if args.quick else (args.calls, args.repeats)
    print(machine_info())
    print(f"\napprove → executed, one thread at a time, {calls} calls, {repeats} repeats\n")
    results: dict[str, list[tuple[float, float]]] = {"engine": [], "bare": []}
    for repeat in range(repeats):
        order = ["engine", "bare"] if repeat % 2 == 0 else ["bare", "engine"]
        for side in order:
            with fresh_home() as home:
                run = engine_side if side == "engine" else bare_side
                seconds = asyncio.run(run(home, calls))
            results[side].append((percentile(seconds, 0.5), percentile(seconds, 0.99)))
    rows = []
    for side, label in (("engine", "engine, SQLite"), ("bare", "bare LangGraph, stock SQLite")):
        p50s = [p50 * 1000 for p50, _ in results[side]]
        p99s = [p99 * 1000 for _, p99 in results[side]]
        rows.append(
            [
                label,
                f"{statistics.median(p50s):.1f}",
                f"{max(p50s):.1f}",
                f"{statistics.median(p99s):.1f}",
                f"{max(p99s):.1f}",
            ]
        )
    print_table(
        ["side", "p50 ms (median)", "p50 ms (worst)", "p99 ms (median)", "p99 ms (worst)"],
        rows,
        numeric_from=1,
    )
    worst = max(p99 for _, p99 in results["engine"]) * 1000
    print(f"\ntarget: engine p99 < 100 ms idle: {'yes' if worst < 100 else '**NO**'}")


if __name__ == "__main__":
    main()
