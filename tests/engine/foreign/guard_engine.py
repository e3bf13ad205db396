"""Running a user's graph the way the engine's runner will: on the home's checkpointer,
inside ``use_guard`` with the engine's store and publisher. And a child process that
does so and is killed mid-call.

Until the runner wraps its runs in ``use_guard`` itself, the guard is made here from an
open engine's store and publisher (what the runner will pass).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command, Interrupt

from engine import Home
from engine.engine import Engine
from engine.foreign.guarded import Guard, use_guard
from engine.once import AtMostOnce
from engine.storage.audit import AuditEntry
from tests.engine.foreign.guard_graphs import PAY, Kind
from tests.engine.quiet import NO_WATCHER

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Guarded:
    """An open engine, and its guard for runs of users' graphs on its home."""

    engine: Engine
    guard: Guard

    @property
    def saver(self) -> Any:
        return self.engine._saver

    async def run(self, graph: Any, thread_id: str, given: Any) -> list[Interrupt]:
        """Runs the thread until it pauses or ends, under the guard; its open interrupts.

        With ``durability="sync"``, as the runner must run users' graphs: under "async"
        the step that made a call may not be saved when the tool starts (on PostgreSQL
        the saver has its own connection), and after a crash the model is asked again
        and makes a new call, which the guard has never seen."""
        config: Any = {"configurable": {"thread_id": thread_id}}
        with use_guard(self.guard):
            stream = graph.astream(given, config, stream_mode="updates", durability="sync")
            async for _ in stream:
                pass
        return list((await graph.aget_state(config)).interrupts)

    async def start(self, graph: Any, thread_id: str) -> list[Interrupt]:
        return await self.run(graph, thread_id, {"messages": [HumanMessage(PAY)]})

    async def answer(
        self, graph: Any, thread_id: str, interrupt: Interrupt, decision: dict[str, Any]
    ) -> list[Interrupt]:
        return await self.run(graph, thread_id, Command(resume={interrupt.id: decision}))

    async def values(self, graph: Any, thread_id: str) -> dict[str, Any]:
        config: Any = {"configurable": {"thread_id": thread_id}}
        return dict((await graph.aget_state(config)).values)

    async def audit(self, thread_id: str) -> list[AuditEntry]:
        return [e for e in await self.engine.audit() if e.thread_id == thread_id]


@contextlib.asynccontextmanager
async def guarded_engine(home: Home) -> AsyncIterator[Guarded]:
    async with Engine.open(home, operator="alice", **NO_WATCHER) as engine:
        once = AtMostOnce(engine._store, engine._publish)
        yield Guarded(engine, Guard(once, engine.policy, engine.policy_digest))


def killed_mid_pay(home: Home, kind: Kind, thread_id: str, effects: Path) -> list[dict[str, Any]]:
    """A child process runs ``kind``'s graph on the thread under a guard (a person
    approves the call first, for "hitl") and is SIGKILLed while ``pay`` runs, after its
    effect: nobody knows whether the call took effect. The child's lines."""
    env = {**os.environ}
    env.pop("HITL_DATABASE_URL", None)
    if home.database_url:
        env["HITL_DATABASE_URL"] = home.database_url
    command = [sys.executable, "-m", "tests.engine.foreign.guard_child"]
    with subprocess.Popen(
        [*command, str(home.path), kind, thread_id, str(effects)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        lines: list[dict[str, Any]] = []
        for raw in child.stdout:
            lines.append(json.loads(raw))
            if lines[-1].get("milestone") == "entered":
                os.kill(child.pid, signal.SIGKILL)
                return lines
        raise AssertionError(
            f"the child exited ({child.wait()}) before pay ran: {child.stderr.read()}"
        )
