"""The examples do what their docstrings and README say: each pauses with the interrupt
shape it documents, and each documented answer has its real effect on the outbox (a
file written, not written, deleted) or reaches the model.

They are loaded the way hitl loads them (``load_graph`` and ``build``) on an
``InMemorySaver``, run on their own as scripts, and adopted from their app's database.
"""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import ValidationError

from engine.foreign.loading import load_graph

EXAMPLES = Path(__file__).parents[3] / "examples"
TASK = "Email bob@example.com the Q3 numbers and delete draft.txt"
THREAD = {"configurable": {"thread_id": "t1"}}
POSTGRES_URL = os.environ.get("HITL_TEST_POSTGRES_URL")


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The examples' outbox, holding the draft the agents are asked to delete."""
    box = tmp_path / "outbox"
    box.mkdir()
    (box / "draft.txt").write_text("an old draft")
    monkeypatch.setenv("EXAMPLE_OUTBOX", str(box))
    return box


def chat(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def start(name: str, graph_input: Any, saver: BaseCheckpointSaver[Any] | None = None) -> Any:
    graph = await load_graph(name, cwd=EXAMPLES).build(saver or InMemorySaver())
    return graph, await graph.ainvoke(graph_input, THREAD, version="v2")


async def resume(graph: Any, answer: Any) -> Any:
    return await graph.ainvoke(Command(resume=answer), THREAD, version="v2")


def sent(outbox: Path) -> list[str]:
    """The recipients of the emails in the outbox."""
    mails = [email.message_from_bytes(p.read_bytes()) for p in sorted(outbox.glob("*.eml"))]
    return [str(m["To"]) for m in mails]


def files(outbox: Path) -> list[str]:
    return sorted(p.name for p in outbox.iterdir())


def last_words(result: Any) -> str:
    return str(result.value["messages"][-1].content)


def allowed(schema: dict[str, Any]) -> set[str]:
    """The decision types a per-call interrupt's response schema accepts."""
    kinds = (d.get("properties", {}).get("type", {}) for d in schema["$defs"].values())
    return {k["const"] for k in kinds if "const" in k}


# hitl_agent.py: per_call


async def test_per_call_pauses_once_for_each_gated_call_aimed_by_the_task(outbox: Path) -> None:
    _, result = await start("per_call", chat(TASK))

    pauses = {i.value["name"]: i for i in result.interrupts}
    assert set(pauses) == {"send_email", "delete_file"}
    assert {i.value["type"] for i in result.interrupts} == {"tool_approval"}
    assert pauses["send_email"].value["args"]["to"] == "bob@example.com"
    assert pauses["delete_file"].value["args"] == {"path": "draft.txt"}
    assert allowed(pauses["send_email"].response_schema) == {"approve", "edit", "reject", "respond"}
    assert allowed(pauses["delete_file"].response_schema) == {"approve", "reject"}
    assert sent(outbox) == [] and (outbox / "draft.txt").exists()


async def test_per_call_approving_both_sends_the_email_and_deletes_the_file(outbox: Path) -> None:
    graph, result = await start("per_call", chat(TASK))

    result = await resume(graph, {i.id: {"type": "approve"} for i in result.interrupts})

    assert not result.interrupts
    assert sent(outbox) == ["bob@example.com"]
    assert not (outbox / "draft.txt").exists()
    assert last_words(result).startswith("Done. ")


async def test_per_call_rejecting_the_email_sends_nothing_and_tells_the_model(
    outbox: Path,
) -> None:
    graph, result = await start("per_call", chat(TASK))
    answers = {
        i.id: {"type": "reject", "message": "not before Friday"}
        if i.value["name"] == "send_email"
        else {"type": "reject"}
        for i in result.interrupts
    }

    result = await resume(graph, answers)

    assert sent(outbox) == [] and (outbox / "draft.txt").exists()
    assert "not before Friday" in last_words(result)


async def test_per_call_an_edit_sends_the_edited_email(outbox: Path) -> None:
    graph, result = await start("per_call", chat(TASK))
    pause = next(i for i in result.interrupts if i.value["name"] == "send_email")
    edited = {**pause.value["args"], "to": "carol@example.com"}
    answers = {i.id: {"type": "reject"} for i in result.interrupts}
    answers[pause.id] = {
        "type": "edit",
        "edited_action": {"name": "send_email", "args": edited},
    }

    await resume(graph, answers)

    assert sent(outbox) == ["carol@example.com"]


async def test_per_call_a_response_stands_in_for_the_email_and_reaches_the_model(
    outbox: Path,
) -> None:
    graph, result = await start("per_call", chat(TASK))
    answers = {
        i.id: {"type": "respond", "message": "I called Bob instead"}
        if i.value["name"] == "send_email"
        else {"type": "approve"}
        for i in result.interrupts
    }

    result = await resume(graph, answers)

    assert sent(outbox) == []
    assert "send_email: I called Bob instead" in last_words(result)


async def test_per_call_refuses_a_decision_the_file_gate_does_not_allow(outbox: Path) -> None:
    graph, result = await start("per_call", chat(TASK))
    delete = next(i for i in result.interrupts if i.value["name"] == "delete_file")

    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        await resume(graph, {delete.id: {"type": "respond", "message": "deleted it myself"}})

    assert (outbox / "draft.txt").exists()
    state = await graph.aget_state(THREAD)
    assert {i.value["name"] for i in state.interrupts} == {"send_email", "delete_file"}
    await resume(graph, {delete.id: {"type": "reject"}})
    assert (outbox / "draft.txt").exists()


def test_delete_file_never_reaches_outside_the_outbox(
    outbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import hitl_agent

    (outbox.parent / "secret.txt").write_text("keep me")

    assert hitl_agent.delete_file.invoke({"path": "../secret.txt"}).startswith("refused")
    assert (outbox.parent / "secret.txt").exists()


# hitl_agent.py: batched


async def test_batched_pauses_once_listing_both_calls_and_their_decisions(outbox: Path) -> None:
    _, result = await start("batched", chat(TASK))

    (pause,) = result.interrupts
    requests = pause.value["action_requests"]
    assert [(r["name"], r["args"].get("to", r["args"].get("path"))) for r in requests] == [
        ("send_email", "bob@example.com"),
        ("delete_file", "draft.txt"),
    ]
    assert pause.value["review_configs"] == [
        {
            "action_name": "send_email",
            "allowed_decisions": ["approve", "edit", "reject", "respond"],
        },
        {"action_name": "delete_file", "allowed_decisions": ["approve", "reject"]},
    ]


async def test_batched_decisions_apply_in_the_calls_order(outbox: Path) -> None:
    graph, result = await start("batched", chat(TASK))

    result = await resume(graph, {"decisions": [{"type": "approve"}, {"type": "reject"}]})

    assert sent(outbox) == ["bob@example.com"]
    assert (outbox / "draft.txt").exists()
    assert "delete_file: User rejected" in last_words(result)


async def test_batched_refuses_a_decision_the_file_gate_does_not_allow(outbox: Path) -> None:
    graph, _ = await start("batched", chat(TASK))

    with pytest.raises(ValueError, match="'respond' is not allowed for tool 'delete_file'"):
        await resume(
            graph, {"decisions": [{"type": "approve"}, {"type": "respond", "message": "x"}]}
        )

    assert sent(outbox) == [] and (outbox / "draft.txt").exists()


# inbox_agent.py


async def test_inbox_pauses_with_one_agent_inbox_request(outbox: Path) -> None:
    _, result = await start("inbox", chat("Note for standup: ship v2"))

    (pause,) = result.interrupts
    assert pause.value == [
        {
            "action_request": {
                "action": "write_note",
                "args": {"filename": "note-for-standup.txt", "text": "Note for standup: ship v2"},
            },
            "config": {
                "allow_accept": True,
                "allow_edit": True,
                "allow_respond": True,
                "allow_ignore": True,
            },
            "description": "Write the note 'note-for-standup.txt'?",
        }
    ]
    assert not (outbox / "note-for-standup.txt").exists()


async def test_inbox_accept_writes_the_note(outbox: Path) -> None:
    graph, _ = await start("inbox", chat("Note for standup: ship v2"))

    result = await resume(graph, [{"type": "accept", "args": None}])

    assert (outbox / "note-for-standup.txt").read_text() == "Note for standup: ship v2\n"
    assert last_words(result) == "Done: wrote note-for-standup.txt"


async def test_inbox_edit_writes_the_edited_note_only(outbox: Path) -> None:
    graph, _ = await start("inbox", chat("Note for standup: ship v2"))
    edit = {"action": "write_note", "args": {"filename": "edited.txt", "text": "ship v3"}}

    await resume(graph, [{"type": "edit", "args": edit}])

    assert (outbox / "edited.txt").read_text() == "ship v3\n"
    assert not (outbox / "note-for-standup.txt").exists()


async def test_inbox_a_response_writes_nothing_and_the_model_answers_it(outbox: Path) -> None:
    graph, _ = await start("inbox", chat("Note for standup: ship v2"))

    result = await resume(graph, [{"type": "response", "args": "Wait until Monday"}])

    assert files(outbox) == ["draft.txt"]
    assert last_words(result) == "Understood, I did not write it. You said: Wait until Monday"


async def test_inbox_ignore_writes_nothing_and_ends_the_thread(outbox: Path) -> None:
    graph, _ = await start("inbox", chat("Note for standup: ship v2"))

    result = await resume(graph, [{"type": "ignore", "args": None}])

    assert not result.interrupts
    assert files(outbox) == ["draft.txt"]
    assert (await graph.aget_state(THREAD)).next == ()


# plain_interrupt.py


async def test_plain_pauses_with_its_own_question_after_a_first_step(outbox: Path) -> None:
    graph = await load_graph("plain", cwd=EXAMPLES).build(InMemorySaver())

    steps = [
        list(update)
        async for update in graph.astream(
            {"order_id": "A-1001", "amount": 250}, THREAD, stream_mode="updates"
        )
    ]

    assert steps[0] == ["receive"]
    assert steps[-1] == ["__interrupt__"]
    (pause,) = (await graph.aget_state(THREAD)).interrupts
    assert pause.value == {
        "question": "Refund order A-1001?",
        "order_id": "A-1001",
        "amount": 250,
        "answers": "true | false | an amount | a note | {refund, note}",
    }
    assert not (outbox / "refund-A-1001.json").exists()

    steps = [
        list(update)
        async for update in graph.astream(Command(resume=True), THREAD, stream_mode="updates")
    ]
    assert steps == [["review"], ["settle"], ["notify"]]


@pytest.mark.parametrize(
    ("answer", "refunded", "note"),
    [
        (True, 250, "refunded 250.00 (customer notified)"),
        (50, 50, "refunded 50.00 (customer notified)"),
        ({"refund": True, "note": "goodwill"}, 250, "goodwill (customer notified)"),
        (False, None, "declined by reviewer (customer notified)"),
        (None, None, "declined by reviewer (customer notified)"),
        ("not eligible", None, "not eligible (customer notified)"),
    ],
)
async def test_plain_any_json_answer_decides_the_refund(
    outbox: Path, answer: Any, refunded: float | None, note: str
) -> None:
    graph, paused = await start("plain", {"order_id": "A-1001", "amount": 250})

    # Keyed by the interrupt's id: a bare Command(resume=None) is no answer to LangGraph.
    result = await resume(graph, {paused.interrupts[0].id: answer})

    receipt = outbox / "refund-A-1001.json"
    assert result.value["note"] == note
    if refunded is None:
        assert not receipt.exists() and result.value["status"] == "declined"
    else:
        assert json.loads(receipt.read_text())["amount"] == refunded
        assert result.value["status"] == "refunded"


async def test_plain_a_small_refund_needs_no_one(outbox: Path) -> None:
    _, result = await start("plain", {"order_id": "A-7", "amount": 12.5})

    assert not result.interrupts
    assert json.loads((outbox / "refund-A-7.json").read_text())["amount"] == 12.5


# Each example on its own, as a script


def run_example(script: str, *args: str, answers: str, outbox: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        input=answers,
        capture_output=True,
        text=True,
        cwd=outbox.parent,
        env={**os.environ, "EXAMPLE_OUTBOX": str(outbox)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_hitl_agent_runs_on_its_own_and_approves_by_default(outbox: Path) -> None:
    out = run_example("hitl_agent.py", TASK, answers="\n\n", outbox=outbox)

    assert sent(outbox) == ["bob@example.com"]
    assert not (outbox / "draft.txt").exists()
    assert '"type": "tool_approval"' in out


def test_inbox_agent_runs_on_its_own(outbox: Path) -> None:
    run_example("inbox_agent.py", "ship", "v2", answers='[{"type": "ignore"}]\n', outbox=outbox)
    assert files(outbox) == ["draft.txt"]


def test_plain_interrupt_runs_on_its_own(outbox: Path) -> None:
    out = run_example("plain_interrupt.py", "A-9", "120", answers="50\n", outbox=outbox)

    assert json.loads((outbox / "refund-A-9.json").read_text())["amount"] == 50
    assert '"status": "refunded"' in out


# app.py: an app on its own checkpointer, adopted


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The app's database: a SQLite file, or a PostgreSQL schema of the test's own."""
    if request.param == "sqlite":
        yield str(tmp_path / "app.sqlite")
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set HITL_TEST_POSTGRES_URL (.ci/run does)")
    import psycopg

    schema = f"hitl_app_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


@asynccontextmanager
async def app_saver(database: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    if database.startswith("postgresql://"):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(database) as saver:
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(database) as saver:
        yield saver


async def test_the_app_pauses_on_its_own_database_and_another_process_resumes_it(
    outbox: Path, app_database: str
) -> None:
    printed = run_example(
        "app.py", "--database", app_database, "--thread", "t1", TASK, answers="", outbox=outbox
    )

    pending = json.loads(printed)
    assert sorted(p["value"]["name"] for p in pending) == ["delete_file", "send_email"]
    assert sent(outbox) == []
    async with app_saver(app_database) as saver:
        graph = await load_graph("per_call", cwd=EXAMPLES).build(saver)
        state = await graph.aget_state(THREAD)
        assert {i.id for i in state.interrupts} == {p["id"] for p in pending}

        result = await resume(graph, {p["id"]: {"type": "approve"} for p in pending})

    assert not result.interrupts
    assert sent(outbox) == ["bob@example.com"]
    assert not (outbox / "draft.txt").exists()


async def test_the_app_runs_the_plain_graph_from_json(outbox: Path, tmp_path: Path) -> None:
    database = str(tmp_path / "app.sqlite")
    order = json.dumps({"order_id": "A-5", "amount": 99})
    printed = run_example(
        "app.py", "--database", database, "--graph", "plain", "--thread", "t1", order,
        answers="", outbox=outbox,
    )  # fmt: skip

    (pending,) = json.loads(printed)
    assert pending["value"]["question"] == "Refund order A-5?"
