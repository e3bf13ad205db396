"""Many threads at once in a child engine, each paused on its email and approved, for
the crash tests of group commit: the test kills it while the commits are batched.

    python -m tests.engine.deciding_child --home H --threads N

It prints ``{"decided": ID}`` once ``decide()`` has returned for that approval: what a
person was told is recorded, and must survive the kill.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from engine import Approve
from engine.engine import Engine
from tests.engine.child import say

EMAIL_TASK = "email the report to boss@company.com"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True)
    parser.add_argument("--threads", type=int, default=30)
    args = parser.parse_args()
    async with Engine.open(Path(args.home), operator="child-decide") as engine:

        async def one() -> None:
            thread = await engine.start(EMAIL_TASK)
            await engine.wait(thread.id)
            [approval] = await engine.pending(thread.id)
            await engine.decide(approval.id, Approve())
            say(decided=approval.id)

        await asyncio.gather(*(one() for _ in range(args.threads)))
        await engine.wait()
        say(milestone="settled")


if __name__ == "__main__":
    asyncio.run(main())
