"""People's own graphs under `hitl --graph`, run as a user runs them: a real process
per command, the examples' tools acting on a real outbox, on SQLite and PostgreSQL.

Each interrupt format (LangChain HITL per call and batched, Agent Inbox, a plain
``interrupt()``) is decided every way it allows, and refused every way it does not;
the policy decides on top (low runs alone, deny tells the model the rule, high takes two
people); a graph that cannot be loaded is refused before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine import Home
from tests.cli.own_cli import (
    BATCHED,
    EXAMPLES,
    INBOX,
    PER_CALL,
    PLAIN,
    TASK,
    Desk,
    Outbox,
    one_line,
)
from tests.cli.test_cli import tables

EDITED = {"to": "ann@company.com", "subject": "Q3", "body": "The Q3 numbers, checked."}
ALL_FOUR = ["approve", "edit", "reject", "respond"]


@pytest.fixture
def desk(home: Home, tmp_path: Path) -> Desk:
    """The user's hitl on the ``home`` fixture's database, and a fresh outbox."""
    return Desk(home.path, home.database_url, Outbox.make(tmp_path / "outbox"))


def started(desk: Desk, *args: str) -> str:
    """Runs ``hitl run ARGS`` until the thread pauses; its id."""
    return desk("run", *args).stdout.splitlines()[0]


def cards(desk: Desk) -> dict[str, dict[str, Any]]:
    """The pending cards by tool (one of each in these tests)."""
    return {a["tool"]: a for a in desk.pending()}


def status(desk: Desk, thread_id: str) -> str:
    return str(desk.thread(thread_id)["thread"]["status"])


def answer(desk: Desk, thread_id: str) -> str:
    """What the thread ended with: the model's last word, which repeats what it was told."""
    return str(desk.thread(thread_id)["thread"]["answer"])


# --- LangChain HITL, one interrupt per call --------------------------------------------


def test_per_call_cards_offer_what_each_tool_allows_and_each_approval_runs_its_call(
    desk: Desk,
) -> None:
    d = desk.on(PER_CALL)
    thread = started(d, TASK)
    shown = cards(d)
    assert {tool: (c["format"], c["allowed"]) for tool, c in shown.items()} == {
        "send_email": ("hitl_per_call", ALL_FOUR),
        "delete_file": ("hitl_per_call", ["approve", "reject"]),
    }
    listing = d("pending").stdout
    assert "(LangChain HITL, per call) allows approve/reject" in listing
    assert "not protected against re-running after a crash" in listing
    assert d.outbox.draft_kept() and d.outbox.emails() == []

    d("approve", shown["delete_file"]["id"])  # each call is its own interrupt: it runs now
    assert not d.outbox.has("draft.txt") and d.outbox.emails() == []
    assert [c["tool"] for c in d.pending()] == ["send_email"]

    d("approve", shown["send_email"]["id"])
    assert d.outbox.emails() == ["bob@company.com"]
    assert status(d, thread) == "done"
    assert "sent to bob@company.com" in answer(d, thread)
    assert "deleted draft.txt" in answer(d, thread)
    assert d.decisions() == [
        ("delete_file", "approve", "carol"),
        ("send_email", "approve", "carol"),
    ]
    requested = [e["body"]["format"] for e in d.audit() if e["kind"] == "approval_requested"]
    assert requested == ["hitl_per_call", "hitl_per_call"]


def test_per_call_an_edit_sends_the_edited_email_and_a_rejection_tells_the_model(
    desk: Desk,
) -> None:
    d = desk.on(PER_CALL)
    thread = started(d, TASK)
    shown = cards(d)
    d("edit", shown["send_email"]["id"], "--args", json.dumps(EDITED))
    d("reject", shown["delete_file"]["id"], "--reason", "keep the draft for the auditors")

    assert d.outbox.emails() == ["ann@company.com"]
    assert d.outbox.email_to("ann@company.com").get_content().strip() == EDITED["body"]
    assert d.outbox.draft_kept()
    told = answer(d, thread)
    assert "keep the draft for the auditors" in told
    assert "Executed instead: send_email" in told  # the model hears its call was replaced
    edit, reject = (e["body"] for e in d.audit() if e["kind"] == "decision")
    assert (edit["decision"], edit["args"], edit["original_args"]["to"]) == (
        "edit",
        EDITED,
        "bob@company.com",
    )
    assert (reject["decision"], reject["reason"]) == ("reject", "keep the draft for the auditors")


def test_per_call_a_response_stands_in_for_the_email(desk: Desk) -> None:
    d = desk.on(PER_CALL)
    thread = started(d, TASK)
    shown = cards(d)
    d("respond", shown["send_email"]["id"], "--message", "I will send it myself on Monday")
    d("approve", shown["delete_file"]["id"])
    assert d.outbox.emails() == []
    assert not d.outbox.has("draft.txt")
    assert "I will send it myself on Monday" in answer(d, thread)
    assert d.decisions() == [
        ("send_email", "respond", "carol"),
        ("delete_file", "approve", "carol"),
    ]


@pytest.mark.parametrize("graph", [PER_CALL, BATCHED], ids=["per_call", "batched"])
def test_a_decision_the_interrupt_does_not_allow_is_refused_and_changes_nothing(
    desk: Desk, graph: str
) -> None:
    d = desk.on(graph)
    started(d, TASK)
    delete = cards(d)["delete_file"]["id"]
    before, audited = d("pending", "--json").stdout, d.audit()

    one_line(
        d("edit", delete, "--args", '{"path": "other.txt"}', ok=False),
        delete,
        "does not allow edit",
        "approve, reject",
    )
    one_line(d("respond", delete, "--message", "no need", ok=False), "does not allow respond")

    assert d("pending", "--json").stdout == before
    assert d.audit() == audited
    assert d.outbox.draft_kept() and d.outbox.emails() == []


def test_an_edit_the_tools_schema_refuses_names_the_field_and_changes_nothing(
    desk: Desk,
) -> None:
    d = desk.on(PER_CALL)
    started(d, TASK)
    send = cards(d)["send_email"]["id"]
    before = d("pending", "--json").stdout

    wrong_type = dict(EDITED, to=5)
    one_line(
        d("edit", send, "--args", json.dumps(wrong_type), ok=False),
        "invalid",
        "to: 5 is not of type 'string'",
    )
    one_line(
        d("edit", send, "--args", '{"to": "ann@company.com"}', ok=False),
        "'subject' is a required property",
        "'body' is a required property",
    )

    assert d("pending", "--json").stdout == before
    assert d.outbox.emails() == [] and d.outbox.draft_kept()
    assert d.decisions() == []


# --- LangChain HITL, one interrupt per model turn --------------------------------------


def test_batched_nothing_runs_until_every_card_of_the_turn_is_decided(desk: Desk) -> None:
    d = desk.on(BATCHED)
    thread = started(d, TASK)
    shown = cards(d)
    send, delete = shown["send_email"], shown["delete_file"]
    assert (send["format"], send["allowed"]) == ("hitl_batched", ALL_FOUR)
    assert (delete["format"], delete["allowed"]) == ("hitl_batched", ["approve", "reject"])
    assert send["id"].endswith("-0") and delete["id"].endswith("-1")
    assert "(LangChain HITL, batched)" in d("pending").stdout

    d("edit", send["id"], "--args", json.dumps(EDITED))
    assert d.outbox.emails() == [] and d.outbox.draft_kept()  # decided, not sent
    assert [c["id"] for c in d.pending()] == [delete["id"]]
    assert status(d, thread) == "waiting"

    d("reject", delete["id"], "--reason", "keep the draft for the auditors")
    assert d.outbox.emails() == ["ann@company.com"]
    assert d.outbox.draft_kept()
    assert status(d, thread) == "done"
    assert "keep the draft for the auditors" in answer(d, thread)
    assert d.decisions() == [("send_email", "edit", "carol"), ("delete_file", "reject", "carol")]


def test_batched_a_response_and_an_approval_are_sent_together(desk: Desk) -> None:
    d = desk.on(BATCHED)
    thread = started(d, TASK)
    shown = cards(d)
    d("approve", shown["delete_file"]["id"])  # the second action first: still nothing runs
    assert d.outbox.draft_kept()
    assert [c["tool"] for c in d.pending()] == ["send_email"]

    d("respond", shown["send_email"]["id"], "--message", "Held until the board meets")
    assert not d.outbox.has("draft.txt")
    assert d.outbox.emails() == []
    assert "Held until the board meets" in answer(d, thread)


# --- Agent Inbox -----------------------------------------------------------------------


def test_agent_inbox_cards_are_answered_in_the_inbox_s_own_words(desk: Desk) -> None:
    d = desk.on(INBOX)
    threads = {word: started(d, f"{word} note for standup") for word in ("Alpha", "Beta", "Gamma")}
    threads["Delta"] = started(d, "Delta note for standup")
    by_file = {c["args"]["filename"]: c for c in d.pending()}
    assert set(by_file) == {f"{w.lower()}-note-for.txt" for w in threads}
    for card in by_file.values():
        assert (card["format"], card["tool"], card["allowed"]) == (
            "agent_inbox",
            "write_note",
            ALL_FOUR,
        )
    assert "(Agent Inbox)" in d("pending").stdout

    d("approve", by_file["alpha-note-for.txt"]["id"])
    edited = {"filename": "beta-edited.txt", "text": "Beta, as the reviewer put it"}
    d("edit", by_file["beta-note-for.txt"]["id"], "--args", json.dumps(edited))
    d("respond", by_file["gamma-note-for.txt"]["id"], "--message", "not before Friday")
    d("reject", by_file["delta-note-for.txt"]["id"], "--reason", "no notes today")

    assert d.outbox.files() == ["alpha-note-for.txt", "beta-edited.txt", "draft.txt"]
    assert (d.outbox.path / "alpha-note-for.txt").read_text() == "Alpha note for standup\n"
    assert (d.outbox.path / "beta-edited.txt").read_text() == "Beta, as the reviewer put it\n"
    assert (
        answer(d, threads["Gamma"]) == "Understood, I did not write it. You said: not before Friday"
    )
    listed = {t["id"]: t["status"] for t in d.threads()}
    assert {w: listed[t] for w, t in threads.items()} == dict.fromkeys(threads, "done")
    assert d.pending() == []
    assert [(tool, decision) for tool, decision, _ in d.decisions()] == [
        ("write_note", "approve"),
        ("write_note", "edit"),
        ("write_note", "respond"),
        ("write_note", "reject"),
    ]


# --- a plain interrupt() ---------------------------------------------------------------

ORDER = '{"order_id": "A-1", "amount": 250}'


def test_a_plain_interrupt_takes_only_an_answer(desk: Desk) -> None:
    d = desk.on(PLAIN)
    started(d, "--input", ORDER)
    [card] = d.pending()
    assert (card["format"], card["kind"], card["allowed"]) == (
        "unrecognised",
        "interrupt",
        ["answer"],
    )
    assert card["value"]["question"] == "Refund order A-1?"
    assert "hitl answer ID JSON" in d("pending").stdout
    before = d("pending", "--json").stdout

    for refused in (
        ["approve", card["id"]],
        ["reject", card["id"], "--reason", "no"],
        ["respond", card["id"], "--message", "no"],
        ["edit", card["id"], "--args", "{}"],
    ):
        one_line(d(*refused, ok=False), card["id"], "unrecognised interrupt", "hitl answer")

    assert d("pending", "--json").stdout == before
    assert d.outbox.files() == ["draft.txt"]


def test_a_plain_interrupt_answered_with_json_decides_the_refund(desk: Desk) -> None:
    d = desk.on(PLAIN)
    partial = started(d, "--input", ORDER)
    declined = started(d, "--input", '{"order_id": "A-2", "amount": 90}')
    ids = {c["value"]["order_id"]: c["id"] for c in d.pending()}

    d("answer", ids["A-1"], '{"refund": 100, "note": "partial refund"}')
    d("answer", ids["A-2"], "false")

    assert d.outbox.files() == ["draft.txt", "refund-A-1.json"]
    refund = json.loads((d.outbox.path / "refund-A-1.json").read_text())
    assert (refund["amount"], refund["note"]) == (100, "partial refund")
    assert status(d, partial) == status(d, declined) == "done"
    assert [(decision, who) for _, decision, who in d.decisions()] == [
        ("answer", "carol"),
        ("answer", "carol"),
    ]


# --- the policy on top -----------------------------------------------------------------

POLICY = """\
default_tier = "medium"

[tools]
delete_file = "low"
send_email = "medium"

[[rules]]
name = "mail to a rival"
tool = "send_email"
when = "args.to.endsWith('@rival.com')"
tier = "deny"

[[rules]]
name = "mail outside company.com"
tool = "send_email"
when = "!args.to.endsWith('@company.com')"
tier = "high"

[tiers.high]
approvals = 2
distinct_operators = true
"""


@pytest.fixture
def policed(desk: Desk, tmp_path: Path) -> Desk:
    """The desk under POLICY (given with --policy)."""
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    return Desk(desk.home, desk.database, desk.outbox, policy=policy)


@pytest.mark.parametrize("graph", [PER_CALL, BATCHED], ids=["per_call", "batched"])
def test_policy_low_runs_a_call_with_no_person(policed: Desk, graph: str) -> None:
    d = policed.on(graph)
    thread = started(d, TASK)
    assert [c["tool"] for c in d.pending()] == ["send_email"]
    [auto] = [a for a in d.approvals(thread).values() if a["tool"] == "delete_file"]
    assert (auto["tier"], auto["status"], auto["decided_by"]) == ("low", "approved", "policy:auto")
    assert d.decisions() == [("delete_file", "approve", "policy:auto")]
    # Per call, the low call runs at once; batched, it waits for its turn's other card.
    assert d.outbox.has("draft.txt") == (graph == BATCHED)

    d("approve", cards(d)["send_email"]["id"])
    assert not d.outbox.has("draft.txt")
    assert d.outbox.emails() == ["bob@company.com"]
    assert status(d, thread) == "done"


def test_policy_deny_runs_nothing_and_tells_the_model_the_rule(policed: Desk) -> None:
    d = policed.on(PER_CALL)
    thread = started(d, "Email eve@rival.com the Q3 numbers and delete draft.txt")
    assert d.pending() == []
    assert status(d, thread) == "done"
    assert d.outbox.emails() == []
    assert "mail to a rival" in answer(d, thread)
    [denied] = [a for a in d.approvals(thread).values() if a["tool"] == "send_email"]
    assert (denied["tier"], denied["status"], denied["decided_by"]) == (
        "deny",
        "rejected",
        "policy:auto",
    )
    assert sorted(d.decisions()) == [
        ("delete_file", "approve", "policy:auto"),
        ("send_email", "reject", "policy:auto"),
    ]
    [reject] = [e for e in d.audit() if e["kind"] == "decision" and e["tool"] == "send_email"]
    assert "mail to a rival" in reject["body"]["reason"]


def test_policy_high_needs_two_people(policed: Desk) -> None:
    d = policed.on(PER_CALL)
    thread = started(d, "Email bob@example.com the Q3 numbers and delete draft.txt")
    send = cards(d)["send_email"]
    assert (send["tier"], send["required"]) == ("high", 2)

    said = d("approve", send["id"]).stdout
    assert "1 more approval needed" in said
    assert [(c["id"], c["received"]) for c in d.pending()] == [(send["id"], 1)]
    assert d.outbox.emails() == []
    one_line(d("approve", send["id"], ok=False), send["id"], "carol already approved it")

    d("approve", send["id"], operator="dave")
    assert d.outbox.emails() == ["bob@example.com"]
    assert status(d, thread) == "done"
    assert d.decisions() == [
        ("delete_file", "approve", "policy:auto"),
        ("send_email", "approve", "carol"),
        ("send_email", "approve", "dave"),
    ]


# --- what cannot be loaded or run ------------------------------------------------------

BROKEN_MODULES = {
    "raises.py": 'raise RuntimeError("the config server is down")\n',
    "not_a_graph.py": "graph = 42\n",
    "own_checkpointer.py": (
        "import sys\n"
        "sys.path.insert(0, {examples!r})\n"
        "from langgraph.checkpoint.memory import InMemorySaver\n"
        "from hitl_agent import build_agent\n"
        'graph = build_agent("per_call", checkpointer=InMemorySaver())\n'
    ),
}


@pytest.mark.parametrize(
    ("spec", "needles"),
    [
        ("nosuch.py:x", ["nosuch.py", "no such file"]),
        (
            "examples/hitl_agent.py:nosuch",
            ["examples/hitl_agent.py", "no attribute 'nosuch'", "per_call_agent, batched_agent"],
        ),
        ("{tmp}/raises.py:graph", ["raises.py", "RuntimeError: the config server is down"]),
        ("{tmp}/not_a_graph.py:graph", ["not_a_graph.py:graph", "not a graph"]),
        (
            "{tmp}/own_checkpointer.py:graph",
            ["own_checkpointer.py:graph", "its own checkpointer (InMemorySaver)"],
        ),
    ],
    ids=["no-file", "no-attribute", "raises-on-import", "not-a-graph", "own-checkpointer"],
)
def test_a_graph_that_cannot_be_loaded_is_refused_in_one_line_before_any_home_is_made(
    home: Home, desk: Desk, tmp_path: Path, spec: str, needles: list[str]
) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    for name, text in BROKEN_MODULES.items():
        (modules / name).write_text(text.format(examples=str(EXAMPLES)))
    d = desk.on(spec.format(tmp=modules))
    for command in (["run", TASK], ["resume"], ["approve", "abcd1234"]):
        one_line(d(*command, ok=False), *needles)
    assert not home.path.exists()
    assert tables(home) == []


def test_an_input_that_does_not_fit_the_graph_is_refused_and_starts_nothing(desk: Desk) -> None:
    d = desk.on(PLAIN)
    started(d, "--input", '{"order_id": "A-0", "amount": 5}')  # small: refunded alone
    assert d.outbox.files() == ["draft.txt", "refund-A-0.json"]

    one_line(
        d("run", "--input", '{"order_id": 5}', ok=False),
        "input does not fit graph plain_interrupt",
        "'amount' is a required property",
        "order_id: 5 is not of type 'string'",
    )
    one_line(d("run", "refund order 5", ok=False), "does not take messages", "--input")
    assert len(d.threads()) == 1
    assert d.outbox.files() == ["draft.txt", "refund-A-0.json"]


def test_an_input_that_does_not_fit_the_graph_makes_no_home(home: Home, desk: Desk) -> None:
    d = desk.on(PLAIN)
    one_line(d("run", "--input", '{"order_id": 5}', ok=False), "input does not fit graph")
    assert not home.path.exists()
    assert tables(home) == []


def test_a_database_file_that_does_not_exist_is_refused_in_one_line(tmp_path: Path) -> None:
    d = Desk(tmp_path / "home", "nosuchfile.sqlite", Outbox.make(tmp_path / "outbox"), PER_CALL)
    for command in (["pending"], ["run", TASK], ["resume"]):
        one_line(
            d(*command, ok=False, cwd=tmp_path),
            "--database 'nosuchfile.sqlite'",
            f"no SQLite file at {tmp_path / 'nosuchfile.sqlite'}",
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outbox"]
