"""Kill -9 at awkward moments: nothing is lost, and no approved action runs twice."""

from __future__ import annotations

import asyncio

from engine import Approve, Home, Respond
from engine.engine import Engine
from engine.events import ApprovalDecided, ToolExecuted
from tests.engine.processes import Child, killed_mid_call

EMAIL_TASK = "email the Q3 report to boss@company.com"


def _paused_in_child(home: Home, task: str = EMAIL_TASK) -> str:
    """Runs ``task`` in a child until it pauses, kills the child, returns the approval id."""
    child = Child(home, "start", task)
    settled = child.expect(lambda line: line.get("milestone") == "settled")
    child.kill()
    [approval_id] = settled["pending"]
    return str(approval_id)


async def test_a_paused_thread_and_its_approval_survive_sigkill(home: Home) -> None:
    approval_id = _paused_in_child(home)
    async with Engine.open(home, operator="alice") as engine:
        [approval] = await engine.pending()
        assert approval.id == approval_id
        assert (approval.tool, approval.args["to"]) == ("send_email", "boss@company.com")
        assert (await engine.thread(approval.thread_id)).status == "waiting"

        await engine.decide(approval.id, Approve())
        await engine.wait(approval.thread_id)
        assert len(list(home.outbox.glob("*.eml"))) == 1
        assert (await engine.thread(approval.thread_id)).status == "done"


async def test_a_thread_killed_mid_run_continues_from_its_last_step(home: Home) -> None:
    home.create()
    (home.sandbox / "revenue.txt").write_text("Q3 revenue: 4.2M")
    # The model's first turn is checkpointed; kill the child during the (slow) search.
    slow = Child(
        home,
        "--slow",
        "search=60",
        "start",
        "search for revenue and then email cfo@company.com",
    )
    slow.expect(lambda line: line.get("milestone") == "tool-started")
    slow.kill()

    async with Engine.open(home, operator="alice") as engine:
        mid_run = [t for t in await engine.threads() if t.status == "running"]
        assert [t.task for t in mid_run] == ["search for revenue and then email cfo@company.com"]
        assert await engine.resume() == [mid_run[0].id]
        await engine.wait()
        history = await engine.history(mid_run[0].id)
        searched = [h for h in history if h.kind == ToolExecuted.KIND]
        assert "revenue.txt" in searched[0].body["result"]
        [approval] = await engine.pending(mid_run[0].id)
        assert (approval.tool, approval.args["to"]) == ("send_email", "cfo@company.com")
        assert (await engine.thread(mid_run[0].id)).status == "waiting"


async def test_a_tool_killed_mid_call_is_not_run_again_on_its_own(home: Home) -> None:
    approval_id = _paused_in_child(home)
    killed_mid_call(home, approval_id, "send_email")
    attempts = home.sandbox / "attempts.log"
    assert len(attempts.read_text().splitlines()) == 1

    async with Engine.open(home, operator="alice") as engine:
        await engine.resume()
        await engine.wait()
        [unknown] = await engine.pending()
        assert unknown.kind == "outcome_unknown"
        assert unknown.tool == "send_email"
        assert (await engine.thread(unknown.thread_id)).status == "unknown"

        # Restarting again changes nothing: still one attempt, still asking.
        await engine.resume()
        await engine.wait()
        assert [a.id for a in await engine.pending()] == [unknown.id]
        assert len(attempts.read_text().splitlines()) == 1

        await engine.decide(unknown.id, Respond("I checked: it was sent."))
        await engine.wait(unknown.thread_id)
        thread = await engine.thread(unknown.thread_id)
        assert thread.status == "done"
        assert "I checked: it was sent." in (thread.answer or "")
        kinds = [e.kind for e in await engine.audit(thread=unknown.thread_id)]
        assert kinds[-3:] == ["outcome_unknown", "outcome_resolved", "outcome_settled"]
        assert (await engine.verify_audit()).ok
    assert len(attempts.read_text().splitlines()) == 1
    assert not list(home.outbox.glob("*.eml"))


async def test_an_outcome_unknown_call_can_be_run_again_on_purpose(home: Home) -> None:
    approval_id = _paused_in_child(home)
    killed_mid_call(home, approval_id, "send_email")

    async with Engine.open(home, operator="alice") as engine:
        await engine.resume()
        await engine.wait()
        [unknown] = await engine.pending()
        await engine.decide(unknown.id, Approve())
        await engine.wait(unknown.thread_id)
        assert (await engine.thread(unknown.thread_id)).status == "done"
    assert len(list(home.outbox.glob("*.eml"))) == 1


async def test_two_processes_racing_on_one_approval_one_wins(home: Home) -> None:
    approval_id = _paused_in_child(home)
    racers = [Child(home, "decide", approval_id, "approve") for _ in range(2)]
    for racer in racers:
        racer.expect(lambda line: line.get("milestone") == "ready")
    for racer in racers:
        racer.send("go")
    outcomes = [
        racer.expect(lambda line: line.get("milestone") in ("decided", "refused"))
        for racer in racers
    ]
    for racer in racers:
        racer.finish()
    assert sorted(o["milestone"] for o in outcomes) == ["decided", "refused"]
    [refused] = [o for o in outcomes if o["milestone"] == "refused"]
    assert f"approval {approval_id} was already decided at" in refused["error"]
    assert refused["error"].endswith("approved by child-decide")
    assert len(list(home.outbox.glob("*.eml"))) == 1


async def test_a_thread_held_by_a_live_process_is_not_run_by_another(home: Home) -> None:
    home.create()
    (home.sandbox / "revenue.txt").write_text("Q3 revenue: 4.2M")
    owner = Child(home, "--slow", "search=60", "start", "search for revenue")
    owner.expect(lambda line: line.get("milestone") == "tool-started")
    attempts = home.sandbox / "attempts.log"

    async with Engine.open(home, operator="alice") as engine:
        [thread] = await engine.threads()
        await engine.resume()
        await engine.wait()
        assert len(attempts.read_text().splitlines()) == 1
        assert await engine.lease_holder(thread.id) == (engine._store.leases.host, owner.proc.pid)

        owner.kill()  # its lease dies with it: this engine may now take the thread over
        await engine.resume()
        await engine.wait()
        assert (await engine.thread(thread.id)).status == "done"


async def test_a_decision_made_in_another_process_reaches_subscribers(home: Home) -> None:
    async with Engine.open(home, operator="alice") as engine:
        thread = await engine.start(EMAIL_TASK)
        await engine.wait(thread.id)
        [approval] = await engine.pending()
        with engine.subscribe() as events:
            other = Child(home, "decide", approval.id, "approve")
            other.expect(lambda line: line.get("milestone") == "ready")
            other.send("go")
            async with asyncio.timeout(30):
                async for event in events:
                    if isinstance(event, ApprovalDecided):
                        break
            other.finish()
        assert (event.approval.id, event.operator) == (approval.id, "child-decide")
        await engine.wait(thread.id)
        assert len(list(home.outbox.glob("*.eml"))) == 1
