"""Run slots: the background waits its turn; a person's decision never waits."""

from __future__ import annotations

import asyncio
import contextlib

from engine.slots import (
    BACKGROUND,
    DECISION,
    PriorityLock,
    RunSlots,
    applied,
    current_priority,
    promote,
    urgent,
    waiting,
)


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


async def test_once_its_decision_is_applied_a_run_waits_its_turn_again() -> None:
    """After the decided call ran, the run's next model turn is background work: back
    from the wait it queues for a slot instead of overdrawing."""
    slots = RunSlots(1)
    order: list[str] = []

    async def decided_run() -> None:
        async with slots.hold(DECISION):
            applied()
            assert current_priority() == BACKGROUND
            async with waiting():
                await asyncio.sleep(0)
            order.append("decided run's next step")

    async with contextlib.AsyncExitStack() as held:
        await held.enter_async_context(slots.hold(BACKGROUND))
        run = asyncio.create_task(decided_run())
        for _ in range(5):
            await asyncio.sleep(0)
        assert not order  # the slot is the busy run's: the decided run waits for it
        order.append("busy run ends")
    await asyncio.wait_for(run, 1)
    assert order == ["busy run ends", "decided run's next step"]


async def test_a_run_a_decision_arrives_for_goes_on_as_the_decisions() -> None:
    """A decision kicked a thread whose run was still letting go of it: that run goes
    on as a decision's, so back from a wait it overdraws rather than queue."""
    slots = RunSlots(1)
    async with asyncio.timeout(1), slots.hold(BACKGROUND):
        busy = asyncio.create_task(slots._acquire(BACKGROUND))
        await asyncio.sleep(0)
        promote()
        async with waiting():  # lends the slot: the busy run takes it
            await busy
        assert current_priority() == DECISION  # ...and we are back without waiting for it
    slots._release()
