"""Interrupts of people's own graphs, read as cards and answered in their wire format.

Every format is raised by a real graph (LangChain's HITL middleware in both modes, an
Agent Inbox agent, a plain interrupt) and resumed with ``resume_value``: the test looks
at what the tools then did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from langgraph.types import Command

from engine.errors import InvalidArguments, InvalidDecision
from engine.foreign.formats import (
    FORMAT_LABELS,
    Card,
    DecisionNotAllowed,
    Format,
    check_decision,
    not_allowed,
    read_interrupt,
    resume_value,
)
from engine.gate import DECISION, REQUEST
from tests.engine.foreign.formats_graphs import (
    INTERRUPT_ON,
    Effects,
    call,
    engine_request,
    hitl_agent,
    inbox_graph,
    question_graph,
    tool_messages,
)

ALICE = {"address": "alice@example.com", "name": "Alice"}
BOB = {"address": "bob@example.com", "name": "Bob"}
TASK = {"messages": [{"role": "user", "content": "Email Alice, then delete the report."}]}


def config(thread: str = "t") -> Any:
    return {"configurable": {"thread_id": thread}}


@pytest.fixture
def effects(tmp_path: Path) -> Effects:
    (tmp_path / "report.txt").write_text("Q3 numbers")
    return Effects(tmp_path)


async def paused(graph: Any, task: Any) -> list[Any]:
    await graph.ainvoke(task, config(), version="v2")
    return list((await graph.aget_state(config())).interrupts)


async def resumed(graph: Any, answers: dict[str, Any]) -> dict[str, Any]:
    await graph.ainvoke(Command(resume=answers), config(), version="v2")
    state = await graph.aget_state(config())
    assert not state.interrupts
    return dict(state.values)


def by_tool(interrupts: list[Any]) -> dict[str, tuple[Any, list[Card]]]:
    read = [(i, read_interrupt(i.value, i.response_schema)) for i in interrupts]
    return {cards[0].tool: (i, cards) for i, cards in read}


# LangChain HITL, per call --------------------------------------------------------------


async def test_per_call_cards_offer_what_each_tool_allows(effects: Effects) -> None:
    agent = hitl_agent(
        effects,
        "per_call",
        [
            call("send_email", to=ALICE, subject="Q3"),
            call("delete_file", path="report.txt"),
            call("schedule", when="Monday"),
        ],
    )
    interrupts = await paused(agent, TASK)
    cards = by_tool(interrupts)
    (_, [email]), (_, [delete]), (_, [ask]) = (cards[t] for t in INTERRUPT_ON)
    calls = (await agent.aget_state(config())).values["messages"][-1].tool_calls

    assert email.format == "hitl_per_call" and (email.index, email.count) == (0, 1)
    assert email.args == {"to": ALICE, "subject": "Q3"}
    assert email.tool_call_id == next(c["id"] for c in calls if c["name"] == "send_email")
    assert email.allowed == ("approve", "edit", "reject", "respond")
    assert delete.allowed == ("approve", "reject")
    assert delete.args_schema is None
    assert ask.allowed == ("respond",)  # a one-decision schema is that decision's object
    # The tool's own argument schema, its $refs resolved within itself.
    assert email.args_schema is not None
    jsonschema.validate({"to": BOB, "subject": "Hi", "cc": [ALICE]}, email.args_schema)
    for wrong in ({"to": "bob", "subject": "Hi"}, {"to": BOB, "subject": "Hi", "cc": [{}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, email.args_schema)


EDIT_TO_BOB = {
    "type": "edit",
    "edited_action": {"name": "send_email", "args": {"to": BOB, "subject": "Q3 (fixed)"}},
}


@pytest.mark.parametrize(
    ("email_decision", "delete_decision", "sent", "deleted"),
    [
        (
            {"type": "approve"},
            {"type": "approve"},
            [{"to": ALICE["address"], "subject": "Q3"}],
            True,
        ),
        (
            EDIT_TO_BOB,
            {"type": "reject", "message": "Keep the report."},
            [{"to": BOB["address"], "subject": "Q3 (fixed)"}],
            False,
        ),
        ({"type": "respond", "message": "Queued for Monday."}, {"type": "reject"}, [], False),
    ],
    ids=["approve", "edit-and-reject-with-reason", "respond-and-reject"],
)
async def test_per_call_decisions_take_effect(
    effects: Effects,
    email_decision: dict[str, Any],
    delete_decision: dict[str, Any],
    sent: list[dict[str, Any]],
    deleted: bool,
) -> None:
    agent = hitl_agent(
        effects,
        "per_call",
        [call("send_email", to=ALICE, subject="Q3"), call("delete_file", path="report.txt")],
    )
    cards = by_tool(await paused(agent, TASK))
    decisions = {"send_email": email_decision, "delete_file": delete_decision}
    answers = {i.id: resume_value(c, [decisions[tool]]) for tool, (i, c) in cards.items()}

    results = tool_messages(await resumed(agent, answers))

    assert effects.sent == sent
    assert (effects.root / "report.txt").exists() is not deleted
    if email_decision["type"] == "respond":
        assert results["send_email"].content == "Queued for Monday."
    if delete_decision.get("message"):
        assert "Keep the report." in str(results["delete_file"].content)
    if delete_decision == {"type": "reject"}:
        assert results["delete_file"].status == "error"
        assert "not executed" in str(results["delete_file"].content)


async def test_a_decision_the_tool_does_not_allow_is_refused_before_resuming(
    effects: Effects,
) -> None:
    agent = hitl_agent(effects, "per_call", [call("delete_file", path="report.txt")])
    [interrupt] = await paused(agent, TASK)
    cards = read_interrupt(interrupt.value, interrupt.response_schema)
    edit = {"type": "edit", "edited_action": {"name": "delete_file", "args": {"path": "x"}}}

    with pytest.raises(DecisionNotAllowed) as refused:
        resume_value(cards, [edit])

    assert str(refused.value) == "delete_file does not allow 'edit' (allowed: approve, reject)"
    assert not_allowed(cards[0], "edit") == str(refused.value)
    assert not_allowed(cards[0], "respond") is not None
    assert not_allowed(cards[0], "approve") is None
    assert (effects.root / "report.txt").exists()


async def test_edited_arguments_the_tool_refuses_are_refused_before_resuming(
    effects: Effects,
) -> None:
    """LangGraph would refuse them too, but only on resume, and a resume that answers
    several calls at once may have run some of them by then."""
    agent = hitl_agent(effects, "per_call", [call("send_email", to=ALICE, subject="Q3")])
    [interrupt] = await paused(agent, TASK)
    [card] = read_interrupt(interrupt.value, interrupt.response_schema)
    edit = {"type": "edit", "edited_action": {"name": "send_email", "args": {"to": "bob"}}}

    with pytest.raises(InvalidArguments) as refused:
        check_decision(card, edit)

    assert str(refused.value) == (
        "the edited arguments of send_email are invalid: (arguments): 'subject' is a "
        "required property; to: 'bob' is not of type 'object'"
    )
    with pytest.raises(InvalidArguments):
        resume_value([card], [edit])
    check_decision(card, EDIT_TO_BOB)
    with pytest.raises(InvalidDecision, match="needs a message"):
        check_decision(card, {"type": "respond"})
    assert effects.sent == []


# LangChain HITL, batched ---------------------------------------------------------------


async def test_batched_cards_pair_each_action_with_its_review_config(effects: Effects) -> None:
    agent = hitl_agent(
        effects,
        "batched",
        [
            call("send_email", to=ALICE, subject="Q3"),
            call("delete_file", path="report.txt"),
            call("schedule", when="Monday 10:00"),
        ],
    )
    [interrupt] = await paused(agent, TASK)
    cards = read_interrupt(interrupt.value, interrupt.response_schema)

    assert [(c.format, c.index, c.count, c.tool) for c in cards] == [
        ("hitl_batched", 0, 3, "send_email"),
        ("hitl_batched", 1, 3, "delete_file"),
        ("hitl_batched", 2, 3, "schedule"),
    ]
    assert [c.allowed for c in cards] == [
        ("approve", "edit", "reject", "respond"),
        ("approve", "reject"),
        ("respond",),
    ]
    assert cards[1].args == {"path": "report.txt"} and cards[1].tool_call_id == ""
    assert "delete_file" in cards[1].description


async def test_batched_mixed_decisions_resume_in_action_order(effects: Effects) -> None:
    agent = hitl_agent(
        effects,
        "batched",
        [
            call("send_email", to=ALICE, subject="Q3"),
            call("delete_file", path="report.txt"),
            call("schedule", when="Monday 10:00"),
            call("send_email", to=ALICE, subject="Draft"),
        ],
    )
    [interrupt] = await paused(agent, TASK)
    cards = read_interrupt(interrupt.value)
    decisions = [
        {"type": "approve"},
        {"type": "reject", "message": "Keep the report."},
        {"type": "respond", "message": "Monday is a holiday."},
        EDIT_TO_BOB,
    ]

    values = await resumed(agent, {interrupt.id: resume_value(cards, decisions)})

    assert effects.sent == [
        {"to": ALICE["address"], "subject": "Q3"},
        {"to": BOB["address"], "subject": "Q3 (fixed)"},
    ]
    assert (effects.root / "report.txt").exists()
    assert effects.scheduled == []
    results = tool_messages(values)
    assert "Keep the report." in str(results["delete_file"].content)
    assert results["schedule"].content == "Monday is a holiday."


async def test_batched_refuses_a_decision_one_action_does_not_allow(effects: Effects) -> None:
    agent = hitl_agent(
        effects,
        "batched",
        [call("send_email", to=ALICE, subject="Q3"), call("schedule", when="Monday")],
    )
    [interrupt] = await paused(agent, TASK)
    cards = read_interrupt(interrupt.value)

    with pytest.raises(DecisionNotAllowed, match=r"schedule does not allow 'approve'"):
        resume_value(cards, [{"type": "approve"}, {"type": "approve"}])
    with pytest.raises(InvalidDecision, match="may not switch the tool"):
        switched = {"type": "edit", "edited_action": {"name": "delete_file", "args": {"path": "x"}}}
        resume_value(cards, [switched, {"type": "respond", "message": "Not Monday."}])
    with pytest.raises(ValueError, match="1 decisions for an interrupt of 2"):
        resume_value(cards, [{"type": "approve"}])
    with pytest.raises(ValueError, match="not one whole interrupt"):
        resume_value(cards[1:], [{"type": "reject"}])


# Agent Inbox ---------------------------------------------------------------------------


async def test_agent_inbox_cards_and_responses(effects: Effects) -> None:
    graph = inbox_graph(effects)
    actions = [
        {"name": "send_email", "args": {"to": ALICE, "subject": "Q3"}},
        {"name": "delete_file", "args": {"path": "report.txt"}},
        {"name": "send_email", "args": {"to": ALICE, "subject": "Draft"}},
        {"name": "send_email", "args": {"to": ALICE, "subject": "Later"}},
    ]
    [interrupt] = await paused(graph, {"actions": actions})
    cards = read_interrupt(interrupt.value, interrupt.response_schema)

    assert [(c.format, c.index, c.count, c.tool) for c in cards] == [
        ("agent_inbox", i, 4, a["name"]) for i, a in enumerate(actions)
    ]
    assert cards[0].allowed == ("approve", "edit", "reject", "respond")
    assert cards[1].allowed == ("approve", "reject")
    assert cards[1].description == "The agent wants to delete_file."
    decisions = [
        EDIT_TO_BOB,
        {"type": "reject", "message": "Keep the report."},
        {"type": "approve"},
        {"type": "respond", "message": "Send it next week."},
    ]

    values = await resumed(graph, {interrupt.id: resume_value(cards, decisions)})

    assert effects.sent == [
        {"to": BOB["address"], "subject": "Q3 (fixed)"},
        {"to": ALICE["address"], "subject": "Draft"},
    ]
    assert (effects.root / "report.txt").exists()
    assert values["replies"] == ["Send it next week."]


async def test_agent_inbox_lone_interrupt_is_answered_with_a_list(effects: Effects) -> None:
    graph = inbox_graph(effects, as_list=False)
    [interrupt] = await paused(
        graph, {"actions": [{"name": "delete_file", "args": {"path": "report.txt"}}]}
    )
    [card] = read_interrupt(interrupt.value)
    assert (card.format, card.tool, card.count) == ("agent_inbox", "delete_file", 1)

    await resumed(graph, {interrupt.id: resume_value([card], [{"type": "approve"}])})

    assert not (effects.root / "report.txt").exists()


# Our own gate --------------------------------------------------------------------------


def test_engine_requests_are_read_and_answered_in_the_gates_own_shapes() -> None:
    value = engine_request()
    REQUEST.validate_python(value)  # the helper builds what the gate builds
    [card] = read_interrupt(value)

    assert (card.format, card.tool, card.tool_call_id) == ("engine", "send_email", "call-1")
    assert card.allowed == ("approve", "edit", "reject", "respond")
    assert card.args_schema == value["args_schema"]
    for decision in (
        {"type": "approve"},
        {
            "type": "edit",
            "edited_action": {"name": "send_email", "args": {"to": "b", "subject": "s"}},
        },
        {"type": "reject", "message": "No."},
        {"type": "respond", "message": "Done by hand."},
    ):
        wire = resume_value([card], [decision])
        assert wire == decision
        assert DECISION.validate_python(wire).type == decision["type"]


def test_an_outcome_unknown_request_cannot_be_edited() -> None:
    [card] = read_interrupt(engine_request("outcome_unknown"))

    assert card.allowed == ("approve", "reject", "respond")
    assert (
        not_allowed(card, "edit")
        == "send_email does not allow 'edit' (allowed: approve, reject, respond)"
    )


# Anything else -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["Which region?", {"question": "Which region?", "options": ["eu", "us"]}, None, [1, 2]],
    ids=["text", "dict", "none", "list"],
)
async def test_an_unrecognised_interrupt_takes_a_json_answer(value: Any) -> None:
    graph = question_graph(value)
    [interrupt] = await paused(graph, {})
    [card] = read_interrupt(interrupt.value, interrupt.response_schema)
    assert (card.format, card.tool, card.args, card.allowed) == (
        "unrecognised",
        "",
        {},
        ("answer",),
    )
    assert card.value == value
    answer = {"region": "eu", "seats": [1, 2], "confirmed": True, "note": None}

    values = await resumed(
        graph, {interrupt.id: resume_value([card], [{"type": "answer", "value": answer}])}
    )

    assert values["answer"] == answer


def test_an_unrecognised_card_refuses_tool_decisions() -> None:
    [card] = read_interrupt("Which region?")
    with pytest.raises(
        DecisionNotAllowed, match=r"this interrupt does not allow 'approve' \(allowed: answer\)"
    ):
        resume_value([card], [{"type": "approve"}])
    with pytest.raises(InvalidDecision, match="needs a value"):
        resume_value([card], [{"type": "answer"}])
    assert resume_value([card], [{"type": "answer", "value": None}]) is None


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": True}
    for _ in range(depth):
        value = {"inner": value}
    return value


PER_CALL = {
    "type": "tool_approval",
    "tool_call_id": "c1",
    "name": "send_email",
    "args": {"to": "a"},
    "description": "d",
}
BATCHED = {
    "action_requests": [{"name": "send_email", "args": {"to": "a"}}],
    "review_configs": [{"action_name": "send_email", "allowed_decisions": ["approve"]}],
}
INBOX = {
    "action_request": {"action": "send_email", "args": {"to": "a"}},
    "config": {
        "allow_accept": True,
        "allow_edit": False,
        "allow_respond": False,
        "allow_ignore": True,
    },
}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


@pytest.mark.parametrize(
    "value",
    [
        42,
        3.5,
        b"bytes",
        object(),
        {},
        [],
        {1: "x", (2, 3): "y"},
        nested(100),
        [[[[[]]]]],
        with_(PER_CALL, args="to=a"),
        with_(PER_CALL, args={1: "a"}),
        with_(PER_CALL, name=7),
        {k: v for k, v in PER_CALL.items() if k != "description"},
        with_(engine_request(), args=["to", "a"]),
        with_(BATCHED, action_requests=[]),
        with_(BATCHED, action_requests=[{"name": "send_email", "args": "x"}]),
        with_(BATCHED, review_configs=[]),
        with_(BATCHED, review_configs=BATCHED["review_configs"] * 2),
        with_(BATCHED, review_configs=[{"action_name": "send_email", "allowed_decisions": []}]),
        with_(
            BATCHED, review_configs=[{"action_name": "send_email", "allowed_decisions": ["defer"]}]
        ),
        with_(INBOX, config={"allow_accept": "yes"}),
        with_(INBOX, config={}),
        [INBOX, {"action_request": {"action": "x"}, "config": {}}],
        [INBOX, "and a string"],
    ],
)
def test_malformed_values_are_one_unrecognised_card(value: Any) -> None:
    cards = read_interrupt(value)

    assert len(cards) == 1
    assert (cards[0].format, cards[0].allowed, cards[0].tool) == ("unrecognised", ("answer",), "")
    assert cards[0].value is value


@pytest.mark.parametrize(
    "schema",
    [
        {"oneOf": "approve"},
        {"oneOf": []},
        {"oneOf": [{"$ref": "#/$defs/Missing"}]},
        {"$ref": "#"},
        {"$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A"}}, "$ref": "#/$defs/A"},
        {"properties": {"type": {"const": "defer"}}},
        {"type": "object"},
    ],
    ids=[
        "oneOf-text",
        "no-branches",
        "dangling-ref",
        "self-ref",
        "ref-cycle",
        "unknown-type",
        "untyped",
    ],
)
def test_a_per_call_value_with_an_unreadable_schema_is_answered_raw(schema: dict[str, Any]) -> None:
    [card] = read_interrupt(PER_CALL, schema)

    assert (card.format, card.allowed, card.args_schema) == ("unrecognised", ("answer",), schema)


def test_deep_and_wide_values_are_read_without_recursing() -> None:
    deep = with_(PER_CALL, args={"payload": nested(5_000)})
    [card] = read_interrupt(deep)
    assert (card.format, card.tool) == ("hitl_per_call", "send_email")
    assert card.allowed == ("approve", "edit", "reject", "respond")  # no schema: all four

    wide = {
        "action_requests": [{"name": "t", "args": {"i": i}} for i in range(10_000)],
        "review_configs": [{"action_name": "t", "allowed_decisions": ["approve"]}] * 10_000,
    }
    cards = read_interrupt(wide)
    assert len(cards) == 10_000 and cards[-1].args == {"i": 9_999}
    assert resume_value(cards, [{"type": "approve"}] * 10_000)["decisions"][-1] == {
        "type": "approve"
    }


def test_a_batched_review_config_is_found_by_its_tool_name() -> None:
    """The middleware keys configs by tool; a producer that lists them in another order
    still gets each action its own."""
    value = {
        "action_requests": [
            {"name": "send_email", "args": {}},
            {"name": "delete_file", "args": {}},
        ],
        "review_configs": [
            {"action_name": "delete_file", "allowed_decisions": ["reject"]},
            {"action_name": "send_email", "allowed_decisions": ["approve", "edit"]},
        ],
    }
    assert [c.allowed for c in read_interrupt(value)] == [("approve", "edit"), ("reject",)]


def test_every_format_has_a_label() -> None:
    formats: tuple[Format, ...] = (
        "engine",
        "hitl_per_call",
        "hitl_batched",
        "agent_inbox",
        "unrecognised",
    )
    assert set(FORMAT_LABELS) == set(formats)
    assert FORMAT_LABELS["hitl_per_call"] == "LangChain HITL (per call)"
    assert FORMAT_LABELS["unrecognised"] == "unrecognised interrupt"
