"""The approval cycle's lease, written with the changes that need it: a thread is this
process's from the moment ``start()`` returns, again from the moment the decision that
resumes it is recorded, and free once it pauses or ends. No second process can slip in
between a thread's birth (or its decision) and its run."""

from __future__ import annotations

import asyncio
import os
import socket

from engine import Approve, Engine
from engine.events import ApprovalRequested, ThreadFinished, ThreadStatusChanged
from engine.home import Home
from tests.engine.quiet import NO_WATCHER

TASK = "email the Q3 report to boss@company.com"


async def test_a_thread_is_held_from_start_and_from_its_decision_and_let_go_after(
    home: Home,
) -> None:
    here = (socket.gethostname(), os.getpid())
    async with Engine.open(home, operator="alice", **NO_WATCHER) as engine:
        thread = await engine.start(TASK)
        assert await engine.lease_holder(thread.id) == here, "started, yet anyone could run it"
        await engine.wait(thread.id)
        assert (await engine.thread(thread.id)).status == "waiting"
        assert await engine.lease_holder(thread.id) is None, "a paused thread stays held"
        [approval] = await engine.pending()
        await engine.decide(approval.id, Approve())
        assert await engine.lease_holder(thread.id) == here, "decided, yet anyone could run it"
        await engine.wait(thread.id)
        assert (await engine.thread(thread.id)).status == "done"
        assert await engine.lease_holder(thread.id) is None, "a finished thread stays held"


async def test_a_decision_made_as_the_pause_is_announced_runs_without_the_watcher(
    home: Home,
) -> None:
    """A person deciding the moment a card appears catches the run still letting go of
    its thread; the run kicked then must still happen, at once, not be left to the
    watcher's beat (switched off here, so a stranded decision would never run)."""
    async with Engine.open(home, operator="alice", durability="fast", **NO_WATCHER) as engine:
        events = engine.subscribe()
        for _ in range(8):
            thread = await engine.start(TASK)
            finished = False
            async with asyncio.timeout(20):
                async for batch in events.batches():
                    for event in batch:
                        if event.thread_id != thread.id:
                            continue
                        if isinstance(event, ApprovalRequested):
                            await engine.decide(event.approval.id, Approve())
                        finished = finished or isinstance(event, ThreadFinished)
                    if finished:
                        break
        assert len(list(home.outbox.glob("*.eml"))) == 8


async def test_a_thread_is_running_from_the_moment_its_decision_is_recorded(home: Home) -> None:
    """A script that approves and then lists sees the thread running, not still waiting
    for a run to pick it up: the decision's own commit says so (with its event, once)."""
    async with Engine.open(home, operator="alice", **NO_WATCHER) as engine:
        thread = await engine.start(TASK)
        await engine.wait(thread.id)
        [approval] = await engine.pending()
        events = engine.subscribe()
        await engine.decide(approval.id, Approve())
        assert (await engine.thread(thread.id)).status == "running"
        await engine.wait(thread.id)
        said: list[str] = []
        async with asyncio.timeout(10):
            async for batch in events.batches():
                said += [e.thread.status for e in batch if isinstance(e, ThreadStatusChanged)]
                if any(isinstance(e, ThreadFinished) for e in batch):
                    break
        assert said == ["running"]
        assert (await engine.thread(thread.id)).status == "done"
