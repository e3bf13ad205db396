"""`hitl --server URL` against a real LangGraph Agent Server: the threads waiting
there are listed as cards, and a decision resumes the thread on the server, where the
example's tools have their effects (an email written to its outbox)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.remote.conftest import Console

pytestmark = pytest.mark.agent_server


def task_for(address: str) -> str:
    return f"Email {address} the notes and delete draft.txt"


def address() -> str:
    return f"bob-{uuid.uuid4().hex[:8]}@example.com"


def pending(desk: Console, thread: str) -> list[dict[str, Any]]:
    cards: list[dict[str, Any]] = json.loads(desk.ok("pending", "--json", "--thread", thread))
    return cards


def card(cards: list[dict[str, Any]], tool: str) -> dict[str, Any]:
    [found] = [c for c in cards if c["tool"] == tool]
    return found


def emails_to(desk: Console, to: str) -> list[str]:
    return [p.name for p in desk.server.outbox.glob("*.eml") if p.name.startswith(to)]


def test_pending_lists_the_calls_waiting_on_the_server(per_call: Console) -> None:
    to = address()
    thread = per_call.server.interrupted_thread(per_call.assistant, task_for(to))

    cards = pending(per_call, thread)

    assert sorted(c["tool"] for c in cards) == ["delete_file", "send_email"]
    email = card(cards, "send_email")
    assert email["args"]["to"] == to
    assert email["format"] == "hitl_per_call"
    assert email["tier"] == "high"  # the home's policy: outside company.com
    listed = per_call.ok("pending")
    assert "send_email" in listed and thread in listed


def test_approve_resumes_the_thread_on_the_server(per_call: Console) -> None:
    to = address()
    thread = per_call.server.interrupted_thread(per_call.assistant, task_for(to))
    cards = pending(per_call, thread)
    email, delete = card(cards, "send_email"), card(cards, "delete_file")

    per_call.ok("reject", delete["id"], "--reason", "keep the draft", "--operator", "carol")
    assert emails_to(per_call, to) == []  # high: one approval is not enough
    per_call.ok("approve", email["id"], "--operator", "alice")
    assert emails_to(per_call, to) == []
    per_call.ok("approve", email["id"], "--operator", "bob")

    assert len(emails_to(per_call, to)) == 1
    on_server = per_call.server.thread(thread)
    assert on_server["status"] == "idle"
    assert not on_server["interrupts"]
    assert "done" in per_call.ok("threads")
    assert pending(per_call, thread) == []
    audit = json.loads(per_call.ok("audit", "--json", "--thread", thread))
    decisions = [(e["operator"], e["body"]["decision"]) for e in audit if e["kind"] == "decision"]
    assert sorted(decisions) == [("alice", "approve"), ("bob", "approve"), ("carol", "reject")]


def test_an_unknown_assistant_is_one_line_naming_it(per_call: Console) -> None:
    wrong = Console(per_call.home, per_call.server, "no-such-assistant")
    done = wrong("pending")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "no assistant 'no-such-assistant'" in done.stderr and per_call.server.url in done.stderr


def test_an_unreachable_server_is_one_line_and_exit_1(per_call: Console) -> None:
    from tests.remote.agent_server import DevServer, free_port

    gone = DevServer(per_call.server.where, free_port())
    done = Console(per_call.home, gone, per_call.assistant)("pending")
    assert done.returncode == 1
    assert done.stderr == f"hitl: server at {gone.url} unreachable\n"


def tool_results(desk: Console, thread: str) -> dict[str, str]:
    """The thread's tool messages on the server, by tool name."""
    messages = desk.server.thread(thread)["values"]["messages"]
    return {m["name"]: m["content"] for m in messages if m["type"] == "tool"}


def test_edit_sends_the_edited_arguments(per_call: Console) -> None:
    to, instead = address(), address()
    thread = per_call.server.interrupted_thread(per_call.assistant, task_for(to))
    cards = pending(per_call, thread)
    email = card(cards, "send_email")
    edited = {**email["args"], "to": instead}

    per_call.ok("reject", card(cards, "delete_file")["id"], "--operator", "carol")
    per_call.ok("edit", email["id"], "--args", json.dumps(edited), "--operator", "alice")
    per_call.ok("approve", email["id"], "--operator", "bob")

    assert emails_to(per_call, to) == []
    assert len(emails_to(per_call, instead)) == 1


def test_respond_answers_in_place_of_the_tool(per_call: Console) -> None:
    to = address()
    thread = per_call.server.interrupted_thread(per_call.assistant, task_for(to))
    cards = pending(per_call, thread)

    per_call.ok("respond", card(cards, "send_email")["id"], "--message", "I sent it myself")
    per_call.ok("reject", card(cards, "delete_file")["id"], "--reason", "keep it")

    assert emails_to(per_call, to) == []
    results = tool_results(per_call, thread)
    assert results["send_email"] == "I sent it myself"
    assert "keep it" in results["delete_file"]
    assert per_call.server.thread(thread)["status"] == "idle"


def open_calls(desk: Console, thread: str) -> list[str]:
    """The tools whose interrupts wait on the server, sorted."""
    open_ = desk.server.thread(thread)["interrupts"]
    return sorted(i["value"]["name"] for items in open_.values() for i in items)


POLICY = """\
default_tier = "medium"

[tools]
send_email = "high"
delete_file = "{delete}"
"""


def test_policy_low_is_approved_alone_and_high_needs_two(per_call: Console) -> None:
    policy = per_call.home.parent / "policy.toml"
    policy.write_text(POLICY.format(delete="low"))
    to = address()
    thread = per_call.server.interrupted_thread(per_call.assistant, task_for(to))

    [email] = json.loads(per_call.ok("--policy", str(policy), "pending", "--json"))

    assert email["tool"] == "send_email" and email["required"] == 2
    assert open_calls(per_call, thread) == ["send_email"]  # delete_file resumed, no person
    audit = json.loads(per_call.ok("audit", "--json", "--thread", thread))
    assert [(e["tool"], e["operator"]) for e in audit if e["kind"] == "decision"] == [
        ("delete_file", "policy:auto")
    ]
    per_call.ok("--policy", str(policy), "approve", email["id"], "--operator", "alice")
    assert emails_to(per_call, to) == []
    per_call.ok("--policy", str(policy), "approve", email["id"], "--operator", "bob")
    assert len(emails_to(per_call, to)) == 1


def test_policy_deny_rejects_without_a_person(per_call: Console) -> None:
    policy = per_call.home.parent / "policy.toml"
    policy.write_text(POLICY.format(delete="deny"))
    thread = per_call.server.interrupted_thread(per_call.assistant, task_for(address()))

    listed = json.loads(per_call.ok("--policy", str(policy), "pending", "--json"))

    assert [c["tool"] for c in listed] == ["send_email"]
    assert open_calls(per_call, thread) == ["send_email"]
    per_call.ok("--policy", str(policy), "reject", listed[0]["id"])
    assert "Denied by policy" in tool_results(per_call, thread)["delete_file"]


def test_a_thread_resumed_directly_on_the_server_closes_its_cards(per_call: Console) -> None:
    to = address()
    thread = per_call.server.interrupted_thread(per_call.assistant, task_for(to))
    cards = pending(per_call, thread)
    open_ = per_call.server.thread(thread)["interrupts"]
    answers = {i["id"]: {"type": "approve"} for items in open_.values() for i in items}
    per_call.server.post(
        f"/threads/{thread}/runs/wait",
        {"assistant_id": per_call.assistant, "command": {"resume": answers}},
    )  # someone else, through the API, approves everything

    refused = per_call("approve", card(cards, "send_email")["id"], "--operator", "alice")

    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert len(emails_to(per_call, to)) == 1  # sent once, by the other client
    audit = json.loads(per_call.ok("audit", "--json", "--thread", thread))
    assert [e["kind"] for e in audit].count("decision") == 0
    assert pending(per_call, thread) == []


def test_run_starts_a_thread_on_the_server(per_call: Console) -> None:
    to = address()
    out = per_call.ok("run", f"Email {to} the notes")

    thread = out.splitlines()[0]
    assert per_call.server.thread(thread)["status"] == "interrupted"
    assert "send_email" in out and "waiting" in out
    [email] = [c for c in pending(per_call, thread) if c["tool"] == "send_email"]
    assert email["args"]["to"] == to


def test_the_server_stopped_mid_session_then_back(per_call: Console) -> None:
    to = address()
    thread = per_call.server.interrupted_thread(per_call.assistant, task_for(to))
    email = card(pending(per_call, thread), "send_email")
    server = per_call.server
    server.stop()
    try:
        listed = per_call("pending")
        decided = per_call("approve", email["id"], "--operator", "alice")
    finally:
        server.start()

    for done in (listed, decided):
        assert (done.returncode, done.stderr) == (1, f"hitl: server at {server.url} unreachable\n")
    still = card(pending(per_call, thread), "send_email")  # the server kept its threads
    assert (still["id"], still["status"], still["received"]) == (email["id"], "pending", 0)
    per_call.ok("approve", email["id"], "--operator", "alice")
    per_call.ok("approve", email["id"], "--operator", "bob")
    assert len(emails_to(per_call, to)) == 1


def test_a_listing_sees_what_changed_on_the_server_since_the_last(per_call: Console) -> None:
    first = per_call.server.interrupted_thread(per_call.assistant, task_for(address()))
    for _ in range(3):  # taken in; then marked; then read from the home alone
        assert {c["thread_id"] for c in json.loads(per_call.ok("pending", "--json"))} == {first}

    second = per_call.server.interrupted_thread(per_call.assistant, task_for(address()))

    listed = {c["thread_id"] for c in json.loads(per_call.ok("pending", "--json"))}
    assert listed == {first, second}


def test_a_batched_review_is_resumed_once_every_call_is_decided(
    on_graph: Callable[[str], Console],
) -> None:
    desk = on_graph("batched")
    to = address()
    thread = desk.server.interrupted_thread(desk.assistant, task_for(to))
    cards = pending(desk, thread)
    assert {c["format"] for c in cards} == {"hitl_batched"}

    desk.ok("reject", card(cards, "delete_file")["id"], "--reason", "keep it")
    assert desk.server.thread(thread)["status"] == "interrupted"  # one answer of two: wait
    desk.ok("respond", card(cards, "send_email")["id"], "--message", "done by hand")

    assert desk.server.thread(thread)["status"] == "idle"
    results = tool_results(desk, thread)
    assert results["send_email"] == "done by hand" and "keep it" in results["delete_file"]
    assert emails_to(desk, to) == []


def test_an_agent_inbox_request_is_accepted(on_graph: Callable[[str], Console]) -> None:
    desk = on_graph("inbox")
    thread = desk.server.interrupted_thread(desk.assistant, "Note for standup: ship v2")
    [request] = pending(desk, thread)
    assert request["format"] == "agent_inbox"
    notes_before = notes(desk)

    desk.ok("approve", request["id"])

    assert desk.server.thread(thread)["status"] == "idle"
    assert len(notes(desk)) == len(notes_before) + 1


def notes(desk: Console) -> set[str]:
    return {p.name for p in desk.server.outbox.iterdir() if p.suffix != ".eml"}
