"""Threads an app started on its own checkpoint database: taken in when paused, resumed
here on a decision, and closed ("resumed elsewhere") when the app went on by itself."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command

from engine import AlreadyDecided, Approve, Engine, Home, Reject, load_graph
from engine.events import ApprovalWithdrawn

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
sys.path.insert(0, str(EXAMPLES))
from hitl_agent import build_agent  # noqa: E402

TASK = "Email bob@company.com the notes and delete draft.txt"


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    box = tmp_path / "outbox"
    box.mkdir()
    (box / "draft.txt").write_text("draft")
    monkeypatch.setenv("EXAMPLE_OUTBOX", str(box))
    return box


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Any]:
    """The app: its agent on its own SQLite checkpointer, in a file of its own."""
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "app.sqlite")) as saver:
        await saver.setup()
        yield build_agent("per_call", saver)


async def paused(app: Any, thread_id: str) -> list[Any]:
    config: Any = {"configurable": {"thread_id": thread_id}}
    await app.ainvoke({"messages": [HumanMessage(TASK)]}, config)
    return list((await app.aget_state(config)).interrupts)


async def until(check: Any, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110 - the state is in another process's rows
            await asyncio.sleep(0.05)


def emails(box: Path) -> list[Path]:
    return sorted(box.glob("*.eml"))


def shared_home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home", sqlite_file=tmp_path / "app.sqlite")


async def test_a_thread_the_app_paused_is_taken_in_and_resumed_here(
    app: Any, tmp_path: Path, outbox: Path
) -> None:
    await paused(app, "order-7")
    graph = load_graph(f"{EXAMPLES}/hitl_agent.py:per_call_agent")
    async with Engine.open(shared_home(tmp_path), graphs=[graph], operator="alice") as engine:
        thread = await engine.thread("order-7")
        assert (thread.model, thread.status, thread.task) == ("adopted", "waiting", TASK)
        cards = {c.tool: c for c in await engine.pending("order-7")}
        assert set(cards) == {"send_email", "delete_file"}

        # Paused later, while the engine is open: it shows up within a poll or two.
        await paused(app, "order-8")
        await until(lambda: _pending_count(engine, "order-8", 2))

        await engine.decide(cards["send_email"].id, Approve())
        await engine.decide(cards["delete_file"].id, Reject("keep it"))
        await asyncio.wait_for(engine.wait("order-7"), 60)
    assert len(emails(outbox)) == 1 and (outbox / "draft.txt").exists()
    # One history: the app reads the thread as the console left it.
    state = await app.aget_state({"configurable": {"thread_id": "order-7"}})
    assert not state.interrupts and not state.next
    assert str(state.values["messages"][-1].content).startswith("Done.")


async def test_a_card_the_app_answered_itself_closes_and_nothing_is_sent(
    app: Any, tmp_path: Path, outbox: Path
) -> None:
    interrupts = await paused(app, "order-9")
    graph = load_graph(f"{EXAMPLES}/hitl_agent.py:per_call_agent")
    async with Engine.open(shared_home(tmp_path), graphs=[graph], operator="alice") as engine:
        cards = {c.tool: c for c in await engine.pending("order-9")}
        with engine.subscribe() as events:
            # The app resumes its own thread: it rejects both calls.
            answers = {i.id: {"type": "reject", "message": "not today"} for i in interrupts}
            await app.ainvoke(Command(resume=answers), {"configurable": {"thread_id": "order-9"}})
            await until(lambda: _pending_count(engine, "order-9", 0))
            withdrawn = [e for e in events.drain() if isinstance(e, ApprovalWithdrawn)]
        assert {e.approval.tool for e in withdrawn} == {"send_email", "delete_file"}
        assert all(e.reason == "resumed elsewhere" for e in withdrawn)
        closed = await engine.approval(cards["send_email"].id)
        assert closed.status == "withdrawn"
        with pytest.raises(AlreadyDecided, match="resumed elsewhere"):
            await engine.decide(cards["send_email"].id, Approve())
        assert (await engine.thread("order-9")).status == "done"
    assert emails(outbox) == []
    assert (outbox / "draft.txt").exists()
    assert [e.kind for e in await _audit(tmp_path) if e.kind == "approval_withdrawn"] == [
        "approval_withdrawn",
        "approval_withdrawn",
    ]


async def _pending_count(engine: Engine, thread_id: str, count: int) -> bool:
    try:
        return len(await engine.pending(thread_id)) == count
    except Exception:  # not adopted yet
        return False


async def _audit(tmp_path: Path) -> list[Any]:
    from engine import Reader

    async with Reader.open(shared_home(tmp_path)) as reader:
        return list(await reader.audit())
