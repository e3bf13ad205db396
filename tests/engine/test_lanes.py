"""A person's decision goes ahead of the busy fleet: in the run slots and in the loop.

Deterministic, not timed: each test fills a queue with the background's work first,
then asks for the decision's, and checks the order things ran in.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading

from engine import Approve, Home
from engine.engine import Engine
from engine.events import ThreadFinished, ToolExecuted
from engine.lanes import install
from engine.slots import urgent

BUSY_TASK = "search for quarterly revenue and read notes.txt"
GATED_TASK = "email the report to boss@company.com"


async def _settled() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_decisions_callback_runs_before_the_background_queued_ahead_of_it() -> None:
    loop = asyncio.get_running_loop()
    assert install(loop)
    ran: list[str] = []
    for i in range(50):
        loop.call_soon(ran.append, f"busy {i}")
    with urgent():
        loop.call_soon(ran.append, "decision")
    await _settled()
    assert ran[0] == "decision"
    assert ran[1:] == [f"busy {i}" for i in range(50)]  # the background keeps its order


async def test_an_answer_from_another_thread_carrying_a_decision_jumps_the_queue() -> None:
    """The database thread answers a decision's hop with the decision's context."""
    loop = asyncio.get_running_loop()
    install(loop)
    ran: list[str] = []
    with urgent():
        decision = contextvars.copy_context()
    for i in range(20):
        loop.call_soon(ran.append, f"busy {i}")

    def answer() -> None:
        loop.call_soon_threadsafe(ran.append, "background answer")
        loop.call_soon_threadsafe(ran.append, "decision's answer", context=decision)

    worker = threading.Thread(target=answer)
    worker.start()
    worker.join()
    await _settled()
    assert ran[0] == "decision's answer"
    assert ran.index("background answer") > ran.index("busy 19")


async def test_what_a_decision_wakes_is_woken_first() -> None:
    """A task waiting on the decision's work (a subscriber of its ToolExecuted) is
    resumed before the background's callbacks queued before it."""
    loop = asyncio.get_running_loop()
    install(loop)
    ran: list[str] = []
    done: asyncio.Future[None] = loop.create_future()

    async def subscriber() -> None:
        await done
        ran.append("subscriber")

    task = asyncio.create_task(subscriber())
    await _settled()
    for i in range(20):
        loop.call_soon(ran.append, f"busy {i}")
    with urgent():
        done.set_result(None)
    await task
    assert ran[0] == "subscriber"


async def test_with_the_run_slot_full_of_busy_threads_a_decided_call_runs_first(
    home: Home,
) -> None:
    """One run slot, thirty busy threads queued for it: the approved email is sent
    before a quarter of them end (in line behind them, it would be after all of them)."""
    busy = 30
    async with Engine.open(home, operator="alice", run_slots=1) as engine:
        gated = await engine.start(GATED_TASK)
        await engine.wait(gated.id)
        [approval] = await engine.pending(gated.id)
        finished_before: int | None = None
        finished = 0
        with engine.subscribe(limit=100_000) as sub:
            threads = [await engine.start(BUSY_TASK) for _ in range(busy)]
            await engine.decide(approval.id, Approve())
            async with asyncio.timeout(120):
                async for event in sub:
                    if isinstance(event, ThreadFinished) and event.thread.id != gated.id:
                        finished += 1
                    elif isinstance(event, ToolExecuted) and event.thread_id == gated.id:
                        finished_before = finished
                        break
        assert finished_before is not None
        assert finished_before < busy // 4, f"{finished_before} busy threads ended first"
        for thread in threads:
            await engine.wait(thread.id)
        assert list(home.outbox.glob("*.eml"))
