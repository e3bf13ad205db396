"""Run slots: the background waits its turn; a person's decision never waits."""

from __future__ import annotations

import asyncio
import contextlib

from engine.slots import BACKGROUND, DECISION, PriorityLock, RunSlots, urgent


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


async def test_the_postgresql_connection_goes_to_a_waiting_decision_first() -> None:
    """The lock around the one PostgreSQL connection: a decision that asked after the
    background still gets it next."""
    lock = PriorityLock()
    got: list[str] = []

    async def take(who: str) -> None:
        async with lock:
            got.append(who)

    await lock.acquire()
    background = asyncio.create_task(take("background"))
    await asyncio.sleep(0)
    with urgent():
        decision = asyncio.create_task(take("decision"))
    await asyncio.sleep(0)
    lock.release()
    await asyncio.wait_for(asyncio.gather(background, decision), 1)
    assert got == ["decision", "background"]
    assert not lock.locked()
