"""Events have an identity: a kind that never changes in the journal, a seq and a time.

Rows written by the previous release must read back as the same events, or an upgrade
would silently lose every home's history; and rows written now must read in the previous
release (test_compatibility.py), or a rollback would.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from typing import Any

import pytest

import engine.events as events
from engine import ApprovalView, Home, ThreadView
from engine.engine import Engine
from engine.event_codec import decode, encode
from engine.events import (
    EVENT_TYPES,
    ApprovalDecided,
    ApprovalExpiring,
    ApprovalRequested,
    ApprovalWithdrawn,
    CallDenied,
    Event,
    EventsDropped,
    MessageAdded,
    NodeUpdated,
    SourceReachable,
    SourceUnreachable,
    ThreadFailed,
    ThreadFinished,
    ThreadStarted,
    ThreadStatusChanged,
    ToolExecuted,
    event_kind,
)
from engine.subscription import Subscription
from engine.views import HistoryEntry
from tests.cli.test_cli import hitl
from tests.conftest import run_sql

EMAIL = "email the Q3 report to boss@company.com"

RELEASED_KINDS = {
    "ThreadStarted",
    "MessageAdded",
    "ApprovalRequested",
    "ApprovalDecided",
    "ToolExecuted",
    "CallDenied",
    "ApprovalExpiring",
    "ThreadStatusChanged",
    "ThreadFinished",
    "ThreadFailed",
    "ApprovalWithdrawn",
    "NodeUpdated",
}
"""The kinds journal rows carry since the journal's first release (the class names
then; ApprovalWithdrawn and NodeUpdated since graphs of one's own). Older and newer
versions on one home read each other's rows by them."""

# A thread and an approval as the previous release wrote them into journal bodies.
OLD_THREAD: dict[str, Any] = {
    "id": "t1-pay",
    "title": "pay",
    "task": "pay the invoice",
    "model": "scripted",
    "status": "waiting",
    "created_at": 100.0,
    "updated_at": 101.5,
    "error": None,
    "answer": None,
    "pending": 0,
}
OLD_APPROVAL: dict[str, Any] = {
    "id": "a1b2c3d4",
    "thread_id": "t1-pay",
    "kind": "tool_approval",
    "tool_call_id": "call_1",
    "tool": "send_email",
    "args": {"to": "boss@company.com"},
    "original_args": {"to": "boss@company.com"},
    "description": "Send an email.",
    "tier": "medium",
    "reason": "email leaves the company",
    "required": 1,
    "received": 0,
    "status": "pending",
    "created_at": 100.5,
    "interrupt_id": "i" * 32,
    "args_schema": {},
    "approvers": ["alice"],
    "decision": None,
    "decided_by": None,
    "decided_at": None,
    "version": 0,
    "rules": ["external-email"],
    "distinct_operators": False,
    "expires_at": 200.0,
    "policy_digest": "abc",
    "edited_by": None,
}
OLD_CALL = {"name": "send_email", "args": {"to": "boss@company.com"}, "id": "call_1"}
OLD_ROWS: list[tuple[str, str | None, dict[str, Any]]] = [
    ("ThreadStarted", None, {"thread": OLD_THREAD}),
    (
        "MessageAdded",
        "message:msg-1",
        {
            "thread_id": "t1-pay",
            "role": "assistant",
            "content": "sending",
            "tool_calls": [OLD_CALL],
            "tool_call_id": None,
            "name": None,
            "message_id": "msg-1",
        },
    ),
    ("ApprovalRequested", None, {"approval": OLD_APPROVAL}),
    (
        "ApprovalDecided",
        None,
        {"approval": OLD_APPROVAL, "decision": "approve", "operator": "alice", "final": True},
    ),
    (
        "ToolExecuted",
        None,
        {
            "thread_id": "t1-pay",
            "tool_call_id": "call_1",
            "tool": "send_email",
            "args": {"to": "boss@company.com"},
            "result": "sent",
            "ok": True,
            "gated": True,
        },
    ),
    (
        "CallDenied",
        "denied:call_2",
        {
            "thread_id": "t1-pay",
            "tool_call_id": "call_2",
            "tool": "delete_files",
            "args": {"path": "/"},
            "reason": "never",
        },
    ),
    ("ApprovalExpiring", None, {"approval": OLD_APPROVAL}),
    ("ThreadStatusChanged", None, {"thread": OLD_THREAD}),
    ("ThreadFinished", None, {"thread": OLD_THREAD}),
    ("ThreadFailed", None, {"thread": OLD_THREAD}),
]

THREAD = ThreadView("t1-pay", "pay", "pay the invoice", "scripted", "waiting", 100.0, 101.5)
APPROVAL = ApprovalView(
    id="a1b2c3d4",
    thread_id="t1-pay",
    kind="tool_approval",
    tool_call_id="call_1",
    tool="send_email",
    args={"to": "boss@company.com"},
    original_args={"to": "boss@company.com"},
    description="Send an email.",
    tier="medium",
    reason="email leaves the company",
    required=1,
    received=0,
    status="pending",
    created_at=100.5,
    interrupt_id="i" * 32,
    approvers=("alice",),
    rules=("external-email",),
    expires_at=200.0,
    policy_digest="abc",
)
OLD_EVENTS: list[Event] = [
    ThreadStarted(THREAD),
    MessageAdded("t1-pay", "assistant", "sending", (OLD_CALL,), message_id="msg-1"),
    ApprovalRequested(APPROVAL),
    ApprovalDecided(APPROVAL, "approve", "alice", True),
    ToolExecuted("t1-pay", "call_1", "send_email", {"to": "boss@company.com"}, "sent", True, True),
    CallDenied("t1-pay", "call_2", "delete_files", {"path": "/"}, "never"),
    ApprovalExpiring(APPROVAL),
    ThreadStatusChanged(THREAD),
    ThreadFinished(THREAD),
    ThreadFailed(THREAD),
]
"""What each of OLD_ROWS holds, made the way the engine makes events today."""

SAMPLES: list[Event] = [
    *OLD_EVENTS,
    MessageAdded("t1-pay", "tool", "sent", tool_call_id="call_1", name="send_email"),
    ApprovalDecided(replace(APPROVAL, status="edited", edited_by="bob"), "edit", "bob", False),
    ApprovalWithdrawn(
        replace(
            APPROVAL, status="withdrawn", format="hitl_batched", action_index=1, action_count=2
        ),
        "resumed elsewhere",
    ),
    NodeUpdated("t1-pay", "review", '{"status": "approved"}'),
    EventsDropped(3),
    SourceUnreachable("http://127.0.0.1:2024", 2.0),
    SourceReachable("http://127.0.0.1:2024"),
]


def _concrete_event_classes() -> set[type[Event]]:
    classes = {
        value
        for value in vars(events).values()
        if isinstance(value, type) and issubclass(value, Event) and value is not Event
    }
    return {cls for cls in classes if not any(o is not cls and issubclass(o, cls) for o in classes)}


def test_every_event_class_has_a_kind_of_its_own() -> None:
    classes = _concrete_event_classes()
    assert set(EVENT_TYPES.values()) == classes
    assert {cls: EVENT_TYPES[cls.KIND] for cls in classes} == {cls: cls for cls in classes}
    assert len({cls.KIND for cls in classes}) == len(classes)
    unjournaled = {EventsDropped, SourceUnreachable, SourceReachable}  # this process's own
    released = {cls.KIND for cls in classes if cls not in unjournaled}
    assert released == RELEASED_KINDS  # a kind, once written to journals, stays
    assert {type(sample) for sample in SAMPLES} == classes  # the round trip covers all


@pytest.mark.parametrize("taken", ["ThreadStarted", "EventsDropped"])
def test_a_kind_cannot_be_given_twice(taken: str) -> None:
    with pytest.raises(ValueError, match="is taken"):

        @event_kind(taken)
        @dataclass(frozen=True, slots=True)
        class Impostor(Event):
            pass

    assert EVENT_TYPES["ThreadStarted"] is ThreadStarted


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.KIND)
def test_every_event_round_trips_through_its_journal_row(event: Event) -> None:
    kind, _, body = encode(event)
    assert kind == event.KIND
    stored = HistoryEntry(seq=42, at=1234.5, kind=kind, body=json.loads(json.dumps(body)))
    assert decode(stored) == replace(event, seq=42, at=1234.5)


@pytest.mark.parametrize(
    ("row", "event"), list(zip(OLD_ROWS, OLD_EVENTS, strict=True)), ids=[r[0] for r in OLD_ROWS]
)
def test_a_row_keyed_by_a_class_name_decodes_to_the_same_event(
    row: tuple[str, str | None, dict[str, Any]], event: Event
) -> None:
    kind, key, body = row
    assert decode(HistoryEntry(7, 99.0, kind, body)) == replace(event, seq=7, at=99.0)
    written = encode(event)  # as today's rows: the same key, the same body
    assert (written.key, json.loads(json.dumps(written.body))) == (key, body)


def test_an_unknown_kind_decodes_to_nothing() -> None:
    assert decode(HistoryEntry(1, 1.0, "from_a_newer_version", {"thread_id": "t"})) is None


async def _collect(subscription: Subscription, count: int) -> list[Event]:
    received: list[Event] = []
    async with asyncio.timeout(15):
        async for event in subscription:
            received.append(event)
            if len(received) == count:
                return received
    raise AssertionError("the subscription closed")


async def test_an_old_home_reads_back_its_history_and_a_running_engine_tails_it(
    engine: Engine, home: Home
) -> None:
    run_sql(
        home,
        "INSERT INTO hitl_threads (id, title, task, model, status, created_at, updated_at) "
        "VALUES ('t1-pay', 'pay', 'pay the invoice', 'scripted', 'waiting', 100.0, 101.5)",
    )
    rows = [*OLD_ROWS[:3], ("SomethingNewer", None, {"thread_id": "t1-pay"}), *OLD_ROWS[3:]]
    with engine.subscribe() as subscription:
        for at, (kind, key, body) in enumerate(rows, start=1000):
            run_sql(
                home,
                "INSERT INTO hitl_journal (origin, thread_id, kind, key, body, at) VALUES "
                f"('an older hitl', 't1-pay', '{kind}', "
                f"{'NULL' if key is None else repr(key)}, '{json.dumps(body)}', {at})",
            )
        tailed = await _collect(subscription, len(OLD_EVENTS))

    history = await engine.history("t1-pay")
    assert (
        [h.kind for h in history]
        == [
            *(e.KIND for e in OLD_EVENTS[:3]),
            "SomethingNewer",  # kept as it is: this version cannot say what it was
            *(e.KIND for e in OLD_EVENTS[3:]),
        ]
    )
    known = [h for h in history if h.kind != "SomethingNewer"]
    expected = [replace(e, seq=h.seq, at=h.at) for e, h in zip(OLD_EVENTS, known, strict=True)]
    assert tailed == expected  # the unknown row skipped, not a crash
    assert [decode(h) for h in known] == expected
    assert [h.at for h in known] == [1000, 1001, 1002, 1004, 1005, 1006, 1007, 1008, 1009, 1010]

    story = (await asyncio.to_thread(hitl, home, "show", "t1-pay")).stdout
    assert "sending" in story and "decision  approve a1b2c3d4 send_email by alice" in story


async def test_an_event_has_the_same_seq_and_time_wherever_it_is_seen(
    engine: Engine, home: Home
) -> None:
    async with Engine.open(home, operator="bob") as other:
        with engine.subscribe() as here, other.subscribe() as there:
            thread = await engine.start(EMAIL)
            await engine.wait(thread.id)
            published = [e for e in here.drain() if e.thread_id == thread.id]
            assert any(isinstance(e, ApprovalRequested) for e in published)
            tailed = [e for e in await _collect(there, len(published)) if e.thread_id == thread.id]
    history = await engine.history(thread.id)
    seqs = [e.seq for e in published]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] > 0
    assert tailed == published  # another process: the same seq, time and content
    assert [(h.seq, h.at) for h in history] == [(e.seq, e.at) for e in published]
    assert [decode(h) for h in history] == published
