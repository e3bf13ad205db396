"""The engine running people's own graphs (examples/), on SQLite and PostgreSQL: each
interrupt format decided as it allows, the policy on top, effects checked in the outbox
and in the audit log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine import (
    Answer,
    Approve,
    Edit,
    EditDenied,
    Engine,
    Home,
    InvalidArguments,
    InvalidDecision,
    Reject,
    Respond,
    load_graph,
)
from engine.events import MessageAdded, NodeUpdated
from engine.foreign.loading import InvalidInput

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TASK = "Email bob@company.com the notes and delete draft.txt"

POLICY = """\
default_tier = "medium"
[tools]
send_email = "medium"
delete_file = "medium"
write_note = "medium"
[[rules]]
name = "email outside company.com"
tool = "send_email"
when = "!args.to.endsWith('@company.com')"
tier = "high"
[[rules]]
name = "no mail to competitors"
tool = "send_email"
when = "args.to.contains('competitor')"
tier = "deny"
[[rules]]
name = "no deleting reports"
tool = "delete_file"
when = "args.path.contains('report')"
tier = "deny"
[tiers.high]
approvals = 2
distinct_operators = true
"""


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the examples' tools act; draft.txt is there to be deleted."""
    box = tmp_path / "outbox"
    box.mkdir()
    (box / "draft.txt").write_text("draft")
    (box / "old-report.txt").write_text("report")
    monkeypatch.setenv("EXAMPLE_OUTBOX", str(box))
    return box


def emails(box: Path) -> list[Path]:
    return sorted(box.glob("*.eml"))


def notes(box: Path) -> list[str]:
    """The notes the inbox example wrote (not the files the fixture put there)."""
    made = [p for p in box.glob("*.txt") if p.name not in ("draft.txt", "old-report.txt")]
    return [p.read_text().strip() for p in made]


def policy_file(tmp_path: Path, text: str = POLICY) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def graph(spec: str) -> Any:
    return load_graph(f"{EXAMPLES}/{spec}")


@pytest.fixture
async def per_call(home: Home, tmp_path: Path, outbox: Path) -> AsyncIterator[Engine]:
    async with Engine.open(
        home,
        policy=policy_file(tmp_path),
        graphs=[graph("hitl_agent.py:per_call_agent")],
        operator="alice",
    ) as engine:
        yield engine


async def started(engine: Engine, task: str = TASK, **kwargs: Any) -> dict[str, Any]:
    """A thread on the first graph, run until it pauses; its cards by tool."""
    thread = await engine.start(task, graph=engine.graphs[0], **kwargs)
    await asyncio.wait_for(engine.wait(thread.id), 60)
    return {"thread": thread, **{c.tool: c for c in await engine.pending(thread.id)}}


async def tool_messages(engine: Engine, thread_id: str) -> dict[str, str]:
    found = {}
    for entry in await engine.history(thread_id):
        if entry.kind == "MessageAdded" and entry.body.get("role") == "tool":
            found[str(entry.body.get("name"))] = str(entry.body.get("content"))
    return found


async def test_per_call_cards_offer_what_the_middleware_allows_and_run_on_approval(
    per_call: Engine, outbox: Path
) -> None:
    cards = await started(per_call)
    email, delete = cards["send_email"], cards["delete_file"]
    assert (email.format, email.allowed) == (
        "hitl_per_call",
        ("approve", "edit", "reject", "respond"),
    )
    assert delete.allowed == ("approve", "reject")
    assert not email.protected  # the example's tools are not guarded
    assert email.args_schema["properties"].keys() >= {"to", "subject", "body"}

    await per_call.decide(email.id, Approve())
    await per_call.decide(delete.id, Reject("keep the draft"))
    await asyncio.wait_for(per_call.wait(cards["thread"].id), 60)

    [sent] = emails(outbox)
    assert "bob@company.com" in sent.read_text()
    assert (outbox / "draft.txt").exists()
    told = await tool_messages(per_call, cards["thread"].id)
    assert "keep the draft" in told["delete_file"]
    done = await per_call.thread(cards["thread"].id)
    assert done.status == "done" and done.answer and done.answer.startswith("Done.")


async def test_a_decision_the_interrupt_does_not_allow_is_refused_and_changes_nothing(
    per_call: Engine, outbox: Path
) -> None:
    cards = await started(per_call)
    delete = cards["delete_file"]
    for refused in (Edit({"path": "x.txt"}), Respond("done by hand"), Answer(1)):
        with pytest.raises(InvalidDecision, match=r"does not allow|unrecognised"):
            await per_call.decide(delete.id, refused)
    after = await per_call.approval(delete.id)
    assert (after.status, after.version) == ("pending", delete.version)
    assert (outbox / "draft.txt").exists()


async def test_an_edit_is_checked_against_the_tool_s_schema_and_judged_again(
    per_call: Engine, outbox: Path
) -> None:
    email = (await started(per_call))["send_email"]
    with pytest.raises(InvalidArguments, match="to"):
        await per_call.decide(email.id, Edit({"subject": "no address"}))
    # Edited to leave the company: the policy asks two people now, the edit is one.
    outside = {**email.args, "to": "eve@elsewhere.example"}
    edited = await per_call.decide(email.id, Edit(outside))
    assert (edited.status, edited.tier, edited.required) == ("pending", "high", 2)
    assert emails(outbox) == []
    bob = await per_call.decide(email.id, Approve(), operator="bob")
    assert bob.status == "edited"
    await asyncio.wait_for(per_call.wait(email.thread_id), 60)
    [sent] = emails(outbox)
    assert "eve@elsewhere.example" in sent.read_text()


async def test_an_edit_the_policy_denies_is_refused_and_audited(
    per_call: Engine, outbox: Path
) -> None:
    email = (await started(per_call))["send_email"]
    with pytest.raises(EditDenied, match="no mail to competitors"):
        await per_call.decide(email.id, Edit({**email.args, "to": "ceo@competitor.example"}))
    after = await per_call.approval(email.id)
    assert (after.status, after.args) == ("pending", email.args)
    assert [e.kind for e in await per_call.audit() if e.kind == "edit_refused"] == ["edit_refused"]
    assert emails(outbox) == []


async def test_the_policy_decides_low_and_deny_alone_and_asks_two_people_for_high(
    home: Home, tmp_path: Path, outbox: Path
) -> None:
    policy = POLICY.replace('delete_file = "medium"', 'delete_file = "low"')
    async with Engine.open(
        home,
        policy=policy_file(tmp_path, policy),
        graphs=[graph("hitl_agent.py:per_call_agent")],
        operator="alice",
    ) as engine:
        # low: draft.txt is deleted with nobody asked; the email leaves the company: high
        cards = await started(engine, "Email eve@elsewhere.example and delete draft.txt")
        assert "delete_file" not in cards
        await asyncio.wait_for(engine.wait(cards["thread"].id), 60)
        assert not (outbox / "draft.txt").exists()
        email = cards["send_email"]
        assert (email.tier, email.required, email.distinct_operators) == ("high", 2, True)
        await engine.decide(email.id, Approve())
        assert emails(outbox) == []  # one of two
        with pytest.raises(InvalidDecision, match="another operator"):
            await engine.decide(email.id, Approve())  # four-eyes
        await engine.decide(email.id, Approve(), operator="bob")
        await asyncio.wait_for(engine.wait(cards["thread"].id), 60)
        assert len(emails(outbox)) == 1

        # deny: the rule's reason is the model's answer, the report stays
        denied = await started(engine, "Email bob@company.com and delete old-report.txt")
        assert "delete_file" not in denied
        await engine.decide(denied["send_email"].id, Approve())
        await asyncio.wait_for(engine.wait(denied["thread"].id), 60)
        assert (outbox / "old-report.txt").exists()
        told = await tool_messages(engine, denied["thread"].id)
        assert "no deleting reports" in told["delete_file"]

        entries = await engine.audit()
        auto = [e for e in entries if e.kind == "decision" and e.operator == "policy:auto"]
        assert {(e.tool, e.body["status"]) for e in auto} == {
            ("delete_file", "approved"),
            ("delete_file", "rejected"),
        }
        assert (await engine.verify_audit()).ok


async def test_a_batched_review_is_sent_once_every_action_is_decided(
    home: Home, tmp_path: Path, outbox: Path
) -> None:
    async with Engine.open(
        home,
        policy=policy_file(tmp_path),
        graphs=[graph("hitl_agent.py:batched_agent")],
        operator="alice",
    ) as engine:
        cards = await started(engine)
        email, delete = cards["send_email"], cards["delete_file"]
        assert (email.format, email.action_index, email.action_count) == ("hitl_batched", 0, 2)
        assert delete.id.endswith("-1") and delete.interrupt == email.interrupt
        await engine.decide(email.id, Approve())
        await asyncio.wait_for(engine.wait(cards["thread"].id), 60)
        assert emails(outbox) == []  # held until the other is decided
        assert (await engine.thread(cards["thread"].id)).status == "waiting"
        await engine.decide(delete.id, Approve())
        await asyncio.wait_for(engine.wait(cards["thread"].id), 60)
        assert len(emails(outbox)) == 1
        assert not (outbox / "draft.txt").exists()
        assert (await engine.thread(cards["thread"].id)).status == "done"


async def test_an_agent_inbox_card_is_answered_in_the_inbox_s_words(
    home: Home, tmp_path: Path, outbox: Path
) -> None:
    async with Engine.open(
        home,
        policy=policy_file(tmp_path),
        graphs=[graph("inbox_agent.py:graph")],
        operator="alice",
    ) as engine:
        cards = await started(engine, "Note for standup: ship v2")
        note = cards["write_note"]
        assert note.format == "agent_inbox"
        edited = {**note.args, "text": "ship v2 on Monday"}
        await engine.decide(note.id, Edit(edited))
        await asyncio.wait_for(engine.wait(cards["thread"].id), 60)
        assert notes(outbox) == ["ship v2 on Monday"]


async def test_a_graph_without_messages_starts_from_checked_input_and_takes_a_json_answer(
    home: Home, tmp_path: Path, outbox: Path
) -> None:
    async with Engine.open(
        home, policy=policy_file(tmp_path), graphs=[graph("plain_interrupt.py:graph")]
    ) as engine:
        name = engine.graphs[0]
        assert not engine.takes_messages(name)
        with pytest.raises(InvalidInput, match="order_id"):
            await engine.start(graph=name, input={"order_id": 5, "amount": 250})
        with pytest.raises(Exception, match="JSON"):
            await engine.start("refund it", graph=name)
        assert await engine.threads() == []  # nothing was written

        thread = await engine.start(graph=name, input={"order_id": "A-7", "amount": 250.0})
        await asyncio.wait_for(engine.wait(thread.id), 60)
        [card] = await engine.pending(thread.id)
        assert (card.kind, card.format, card.allowed) == ("interrupt", "unrecognised", ("answer",))
        assert "A-7" in json.dumps(card.value)
        with pytest.raises(InvalidDecision, match="unrecognised interrupt"):
            await engine.decide(card.id, Approve())
        await engine.decide(card.id, Answer({"refund": 100, "note": "partial"}))
        await asyncio.wait_for(engine.wait(thread.id), 60)
        refund = json.loads((outbox / "refund-A-7.json").read_text())
        assert refund["amount"] == 100
        steps = [e.body["node"] for e in await engine.history(thread.id) if e.kind == "NodeUpdated"]
        assert steps[0] == "input" and "review" in steps and "settle" in steps
        done = await engine.thread(thread.id)
        assert done.status == "done" and "refunded" in (done.answer or "")
        [answered] = [e for e in await engine.audit() if e.kind == "decision"]
        assert answered.body["value"] == {"refund": 100, "note": "partial"}


async def test_a_graph_that_raises_fails_its_thread_and_the_fleet_goes_on(
    home: Home, tmp_path: Path, outbox: Path
) -> None:
    module = tmp_path / "flaky.py"
    module.write_text(
        "from typing import TypedDict\n"
        "from langgraph.graph import StateGraph, START, END\n"
        "class S(TypedDict):\n    n: int\n"
        "def step(s: S) -> dict:\n"
        "    if s['n'] < 0:\n        raise RuntimeError('negative orders are not a thing')\n"
        "    return {'n': s['n'] + 1}\n"
        "b = StateGraph(S)\nb.add_node('step', step)\n"
        "b.add_edge(START, 'step')\nb.add_edge('step', END)\ngraph = b.compile()\n"
    )
    async with Engine.open(home, graphs=[load_graph(f"{module}:graph")]) as engine:
        name = engine.graphs[0]
        bad = await engine.start(graph=name, input={"n": -1})
        good = await engine.start(graph=name, input={"n": 1})
        await asyncio.wait_for(engine.wait(), 60)
        failed, done = await engine.thread(bad.id), await engine.thread(good.id)
        assert failed.status == "failed" and "negative orders" in (failed.error or "")
        assert done.status == "done" and '"n": 2' in (done.answer or "")


async def test_events_of_a_graph_without_messages_are_node_updates(
    home: Home, tmp_path: Path, outbox: Path
) -> None:
    async with Engine.open(home, graphs=[graph("plain_interrupt.py:graph")]) as engine:
        with engine.subscribe() as events:
            thread = await engine.start(
                graph=engine.graphs[0], input={"order_id": "S-1", "amount": 5.0}
            )
            await asyncio.wait_for(engine.wait(thread.id), 60)
            seen = events.drain()
        nodes = [e.node for e in seen if isinstance(e, NodeUpdated)]
        assert nodes[:2] == ["input", "receive"] and "notify" in nodes
        assert not any(isinstance(e, MessageAdded) for e in seen)
        assert (outbox / "refund-S-1.json").exists()  # under 20: refunded without asking
        await asyncio.sleep(1.2)  # the adopter's polls see the thread's checkpoints: once
        kinds = [e.kind for e in await engine.history(thread.id)]
        assert kinds.count("ThreadFinished") == 1


async def test_a_batched_card_is_edited_against_the_schema_of_the_graph_s_tool(
    home: Home, tmp_path: Path, outbox: Path
) -> None:
    async with Engine.open(
        home, policy=policy_file(tmp_path), graphs=[graph("hitl_agent.py:batched_agent")]
    ) as engine:
        email = (await started(engine))["send_email"]
        assert email.args_schema["required"] == ["to", "subject", "body"]
        with pytest.raises(InvalidArguments, match="body"):
            await engine.decide(email.id, Edit({"to": "x@company.com", "subject": "s"}))
        assert (await engine.approval(email.id)).status == "pending"
