"""What supervising an Agent Server costs: a real ``langgraph dev`` serving the examples'
per-call agent, N threads waiting at its interrupts. Prints tables; never run by the
tests.

1. ``hitl --server URL --assistant A pending --json``, the whole process, as a person
   runs it: on a new home (every waiting thread taken in: a thread row and its cards,
   judged by the policy, each in its own transaction); on a home in step with the
   server (one request says nothing changed: the home's rows are listed); and after one
   more thread paused there (the engine opens and takes it in). Worst of ``--runs``.
2. approve → the run resumed on the server: ``engine.decide`` of a medium card until
   ``runs.create`` returned (the server took the resume), and until the thread paused
   again there (the run ended), over ``--decisions`` cards, one after the other. The
   second includes the server's own queue: ``langgraph dev``'s in-memory runtime looks
   for new runs every 0.5 s (``langgraph_runtime_inmem.ops``), so a run it accepted
   starts 0.5-1 s later whoever sent it; the target (< 200 ms) is for the first.

    .venv/bin/python bench/remote.py [--threads 1000] [--decisions 50] [--runs 3]
    .venv/bin/python bench/remote.py --quick   # tiny: a smoke run (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import machine_info, percentile, print_table, verdict  # noqa: E402
from tests.remote.agent_server import DevServer, why_not  # noqa: E402

HITL = Path(sys.executable).with_name("hitl")
TASK = "Email ann@company.com the notes and delete draft.txt"
POLICY = 'default_tier = "medium"\n\n[tools]\nsend_email = "medium"\ndelete_file = "medium"\n'


def listing(server: DevServer, assistant: str, home: Path, policy: Path) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [
            *(str(HITL), "--home", str(home), "--policy", str(policy), "--server", server.url),
            *("--assistant", assistant, "pending", "--json"),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("HITL_")},
    )
    return time.perf_counter() - started, len(json.loads(done.stdout))


async def bare_sdk(server: DevServer, assistant: str, threads: list[str]) -> dict[str, list[float]]:
    """The server's own floor, in the same run: seconds of each bare SDK call a resume
    could need (``get_state``, ``threads.get``) and of the resume itself
    (``runs.create``, one interrupt approved), on threads the engine's cards leave."""
    from langgraph_sdk import get_client

    client = get_client(url=server.url)
    times: dict[str, list[float]] = {"get_state": [], "threads.get": [], "runs.create": []}
    for thread in threads:
        started = time.perf_counter()
        state = await client.threads.get_state(thread)
        times["get_state"].append(time.perf_counter() - started)
        started = time.perf_counter()
        await client.threads.get(thread)
        times["threads.get"].append(time.perf_counter() - started)
        first = next(i["id"] for task in state["tasks"] for i in task.get("interrupts", []))
        started = time.perf_counter()
        await client.runs.create(
            thread,
            assistant,
            command={"resume": {first: {"type": "approve"}}},
            multitask_strategy="reject",
        )
        times["runs.create"].append(time.perf_counter() - started)
    return times


async def decisions(
    server: DevServer, assistant: str, home: Path, policy: Path, count: int, spare: set[str]
) -> tuple[list[float], list[float]]:
    """Per decision: seconds until the server took the resume, and until the run ended."""
    from engine import Approve
    from engine.engine import Engine
    from engine.remote.graph import served_graph
    from engine.remote.server import AgentServer

    graph = await served_graph(AgentServer(server.url, assistant))
    served = graph.served
    assert served is not None
    taken: list[float] = []
    create = served.client.runs.create

    async def timed_create(*args: Any, **kwargs: Any) -> Any:
        run = await create(*args, **kwargs)
        taken.append(time.perf_counter())
        return run

    served.client.runs.create = timed_create
    to_server: list[float] = []
    to_end: list[float] = []
    async with Engine.open(home, policy=policy, graphs=[graph], operator="bench") as engine:
        cards = [
            a
            for a in await engine.pending()
            if a.tool == "delete_file" and a.thread_id not in spare
        ][:count]
        for card in cards:
            taken.clear()
            started = time.perf_counter()
            await engine.decide(card.id, Approve())
            await engine.wait(card.thread_id)
            ended = time.perf_counter()
            to_server.append(taken[0] - started)
            to_end.append(ended - started)
    return to_server, to_end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--decisions", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.threads, args.decisions, args.runs = 10, 5, 1
    reason = why_not()
    if reason is not None:
        print(f"skipped: {reason}")
        return
    print(machine_info())
    with tempfile.TemporaryDirectory() as scratch:
        where = Path(scratch)
        server = DevServer.prepare(where / "server")
        server.start()
        try:
            assistant = server.assistant("per_call")
            started = time.perf_counter()
            threads = asyncio.run(server.interrupted_threads(assistant, TASK, args.threads))
            spare = threads[-args.decisions :]
            filled = time.perf_counter() - started
            print(f"{args.threads} threads paused on the server in {filled:.1f} s")
            policy = where / "policy.toml"
            policy.write_text(POLICY)
            rows = []
            home = where / "home"
            listing(server, assistant, home, policy)  # taken in, then marked
            listing(server, assistant, home, policy)

            def new_home(run: int) -> tuple[float, int]:
                return listing(server, assistant, where / f"home-new-{run}", policy)

            def unchanged(_run: int) -> tuple[float, int]:
                return listing(server, assistant, home, policy)

            def one_more(_run: int) -> tuple[float, int]:
                server.interrupted_thread(assistant, TASK)
                return listing(server, assistant, home, policy)

            for label, measure in (
                ("new home: every thread taken in", new_home),
                ("nothing changed on the server since", unchanged),
                ("one thread paused there since", one_more),
            ):
                measured = [measure(run) for run in range(args.runs)]
                times = [seconds for seconds, _ in measured]
                worst = max(times)
                rows.append(
                    (
                        label,
                        measured[-1][1],
                        f"{min(times):.2f}",
                        f"{worst:.2f}",
                        verdict(worst < 2.0),
                    )
                )
            print()
            print_table(
                ["pending --json (whole process)", "cards", "best s", "worst s", "< 2 s"], rows, 1
            )
            to_server, to_end = asyncio.run(
                decisions(server, assistant, where / "home", policy, args.decisions, set(spare))
            )
            print()
            table = []
            floor = asyncio.run(bare_sdk(server, assistant, spare))
            for label, values, judged in (
                *((f"bare SDK `{call}` (the server alone)", floor[call], False) for call in floor),
                ("decide → server took the resume", to_server, True),
                ("decide → run ended (incl. the server's queue)", to_end, False),
            ):
                ms = [v * 1000 for v in values]
                table.append(
                    (
                        label,
                        len(ms),
                        f"{percentile(ms, 0.5):.0f}",
                        f"{percentile(ms, 0.99):.0f}",
                        f"{max(ms):.0f}",
                        verdict(percentile(ms, 0.99) < 200) if judged else "—",
                    )
                )
            print_table(
                ["approve (medium card)", "n", "p50 ms", "p99 ms", "max ms", "p99 < 200 ms"],
                table,
                1,
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
