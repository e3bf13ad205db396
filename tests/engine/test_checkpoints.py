"""The built-in agent is checkpointed where a run stops (its pause, its end), not after
every step: at-most-once and the decisions live in the engine's own tables, committed
before a tool runs, so a step's checkpoint protects nothing a crash could break (the
crash tests in test_crash_points.py and test_group_commit_crash.py hold that), and each
one was a commit on disk. A run cut off by a crash begins again from the last pause."""

from __future__ import annotations

from engine import Approve, Engine
from engine.home import Home
from tests.engine.quiet import NO_WATCHER

TASK = "email the Q3 report to boss@company.com"


def checkpoints_of(home: Home, thread_id: str) -> int:
    """How many checkpoints LangGraph's saver holds for the thread."""
    sql = "SELECT count(*) FROM checkpoints WHERE thread_id = "
    if home.database_url:
        import psycopg

        with psycopg.connect(home.database_url, autocommit=True) as db:
            row = db.execute(sql + "%s", (thread_id,)).fetchone()
    else:
        import sqlite3

        with sqlite3.connect(home.db) as db:
            row = db.execute(sql + "?", (thread_id,)).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_cycle_writes_one_checkpoint_per_run(home: Home) -> None:
    async with Engine.open(home, operator="alice", **NO_WATCHER) as engine:
        thread = await engine.start(TASK)
        await engine.wait(thread.id)
        assert checkpoints_of(home, thread.id) == 1, "the run to the pause saved every step"
        [approval] = await engine.pending()
        await engine.decide(approval.id, Approve())
        await engine.wait(thread.id)
        assert (await engine.thread(thread.id)).status == "done"
        assert checkpoints_of(home, thread.id) == 2, "the run to the end saved every step"
        assert len(list(home.outbox.glob("*.eml"))) == 1
