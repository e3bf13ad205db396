"""A real engine in a child process, for tests that kill or race processes.

It prints one JSON object per line (events as they happen, and its own milestones) so
the test can wait on what the child says instead of sleeping.

    python -m tests.engine.child --home H [--slow TOOL=SECONDS] start TASK
    python -m tests.engine.child --home H decide ID approve|reject   (waits for "go" on stdin)
    python -m tests.engine.child --home H resume
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from engine import Approve, HitlError, Reject
from engine.engine import Engine
from engine.tools import CATALOGUE, ToolContext, ToolSpec


def say(**fields: Any) -> None:
    print(json.dumps(fields, default=str), flush=True)


def slow_catalogue(tool: str, seconds: float) -> dict[str, ToolSpec]:
    """``tool`` logs each attempt to the sandbox's attempts.log, then takes ``seconds``
    before it acts."""
    real = CATALOGUE[tool]

    async def slow(ctx: ToolContext, args: Any) -> str:
        with (ctx.sandbox / "attempts.log").open("a") as log:
            log.write(f"{ctx.tool_call_id}\n")
        say(milestone="tool-started", call=ctx.tool_call_id)
        await asyncio.sleep(seconds)
        return await real.run(ctx, args)

    return {**CATALOGUE, tool: dataclasses.replace(real, run=slow)}


async def relay(engine: Engine) -> None:
    with engine.subscribe() as events:
        async for event in events:
            say(event=type(event).__name__, **_brief(event))


def _brief(event: Any) -> dict[str, Any]:
    if hasattr(event, "approval"):
        return {"approval": event.approval.id, "status": event.approval.status}
    if hasattr(event, "thread"):
        return {"thread": event.thread.id, "status": event.thread.status}
    return {"thread": getattr(event, "thread_id", None)}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True)
    parser.add_argument("--think", type=float, default=0.0)
    parser.add_argument("--slow", metavar="TOOL=SECONDS", help="make one tool slow")
    parser.add_argument("command", choices=["start", "decide", "resume"])
    parser.add_argument("rest", nargs="*")
    args = parser.parse_args()
    tools = None
    if args.slow:
        tool, seconds = args.slow.split("=")
        tools = slow_catalogue(tool, float(seconds))
    async with Engine.open(
        Path(args.home), think_seconds=args.think, tools=tools, operator=f"child-{args.command}"
    ) as engine:
        relay_task = asyncio.create_task(relay(engine))
        if args.command == "start":
            thread = await engine.start(args.rest[0])
            say(milestone="started", thread=thread.id)
            await engine.wait(thread.id)
            say(milestone="settled", pending=[a.id for a in await engine.pending(thread.id)])
        elif args.command == "decide":
            say(milestone="ready")
            await asyncio.to_thread(sys.stdin.readline)
            decision = Approve() if args.rest[1] == "approve" else Reject("no")
            try:
                decided = await engine.decide(args.rest[0], decision)
            except HitlError as error:
                say(milestone="refused", error=str(error))
                return
            say(milestone="decided", status=decided.status)
            await engine.wait(decided.thread_id)
            say(milestone="settled")
            return
        else:
            ids = await engine.resume()
            await engine.wait()
            say(milestone="settled", threads=ids)
        await asyncio.to_thread(sys.stdin.read)  # stay alive until the test closes stdin
        relay_task.cancel()


if __name__ == "__main__":
    asyncio.run(main())
