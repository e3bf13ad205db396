"""The approval cycle's lease, written with the changes that need it: a thread is this
process's from the moment ``start()`` returns, again from the moment the decision that
resumes it is recorded, and free once it pauses or ends. No second process can slip in
between a thread's birth (or its decision) and its run."""

from __future__ import annotations

import os
import socket

from engine import Approve, Engine
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
