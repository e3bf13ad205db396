"""Run slots: the background waits its turn; a person's decision never waits."""

from __future__ import annotations

import asyncio
import contextlib

from engine.slots import BACKGROUND, DECISION, RunSlots


async def test_a_decision_overdraws_while_the_background_queues() -> None:
    slots = RunSlots(1)
    async with contextlib.AsyncExitStack() as held:
        await held.enter_async_context(slots.hold(BACKGROUND))
        background = asyncio.create_task(slots._acquire(BACKGROUND))
        await asyncio.sleep(0)
        assert not background.done()  # the one slot is taken: the background waits

        async with asyncio.timeout(1):
            async with slots.hold(DECISION):  # ...but a decision goes straight in
                assert not background.done()
        await asyncio.sleep(0)
        assert not background.done()  # the overdraft is paid back first
    await asyncio.wait_for(background, 1)  # then the waiting run gets its turn
    slots._release()
