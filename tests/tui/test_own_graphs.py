"""The console in front of people's own graphs: the examples' agents (LangChain's
``HumanInTheLoopMiddleware``, per call and batched) and a plain ``interrupt()`` graph,
loaded as ``hitl --graph`` loads them, on a real engine and a real SQLite home; the
tools act on a real outbox.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command
from textual.containers import VerticalScroll
from textual.widgets import Button, OptionList, Static, TextArea

from engine import ApprovalView, Home
from engine.engine import Engine
from engine.foreign.loading import load_graph
from tui.app import HitlApp
from tui.calls import plain
from tui.launch import make_app
from tui.screens.answer import AnswerScreen
from tui.screens.choose import ChooseScreen
from tui.screens.edit import EditScreen

from .helpers import TEST_SETTINGS, running_console, wait_until

EXAMPLES = Path(__file__).parents[2] / "examples"
TASK = "Email bob@company.com the Q3 numbers and delete draft.txt"
POLICY = """\
default_tier = "medium"

[tools]
send_email = "medium"
delete_file = "medium"
"""
"""Both gated tools need one person: no four-eyes dialog in the way."""


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where the examples' tools act, holding the draft the agents are asked to delete."""
    box = tmp_path / "outbox"
    box.mkdir()
    (box / "draft.txt").write_text("an old draft")
    monkeypatch.setenv("EXAMPLE_OUTBOX", str(box))
    yield box


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    file = tmp_path / "policy.toml"
    file.write_text(POLICY)
    return file


@contextlib.asynccontextmanager
async def own_engine(home: Home, policy: Path, *names: str) -> AsyncIterator[Engine]:
    """An engine on ``home`` running the examples' graphs ``names`` (by their
    ``langgraph.json`` names), as ``hitl --graph NAME`` opens one."""
    graphs = [load_graph(name, cwd=EXAMPLES) for name in names]
    async with Engine.open(home, policy=policy, graphs=graphs, operator="alice") as engine:
        yield engine


async def paused_on(engine: Engine, graph: str, task: str = TASK) -> str:
    thread = await engine.start(task, graph=graph)
    await engine.wait(thread.id)
    return thread.id


def card(app: HitlApp, tool: str) -> ApprovalView:
    return next(a for a in app.sidebar.rows if a.tool == tool)


async def select_card(app: HitlApp, pilot: Any, tool: str) -> ApprovalView:
    """Focuses the approval list with the cursor on ``tool``'s card (as the palette's
    "approval: …" command does)."""
    chosen = card(app, tool)
    app.action_open_approval(chosen.id)
    await pilot.pause()
    assert app.sidebar.cursor == chosen.id
    return chosen


def call_panel(app: HitlApp) -> str:
    return plain(app.detail.query_one("#call", Static).content)


def toasts(app: HitlApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


def sent(outbox: Path) -> list[str]:
    return sorted(p.read_text() for p in outbox.glob("*.eml"))


# LangChain HITL, per call


async def test_the_call_panel_names_the_format_its_decisions_and_the_missing_guard(
    home: Home, policy: Path, outbox: Path
) -> None:
    async with own_engine(home, policy, "per_call") as engine:
        await paused_on(engine, "per_call")
        async with running_console(engine) as (app, pilot):
            await wait_until(pilot, lambda: len(app.sidebar) == 2, "both cards")

            await select_card(app, pilot, "send_email")
            shown = call_panel(app)
            assert "LangChain HITL (per call)" in shown
            assert "decisions: approve (a), edit (e), reject (r), respond (s)" in shown
            assert "not protected against re-running after a crash" in shown
            assert "Tool execution requires approval" in shown
            assert "Args: {" not in shown  # LangChain's repr of the call: the preview says it
            assert "to      bob@company.com" in shown

            await select_card(app, pilot, "delete_file")
            shown = call_panel(app)
            assert "decisions: approve (a), reject (r)" in shown
            assert "draft.txt" in shown


async def test_edit_on_a_call_that_allows_only_approve_or_reject_is_refused(
    home: Home, policy: Path, outbox: Path
) -> None:
    async with own_engine(home, policy, "per_call") as engine:
        await paused_on(engine, "per_call")
        async with running_console(engine, notifications=True) as (app, pilot):
            await wait_until(pilot, lambda: len(app.sidebar) == 2, "both cards")
            await select_card(app, pilot, "delete_file")
            await pilot.press("e")
            await wait_until(
                pilot,
                lambda: any("does not allow edit" in t for t in toasts(app)),
                "the warning",
            )
            assert not isinstance(app.screen, EditScreen)
            assert len(app.screen_stack) == 1
        assert [a.status for a in await engine.pending()] == ["pending", "pending"]
    assert (outbox / "draft.txt").exists()


async def test_approving_the_email_writes_it_to_the_outbox(
    home: Home, policy: Path, outbox: Path
) -> None:
    async with own_engine(home, policy, "per_call") as engine:
        thread_id = await paused_on(engine, "per_call")
        async with running_console(engine) as (app, pilot):
            await wait_until(pilot, lambda: len(app.sidebar) == 2, "both cards")
            await select_card(app, pilot, "send_email")
            await pilot.press("a")
            await wait_until(
                pilot, lambda: card(app, "send_email").status == "approved", "the approval"
            )
            await engine.wait(thread_id)
            assert card(app, "send_email").decided_by == "alice"
            assert card(app, "delete_file").status == "pending"
    [mail] = sent(outbox)
    assert "To: bob@company.com" in mail
    assert (outbox / "draft.txt").exists()


# LangChain HITL, batched


async def test_a_batched_review_lists_every_call_and_runs_none_until_all_are_decided(
    home: Home, policy: Path, outbox: Path
) -> None:
    async with own_engine(home, policy, "batched") as engine:
        thread_id = await paused_on(engine, "batched")
        async with running_console(engine) as (app, pilot):
            await wait_until(pilot, lambda: len(app.sidebar) == 2, "both cards")
            assert {a.tool for a in app.sidebar.rows} == {"send_email", "delete_file"}
            await select_card(app, pilot, "send_email")
            assert "LangChain HITL (batched) · action 1 of 2" in call_panel(app)

            await pilot.press("a")
            await wait_until(
                pilot, lambda: card(app, "send_email").status == "approved", "the approval"
            )
            await engine.wait(thread_id)
            assert sent(outbox) == []
            assert card(app, "delete_file").status == "pending"
            assert app.thread_list.get(thread_id).thread.status == "waiting"

            await select_card(app, pilot, "delete_file")
            await pilot.press("r")
            await wait_until(pilot, lambda: app.screen.id == "reject", "the reason dialog")
            await pilot.press(*"keep it", "enter")
            await wait_until(
                pilot,
                lambda: app.thread_list.get(thread_id).thread.status == "done",
                "the thread to finish",
            )
    [mail] = sent(outbox)
    assert "To: bob@company.com" in mail
    assert (outbox / "draft.txt").exists()


# A graph without messages, and an interrupt the engine does not know


async def test_a_plain_graph_starts_from_json_and_its_question_is_answered_in_json(
    home: Home, policy: Path, outbox: Path
) -> None:
    async with own_engine(home, policy, "per_call", "plain") as engine:
        async with running_console(engine, notifications=True) as (app, pilot):
            await wait_until(pilot, lambda: app.engine is not None, "the engine")
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, ChooseScreen), "the graphs")
            options = app.screen.query_one(OptionList)
            offered = [options.get_option_at_index(i).id for i in range(options.option_count)]
            assert offered == ["graph:per_call", "graph:plain", "builtin"]
            await pilot.press("down", "enter")

            await wait_until(pilot, lambda: isinstance(app.screen, AnswerScreen), "the input")
            dialog = app.screen
            dialog.query_one(TextArea).load_text('{"order_id": "A-7", "amount": 250')
            await pilot.pause()
            assert dialog.query_one("#submit", Button).disabled
            assert "✗ line 1" in plain(dialog.query_one("#problems", Static).content)
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is dialog
            assert engine.graphs and not app.thread_list.rows

            # JSON, but not the graph's input: refused before the dialog closes, text kept
            dialog.query_one(TextArea).load_text('{"order_id": 7, "amount": 250}')
            await pilot.pause()
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is dialog and "order_id" in dialog.query_one(TextArea).text
            assert not app.thread_list.rows

            dialog.query_one(TextArea).load_text('{"order_id": "A-7", "amount": 250}')
            await pilot.pause()
            assert not dialog.query_one("#submit", Button).disabled
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: len(app.sidebar) == 1, "the refund question")
            [row] = app.thread_list.rows
            assert row.thread.graph == "plain"
            assert app.pane.thread_id == row.thread.id
            await wait_until(pilot, lambda: "receive " in app.pane.story_text, "node updates")
            assert '"status": "received"' in app.pane.story_text

            await select_card(app, pilot, "")
            assert call_panel(app).count("unrecognised interrupt") == 1
            assert "Refund order A-7?" in call_panel(app)
            assert "decisions: answer (e)" in call_panel(app)
            await pilot.press("r")
            await wait_until(
                pilot,
                lambda: any(
                    "This interrupt does not allow reject; it takes answer (e)." in t
                    for t in toasts(app)
                ),
                "the refusal",
            )
            assert len(app.screen_stack) == 1

            await pilot.press("e")
            await wait_until(pilot, lambda: app.screen.id == "answer", "the answer dialog")
            asked = plain(app.screen.query_one("#asked Static", Static).content)
            assert '"question": "Refund order A-7?"' in asked
            await pilot.press(*"true", "ctrl+s")  # typed over the placeholder
            await wait_until(
                pilot,
                lambda: app.thread_list.get(row.thread.id).thread.status == "done",
                "the thread to finish",
            )
            await wait_until(pilot, lambda: "settle " in app.pane.story_text, "the settlement")
            assert "↩ interrupt answered by alice" in app.pane.story_text
    refund = json.loads((outbox / "refund-A-7.json").read_text())
    assert refund["amount"] == 250


async def test_the_answer_dialog_fits_an_80_by_24_terminal(
    home: Home, policy: Path, outbox: Path
) -> None:
    async with own_engine(home, policy, "plain") as engine:
        thread = await engine.start(graph="plain", input={"order_id": "C-3", "amount": 40})
        await engine.wait(thread.id)
        app = make_app(engine, TEST_SETTINGS)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: len(app.sidebar) == 1, "the question")
            await select_card(app, pilot, "")
            await pilot.press("e")
            await wait_until(pilot, lambda: app.screen.id == "answer", "the answer dialog")
            screen = app.screen.region
            for part in ("#asked", "#json", "#cancel", "#submit"):
                shown = app.screen.query_one(part).region
                assert screen.contains_region(shown), f"{part} is cut off: {shown}"
            assert app.screen.query_one("#asked", VerticalScroll).max_scroll_y == 0


# A thread the app paused, resumed by the app itself


async def test_a_card_resumed_elsewhere_disappears_with_a_notice(
    tmp_path: Path, policy: Path, outbox: Path
) -> None:
    """The app runs the plain graph on its own checkpoint file; the console shares it,
    adopts the paused thread, and closes its card when the app answers it itself."""
    app_db = tmp_path / "app.sqlite"
    thread = {"configurable": {"thread_id": "order-9"}}
    app_graph = load_graph("plain", cwd=EXAMPLES)
    async with AsyncSqliteSaver.from_conn_string(str(app_db)) as saver:
        await saver.setup()
        graph = await app_graph.build(saver)
        await graph.ainvoke({"order_id": "B-9", "amount": 90}, thread)

        shared = Home(tmp_path / "home", sqlite_file=app_db)
        async with own_engine(shared, policy, "plain") as engine:
            console = running_console(engine, notifications=True, decided_linger_seconds=2.0)
            async with console as (app, pilot):
                await wait_until(pilot, lambda: len(app.sidebar) == 1, "the adopted card")
                [adopted] = app.sidebar.rows
                assert adopted.thread_id == "order-9"
                app.action_open_approval(adopted.id)

                await graph.ainvoke(Command(resume=False), thread)  # the app answers
                await wait_until(
                    pilot, lambda: app.sidebar.rows[0].status == "withdrawn", "the card to close"
                )
                assert any(
                    t.startswith("resumed elsewhere: ") and "nothing was sent" in t
                    for t in toasts(app)
                )
                shown = call_panel(app)
                assert "closed: resumed elsewhere: closed, nothing sent" in shown
                assert "decisions:" not in shown
                assert app.header.pending == 0
                await wait_until(pilot, lambda: len(app.sidebar) == 0, "the card to go")
            assert await engine.pending() == []
    assert not (outbox / "refund-B-9.json").exists()
