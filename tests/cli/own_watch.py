"""An engine held open on a home the way the console holds one, in a process of its own:
``python -m tests.cli.own_watch --home H [--database D] --graph SPEC``.

It prints ``ready`` once open (the threads paused then are taken in), then one line
per card that is requested or withdrawn (``requested ID``, ``withdrawn ID REASON``) as
the engine hears of it, and exits when its stdin is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from engine import Home
from engine.engine import Engine
from engine.events import ApprovalRequested, ApprovalWithdrawn
from engine.foreign.loading import load_graph
from engine.subscription import Subscription


async def watch(home: Home, spec: str) -> None:
    async with Engine.open(home, graphs=[load_graph(spec)], operator="watcher") as engine:
        with engine.subscribe() as events:
            print("ready", flush=True)
            closed = asyncio.create_task(asyncio.to_thread(sys.stdin.read))
            told = asyncio.create_task(_tell(events))
            await asyncio.wait([closed, told], return_when=asyncio.FIRST_COMPLETED)
            told.cancel()


async def _tell(events: Subscription) -> None:
    async for event in events:
        if isinstance(event, ApprovalRequested):
            print("requested", event.approval.id, flush=True)
        elif isinstance(event, ApprovalWithdrawn):
            print("withdrawn", event.approval.id, event.reason, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True)
    parser.add_argument("--database")
    parser.add_argument("--graph", required=True)
    args = parser.parse_args()
    asyncio.run(watch(Home.resolve(args.home, args.database), args.graph))


if __name__ == "__main__":
    main()
