"""Reject, edit, respond and multi-approval flows through the engine's public API."""

from __future__ import annotations

import pytest

from engine import (
    AlreadyDecided,
    Approve,
    Edit,
    Home,
    InvalidArguments,
    InvalidDecision,
    Policy,
    Reject,
    Respond,
    UnknownApproval,
)
from engine.engine import Engine
from engine.events import ApprovalDecided, MessageAdded, ToolExecuted


async def _paused(engine: Engine, task: str) -> tuple[str, list]:
    thread = await engine.start(task)
    await engine.wait(thread.id)
    return thread.id, await engine.pending(thread.id)


async def test_reject_tells_the_model_why_and_runs_nothing(engine: Engine, home: Home) -> None:
    thread_id, [approval] = await _paused(engine, "email the Q3 report to boss@company.com")
    with engine.subscribe() as events:
        await engine.decide(approval.id, Reject("the report is not final yet"))
        await engine.wait(thread_id)
        seen = events.drain()
    assert not list(home.outbox.glob("*.eml"))
    assert not any(isinstance(e, ToolExecuted) for e in seen)
    tool_messages = [e for e in seen if isinstance(e, MessageAdded) and e.role == "tool"]
    assert "the report is not final yet" in tool_messages[0].content
    thread = await engine.thread(thread_id)
    assert thread.status == "done"
    assert "not carried out" in (thread.answer or "")
    [decided] = [e for e in seen if isinstance(e, ApprovalDecided)]
    assert (decided.decision, decided.operator, decided.final) == ("reject", "alice", True)


async def test_edit_runs_the_edited_call_and_tells_the_model(engine: Engine, home: Home) -> None:
    thread_id, [approval] = await _paused(engine, "email the Q3 report to boss@company.com")
    edited = dict(approval.args, to="cfo@company.com")
    with engine.subscribe() as events:
        result = await engine.decide(approval.id, Edit(edited))
        await engine.wait(thread_id)
        seen = events.drain()
    assert result.status == "edited"
    [sent] = list(home.outbox.glob("*.eml"))
    assert "To: cfo@company.com" in sent.read_text()
    [tool_message] = [e for e in seen if isinstance(e, MessageAdded) and e.role == "tool"]
    assert '"boss@company.com" -> "cfo@company.com"' in tool_message.content
    assert "Do not re-issue" in tool_message.content


async def test_invalid_edit_is_refused_and_changes_nothing(engine: Engine, home: Home) -> None:
    thread_id, [approval] = await _paused(engine, "email the Q3 report to boss@company.com")
    with pytest.raises(InvalidArguments, match=r"to: String should match pattern"):
        await engine.decide(approval.id, Edit(dict(approval.args, to="not-an-address")))
    with pytest.raises(InvalidArguments, match=r"subject: Field required"):
        await engine.decide(approval.id, Edit({"to": "a@b.co", "body": "x"}))
    with pytest.raises(InvalidArguments, match=r"amount: Extra inputs are not permitted"):
        await engine.decide(approval.id, Edit(dict(approval.args, amount=5)))
    assert await engine.pending(thread_id) == [approval]
    assert not list(home.outbox.glob("*.eml"))


async def test_respond_answers_in_place_of_the_tool(engine: Engine, home: Home) -> None:
    thread_id, [approval] = await _paused(engine, "email the Q3 report to boss@company.com")
    await engine.decide(approval.id, Respond("I emailed it myself this morning."))
    await engine.wait(thread_id)
    assert not list(home.outbox.glob("*.eml"))
    thread = await engine.thread(thread_id)
    assert thread.status == "done"
    assert "I emailed it myself this morning." in (thread.answer or "")


async def test_parallel_calls_are_decided_one_by_one(engine: Engine, home: Home) -> None:
    (home.sandbox / "old.txt").parent.mkdir(parents=True, exist_ok=True)
    (home.sandbox / "old.txt").write_text("stale")
    thread_id, approvals = await _paused(
        engine, "email the Q3 report to boss@company.com and delete file old.txt"
    )
    by_tool = {a.tool: a for a in approvals}
    assert set(by_tool) == {"send_email", "delete_file"}

    await engine.decide(by_tool["delete_file"].id, Approve())
    await engine.wait(thread_id)
    # The approved sibling ran at once; the other is still waiting, untouched.
    assert not (home.sandbox / "old.txt").exists()
    assert not list(home.outbox.glob("*.eml"))
    assert [a.id for a in await engine.pending(thread_id)] == [by_tool["send_email"].id]
    assert (await engine.thread(thread_id)).status == "waiting"

    await engine.decide(by_tool["send_email"].id, Reject())
    await engine.wait(thread_id)
    assert (await engine.thread(thread_id)).status == "done"
    assert not list(home.outbox.glob("*.eml"))


async def test_high_tier_needs_two_approvals(engine: Engine) -> None:
    thread_id, [approval] = await _paused(engine, "transfer $5000 to acct-991 for invoice 42")
    assert (approval.tier, approval.required, approval.received) == ("high", 2, 0)

    first = await engine.decide(approval.id, Approve(), operator="alice")
    await engine.wait(thread_id)
    assert (first.status, first.received) == ("pending", 1)
    assert await engine.ledger() == []

    second = await engine.decide(approval.id, Approve(), operator="bob")
    await engine.wait(thread_id)
    assert second.status == "approved"
    assert second.approvers == ("alice", "bob")
    [entry] = await engine.ledger()
    assert entry.body["amount"] == 5000.0
    assert entry.body["to_account"] == "acct-991"


async def test_edit_of_a_high_tier_call_needs_another_approval(engine: Engine) -> None:
    thread_id, [approval] = await _paused(engine, "transfer $5000 to acct-991 for invoice 42")
    edited = await engine.decide(approval.id, Edit(dict(approval.args, amount=500.0)))
    assert (edited.status, edited.received, edited.args["amount"]) == ("pending", 1, 500.0)
    await engine.decide(approval.id, Approve(), operator="bob")
    await engine.wait(thread_id)
    [entry] = await engine.ledger()
    assert entry.body["amount"] == 500.0


async def test_a_decided_approval_cannot_be_decided_again(engine: Engine) -> None:
    _thread_id, [approval] = await _paused(engine, "email the Q3 report to boss@company.com")
    await engine.decide(approval.id, Approve())
    with pytest.raises(
        AlreadyDecided, match=r"already decided at \d\d:\d\d:\d\d: approved by alice"
    ):
        await engine.decide(approval.id, Reject("too late"))
    with pytest.raises(UnknownApproval, match="no approval 'nope'"):
        await engine.decide("nope", Approve())
    with pytest.raises(InvalidDecision, match="needs a message"):
        _, [other] = await _paused(engine, "email the deck to cto@company.com")
        await engine.decide(other.id, Respond("   "))


async def test_low_tier_tools_run_without_asking(engine: Engine, home: Home) -> None:
    home.sandbox.mkdir(parents=True, exist_ok=True)
    (home.sandbox / "notes.txt").write_text("quarterly revenue grew 12%")
    thread = await engine.start("search for quarterly revenue")
    await engine.wait(thread.id)
    done = await engine.thread(thread.id)
    assert done.status == "done"
    assert "notes.txt" in (done.answer or "")
    assert await engine.pending() == []


async def test_the_default_policy_denies_deleting_outside_the_sandbox(
    engine: Engine, home: Home
) -> None:
    outside = home.path / "precious.txt"
    outside.write_text("keep me")
    thread = await engine.start("delete file ../precious.txt")
    await engine.wait(thread.id)
    assert await engine.pending() == []
    assert outside.read_text() == "keep me"
    answer = (await engine.thread(thread.id)).answer or ""
    assert "Denied by policy (rule 'path escapes the sandbox'" in answer


async def test_delete_file_itself_refuses_paths_outside_the_sandbox(home: Home) -> None:
    """Defence in depth: even a policy that lets the call through cannot escape."""
    lenient = Policy.from_mapping({"delete_file": "medium"})
    outside = home.path / "precious.txt"
    async with Engine.open(home, policy=lenient) as engine:
        outside.write_text("keep me")
        thread_id, [approval] = await _paused(engine, "delete file ../precious.txt")
        await engine.decide(approval.id, Approve())
        await engine.wait(thread_id)
        assert outside.read_text() == "keep me"
        assert "outside the sandbox" in ((await engine.thread(thread_id)).answer or "")


async def test_identical_tasks_get_distinct_ids_even_when_the_random_part_repeats(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws = iter(["00000000", "00000000", "11111111"])
    monkeypatch.setattr("engine.engine.secrets.token_hex", lambda _: next(draws))
    first = await engine.start("search for revenue")
    second = await engine.start("search for revenue")
    assert (first.id, second.id) == ("00000000-search-for-revenue", "11111111-search-for-revenue")
    await engine.wait()
    assert [t.status for t in await engine.threads()] == ["done", "done"]
