"""The app's side of adoption, in a process of its own: ``examples/app.py``'s own
checkpointer and agent, reading or resuming one of its threads.

``python -m tests.cli.own_app --database DB [--graph per_call] THREAD [RESUME_JSON]``
prints the thread as the app sees it, after resuming it with ``Command(resume=...)``
when RESUME_JSON is given: ``{"interrupts": [ids], "checkpoints": n, "last": text}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from tests.cli.own_cli import EXAMPLES

sys.path.insert(0, str(EXAMPLES))

from app import build, open_saver


async def thread(database: str, graph: str, thread_id: str, resume: Any) -> dict[str, Any]:
    from langgraph.types import Command

    async with open_saver(database) as saver:
        agent = build(graph, saver)
        config: Any = {"configurable": {"thread_id": thread_id}}
        if resume is not None:
            await agent.ainvoke(Command(resume=resume), config, version="v2")
        state = await agent.aget_state(config)
        history = [s async for s in agent.aget_state_history(config)]
        messages = state.values.get("messages", [])
        return {
            "interrupts": [i.id for i in state.interrupts],
            "checkpoints": len(history),
            "last": str(messages[-1].content) if messages else "",
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--graph", default="per_call")
    parser.add_argument("thread")
    parser.add_argument("resume", nargs="?")
    args = parser.parse_args()
    resume = json.loads(args.resume) if args.resume else None
    print(json.dumps(asyncio.run(thread(args.database, args.graph, args.thread, resume))))


if __name__ == "__main__":
    main()
