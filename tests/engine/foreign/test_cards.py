"""From interrupts to cards and back: the resume waits for every card of an interrupt,
speaks each format, and the policy decides alone only what the card allows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langgraph.types import Interrupt

from engine.foreign.cards import automatic, cards_of, plain, resume_of
from engine.views import ApprovalView

BATCHED = {
    "action_requests": [
        {"name": "send_email", "args": {"to": "a@b.c"}, "description": "mail"},
        {"name": "delete_file", "args": {"path": "x"}, "description": "delete"},
    ],
    "review_configs": [
        {"action_name": "send_email", "allowed_decisions": ["approve", "edit", "reject"]},
        {"action_name": "delete_file", "allowed_decisions": ["approve", "reject"]},
    ],
}
INBOX = [
    {
        "action_request": {"action": "pay", "args": {"amount": 5}},
        "config": {
            "allow_accept": True,
            "allow_edit": True,
            "allow_respond": False,
            "allow_ignore": True,
        },
        "description": "pay?",
    }
]


def card_approval(interrupt: Interrupt, index: int, **changes: Any) -> ApprovalView:
    """The approval row the engine records for one card, decided as ``changes`` say."""
    asked = next(a for a in cards_of([interrupt]) if a.card.index == index)
    card = asked.card
    base = ApprovalView(
        id=f"a{index}",
        thread_id="t",
        kind="tool_approval" if card.format != "unrecognised" else "interrupt",
        tool_call_id=asked.call_id,
        tool=card.tool,
        args=card.args,
        original_args=card.args,
        description=card.description,
        tier="medium",
        reason="",
        required=1,
        received=0,
        status="pending",
        created_at=0.0,
        interrupt_id=asked.key,
        format=card.format,
        action_index=card.index,
        action_count=card.count,
        allowed=card.allowed,
    )
    return replace(base, **changes)


def test_a_batched_interrupt_is_resumed_only_once_every_action_is_decided() -> None:
    item = Interrupt(BATCHED, id="i1")
    first = card_approval(item, 0, status="approved", decision={"type": "approve"})
    assert first.interrupt_id == "i1:0" and first.interrupt == "i1"

    waiting = resume_of([item], [first])
    assert waiting.answers == {} and waiting.applied == []

    second = card_approval(item, 1, status="rejected", decision={"type": "reject", "message": "no"})
    ready = resume_of([item], [second, first])  # in any order: sent in action order
    assert ready.answers == {
        "i1": {"decisions": [{"type": "approve"}, {"type": "reject", "message": "no"}]}
    }
    assert sorted(ready.applied) == ["a0", "a1"]


def test_an_agent_inbox_decision_is_sent_in_its_own_words() -> None:
    item = Interrupt(INBOX, id="i2")
    edited = card_approval(
        item,
        0,
        status="edited",
        args={"amount": 3},
        decision={"type": "edit", "edited_action": {"name": "pay", "args": {"amount": 3}}},
    )
    assert resume_of([item], [edited]).answers == {
        "i2": [{"type": "edit", "args": {"action": "pay", "args": {"amount": 3}}}]
    }
    rejected = card_approval(item, 0, status="rejected", decision={"type": "reject"})
    assert resume_of([item], [rejected]).answers == {"i2": [{"type": "ignore", "args": None}]}


def test_the_engine_s_approval_digest_is_not_sent_to_another_graph() -> None:
    item = Interrupt(
        {
            "type": "tool_approval",
            "tool_call_id": "c1",
            "name": "send_email",
            "args": {},
            "description": "d",
        },
        id="i3",
    )
    approved = card_approval(
        item, 0, status="approved", decision={"type": "approve", "call_digest": "abc"}
    )
    assert resume_of([item], [approved]).answers == {"i3": {"type": "approve"}}


def test_a_decision_whose_interrupt_is_gone_is_not_sent() -> None:
    item = Interrupt(INBOX, id="i4")
    decided = card_approval(item, 0, status="approved", decision={"type": "approve"})
    resume = resume_of([], [decided])
    assert resume.answers == {} and resume.gone == [decided]


def test_an_unrecognised_interrupt_gets_the_answer_as_is() -> None:
    item = Interrupt({"question": "which size?", "options": [1, 2]}, id="i5")
    answered = card_approval(
        item, 0, status="answered", decision={"type": "answer", "value": {"size": 2}}
    )
    assert answered.kind == "interrupt" and answered.allowed == ("answer",)
    assert resume_of([item], [answered]).answers == {"i5": {"size": 2}}


def test_the_policy_decides_alone_only_what_the_card_allows() -> None:
    item = Interrupt(BATCHED, id="i6")
    low = card_approval(item, 0, tier="low")
    assert automatic(low) == {"type": "approve"}
    denied = automatic(card_approval(item, 1, tier="deny", reason="rule no-deletes"))
    assert denied is not None and denied["type"] == "reject"
    assert "no-deletes" in denied["message"]
    assert automatic(card_approval(item, 0, tier="medium")) is None
    assert automatic(card_approval(item, 0, tier="high")) is None
    # An inbox card without ignore (reject) or respond: a deny is left to a person.
    no_way_out = Interrupt([{**INBOX[0], "config": {**INBOX[0]["config"], "allow_ignore": False}}])
    assert automatic(card_approval(no_way_out, 0, tier="deny")) is None
    # The engine's own gate never pauses a low or denied call: nothing to do alone.
    own = card_approval(item, 0, tier="low", format="engine")
    assert automatic(own) is None


def test_any_python_value_is_kept_as_json_can_hold_it() -> None:
    deep: Any = "x"
    for _ in range(300):
        deep = [deep]
    shown = plain({(1, 2): {1, 2}, "when": object, "deep": deep})
    assert set(shown) == {"(1, 2)", "when", "deep"}
    assert isinstance(shown["(1, 2)"], str)
