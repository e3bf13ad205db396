"""A child process that runs a user's graph under a guard until ``pay`` blocks, to be
killed there (``guard_engine.killed_mid_pay``).

    python -m tests.engine.foreign.guard_child HOME agent|toolnode|hitl THREAD EFFECTS
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import cast

from engine import Home
from engine.foreign.guarded import guarded
from tests.engine.foreign.guard_engine import guarded_engine
from tests.engine.foreign.guard_graphs import Kind, build, pay_tool


async def main(home: Path, kind: Kind, thread_id: str, effects: Path) -> None:
    async with guarded_engine(Home.resolve(home)) as engine:
        graph = build(kind, [guarded(pay_tool(effects, block=True))], engine.saver)
        interrupts = await engine.start(graph, thread_id)
        if kind == "hitl":  # a person approves the call in LangChain's own format
            [approval] = interrupts
            said = {"interrupt": approval.id, "call": approval.value["tool_call_id"]}
            print(json.dumps({"milestone": "approving", **said}), flush=True)
            await engine.answer(graph, thread_id, approval, {"type": "approve"})
        raise AssertionError(f"pay never blocked; interrupts: {interrupts}")


if __name__ == "__main__":
    home, kind, thread_id, effects = sys.argv[1:]
    asyncio.run(main(Path(home), cast(Kind, kind), thread_id, Path(effects)))
