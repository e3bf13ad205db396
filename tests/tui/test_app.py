"""The console end to end: a real engine on a temporary home, driven by keys."""

from __future__ import annotations

import json

from textual.command import CommandList
from textual.widgets import Button, Input, Static
from textual.widgets._footer import FooterKey

from engine import Approve, Home
from engine.engine import Engine
from tests.engine.chat_server import ChatServer, PlannedCall
from tui.app import HitlApp
from tui.calls import plain
from tui.keys import KEYS, display_key
from tui.screens.ask import AskScreen
from tui.screens.confirm import ConfirmHighRisk
from tui.screens.edit import EditScreen
from tui.screens.help import HelpScreen
from tui.screens.quit import QuitScreen
from tui.widgets.json_editor import JsonEditor

from .helpers import EMAIL, TRANSFER, paused, running_console, wait_for_notice, wait_until


def _footer(app: HitlApp) -> list[str]:
    """What the footer of the screen on top offers, as a person reads it."""
    return [key.description for key in app.screen.query(FooterKey)]


def _status(app: HitlApp, thread_id: str) -> str:
    row = app.thread_list.get(thread_id)
    return row.thread.status if row else "?"


async def test_approve_sends_the_email(engine: Engine, home: Home) -> None:
    thread_id = await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        app.sidebar.focus()
        await pilot.press("a")
        await wait_until(pilot, lambda: _status(app, thread_id) == "done", "the thread to finish")
        card = app.sidebar.rows[0]
        assert (card.status, card.decided_by) == ("approved", "alice")
        assert "approved by alice" in app.pane.story_text
    [sent] = list(home.outbox.glob("*.eml"))
    assert "To: boss@company.com" in sent.read_text()


async def test_decision_keys_are_inert_outside_the_approval_list(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        assert app.focused is app.thread_list
        await pilot.press("a", "r", "e")
        await pilot.pause()
        assert len(app.screen_stack) == 1
        assert [a.status for a in await engine.pending()] == ["pending"]


async def test_reject_with_a_reason(engine: Engine, home: Home) -> None:
    thread_id = await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        app.sidebar.focus()
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, AskScreen), "the reason dialog")
        await pilot.press(*"wrong quarter", "enter")
        await wait_until(pilot, lambda: _status(app, thread_id) == "done", "the thread to finish")
        assert app.sidebar.rows[0].status == "rejected"
        await wait_until(pilot, lambda: "wrong quarter" in app.pane.story_text, "the reason")
    assert not list(home.outbox.glob("*.eml"))
    history = await engine.history(thread_id)
    tool_results = [h.body["content"] for h in history if h.body.get("role") == "tool"]
    assert any("wrong quarter" in text for text in tool_results)


async def test_edit_with_valid_json_sends_the_edited_call(engine: Engine, home: Home) -> None:
    thread_id = await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        app.sidebar.focus()
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), "the editor")
        editor = app.screen.query_one(JsonEditor)
        edited = {"to": "cfo@company.com", "subject": "Q3 report", "body": "Attached.", "cc": []}
        editor.text_area.load_text(json.dumps(edited))
        await pilot.pause()
        assert '+ to: "cfo@company.com"' in str(app.screen.query_one("#diff").content)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: _status(app, thread_id) == "done", "the thread to finish")
        assert app.sidebar.rows[0].status == "edited"
    [sent] = list(home.outbox.glob("*.eml"))
    assert "To: cfo@company.com" in sent.read_text()


async def test_invalid_json_cannot_be_submitted(engine: Engine, home: Home) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        app.sidebar.focus()
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), "the editor")
        editor = app.screen.query_one(JsonEditor)
        editor.text_area.focus()
        await pilot.press("x")  # typed at the very start: no longer JSON
        await pilot.pause()
        assert editor.value is None
        assert editor.problems[0].startswith("line 1, column 1:")
        assert app.screen.query_one("#submit", Button).disabled
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, EditScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert len(app.screen_stack) == 1
    assert [a.status for a in await engine.pending()] == ["pending"]
    assert not list(home.outbox.glob("*.eml"))


async def test_schema_errors_name_the_field(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        app.sidebar.focus()
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), "the editor")
        editor = app.screen.query_one(JsonEditor)
        editor.text_area.load_text('{"to": "not-an-address", "subject": "Q3"}')
        await pilot.pause()
        problems = "\n".join(editor.problems)
        assert 'to: "not-an-address" is not a valid recipient address' in problems
        assert "body: required field is missing" in problems
        assert app.screen.query_one("#submit", Button).disabled


async def test_stray_keys_never_approve_a_high_risk_call(engine: Engine) -> None:
    await paused(engine, TRANSFER)
    async with running_console(engine, confirm_arm_seconds=600) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        app.sidebar.focus()
        for keys in (("enter",), ("tab", "enter"), ("a", "y", "space", "enter")):
            await pilot.press("a")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmHighRisk), "confirm")
            assert app.focused is app.screen.query_one("#cancel")
            assert app.screen.query_one("#approve", Button).disabled
            await pilot.press(*keys)
            await pilot.pause()
            if isinstance(app.screen, ConfirmHighRisk):
                await pilot.press("escape")
            await wait_until(pilot, lambda: len(app.screen_stack) == 1, "the dialog to close")
            assert (await engine.pending())[0].received == 0
        [approval] = await engine.pending()
        assert approval.received == 0


async def test_high_risk_takes_two_confirmed_approvals(engine: Engine) -> None:
    thread_id = await paused(engine, TRANSFER)
    async with running_console(engine, confirm_arm_seconds=0.05) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        app.sidebar.focus()
        for expected in (1, 2):
            await pilot.press("a")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmHighRisk), "confirm")
            screen = app.screen
            call_text = "\n".join(plain(w.content) for w in screen.query("#call Static"))
            assert "5,000.00 USD → acct-991" in call_text
            assert f"{expected - 1}/2 approvals" in call_text
            await wait_until(pilot, lambda s=screen: s.armed, "the approve button to arm")
            await pilot.press("tab", "enter")
            await wait_until(
                pilot,
                lambda n=expected: app.sidebar.rows[0].received == n,
                f"approval {expected} of 2 on the card",
            )
        await wait_until(pilot, lambda: _status(app, thread_id) == "done", "the thread to finish")
    [transfer] = [e for e in await engine.ledger() if e.kind == "transfer"]
    assert transfer.body["to_account"] == "acct-991"


async def test_high_risk_without_an_arming_wait_is_armed_at_once(engine: Engine) -> None:
    """``confirm_arm_seconds=0`` turns the wait off: the dialog opens armed, with no
    countdown, and approving records the approval (it crashed on a zero timer)."""
    await paused(engine, TRANSFER)
    async with running_console(engine, confirm_arm_seconds=0) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        app.sidebar.focus()
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmHighRisk), "confirm")
        await pilot.pause()
        approve = app.screen.query_one("#approve", Button)
        assert not approve.disabled
        assert "Approve in" not in str(approve.label)
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: app.sidebar.rows[0].received == 1, "approval 1 of 2")


async def test_new_thread_from_a_typed_task(engine: Engine) -> None:
    async with running_console(engine) as (app, pilot):
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, AskScreen), "the task dialog")
        await pilot.press(*"search for invoices", "enter")
        await wait_until(pilot, lambda: len(app.thread_list) == 1, "the new thread in the list")
        [row] = app.thread_list.rows
        assert row.thread.task == "search for invoices"
        await wait_until(pilot, lambda: _status(app, row.thread.id) == "done", "it to finish")
        assert app.pane.thread_id == row.thread.id
        await wait_until(pilot, lambda: "■ done" in app.pane.story_text, "its story")
        assert "→ search" in app.pane.story_text


async def test_filter_by_text_and_by_status(engine: Engine) -> None:
    email = await paused(engine, EMAIL)
    search = await paused(engine, "search for invoices")
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.thread_list) == 2, "both threads")
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"q3")
        await pilot.pause()
        assert app.thread_list.visible_keys == [email]
        assert str(app.thread_list.border_title) == "Threads 1/2 · “q3”"
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.thread_list
        assert len(app.thread_list) == 2
        await pilot.press("f")  # all -> running
        await pilot.press("f")  # running -> waiting
        await pilot.pause()
        assert app.thread_list.visible_keys == [email]
        await pilot.press("f", "f")  # -> unknown -> done
        await pilot.pause()
        assert app.thread_list.visible_keys == [search]


async def test_grid_shows_threads_side_by_side_live(engine: Engine) -> None:
    email = await paused(engine, EMAIL)
    search = await paused(engine, "search for invoices")
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.thread_list) == 2, "both threads")
        await pilot.press("g")
        assert app.grid_shown
        shown = {pane.thread_id for pane in app.grid.panes if pane.thread_id}
        assert shown == {email, search}
        cell = app.grid.pane_for(email)
        assert cell is not None
        await wait_until(pilot, lambda: "waits for approval" in cell.story_text, "its story")
        [approval] = await engine.pending()
        await engine.decide(approval.id, Approve(), operator="bob")  # from elsewhere
        await wait_until(pilot, lambda: "approved by bob" in cell.story_text, "the live update")
        await pilot.press("g")
        assert not app.grid_shown


async def test_tab_moves_between_regions(engine: Engine) -> None:
    async with running_console(engine) as (app, pilot):
        assert app.focused is app.thread_list
        await pilot.press("tab")
        assert app.focused is app.pane
        await pilot.press("tab")
        assert app.focused is app.sidebar
        await pilot.press("tab")
        assert app.focused is app.thread_list
        await pilot.press("shift+tab")
        assert app.focused is app.sidebar


async def test_quit_asks_first_while_approvals_wait(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitScreen), "the question")
        await pilot.press("enter")  # focus starts on Stay
        await pilot.pause()
        assert len(app.screen_stack) == 1 and app.is_running
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitScreen), "the question")
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, "the console to close")
    assert app.return_code == 0


async def test_quit_at_once_when_nothing_waits(engine: Engine) -> None:
    async with running_console(engine) as (app, pilot):
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, "the console to close")


async def test_closing_while_ages_tick_is_clean(engine: Engine) -> None:
    """The live-age refresh stops with the console: a tick due while the screen is being
    taken down used to look up the thread list after it was gone (NoMatches '#threads')."""
    await paused(engine, EMAIL)
    for _ in range(5):
        async with running_console(engine, tick_seconds=0.001) as (app, pilot):
            await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        assert app._exception is None


async def test_restart_shows_approvals_already_in_the_home(home: Home) -> None:
    async with Engine.open(home, operator="alice") as first:
        email = await paused(first, EMAIL)
        await paused(first, TRANSFER)
    async with Engine.open(home, operator="alice") as engine:
        async with running_console(engine) as (app, pilot):
            await wait_until(pilot, lambda: len(app.sidebar) == 2, "both approvals")
            assert [a.tool for a in app.sidebar.rows] == ["send_email", "transfer_money"]
            assert app.header.pending == 2
            assert app.header.counts["waiting"] == 2
            await wait_until(pilot, lambda: app.pane.thread_id == email, "the first one's thread")


async def test_a_new_approval_never_moves_the_cursor(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the first card")
        app.sidebar.focus()
        first = app.sidebar.cursor
        await paused(engine, TRANSFER)
        await wait_until(pilot, lambda: len(app.sidebar) == 2, "the second card")
        assert app.sidebar.cursor == first
        assert app.focused is app.sidebar


async def test_engine_errors_become_notifications(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine, notifications=True) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        [approval] = await engine.pending()
        await engine.decide(approval.id, Approve(), operator="bob")
        app.decisions.begin("approve", approval.id)  # raced: bob was first
        await wait_for_notice(
            pilot, app, "the error notification", "already decided", "approved by bob"
        )
        assert app.is_running


async def test_a_failing_model_endpoint_fails_the_thread_and_retry_continues_it(
    home: Home,
) -> None:
    email = {"to": "boss@company.com", "subject": "Q3", "body": "Attached.", "cc": []}
    with ChatServer([PlannedCall("send_email", email, id="call_email")]) as server:
        server.fail_with = 500
        async with Engine.open(
            home,
            model="openai:test-model",
            base_url=server.base_url,
            api_key="test",
            operator="alice",
        ) as engine:
            async with running_console(engine) as (app, pilot):
                await pilot.press("n")
                await wait_until(pilot, lambda: isinstance(app.screen, AskScreen), "the dialog")
                await pilot.press(*EMAIL, "enter")
                await wait_until(pilot, lambda: len(app.thread_list) == 1, "the thread")
                [row] = app.thread_list.rows
                thread_id = row.thread.id
                await wait_until(pilot, lambda: _status(app, thread_id) == "failed", "failure")
                assert app.pane.thread_id == thread_id
                head = plain(app.pane.query_one("#head").content)
                assert "failed" in head.splitlines()[0]
                [error_line] = [line for line in head.splitlines() if line.startswith("error:")]
                assert "500" in error_line
                assert "scripted failure: Internal Server Error" in error_line
                await wait_until(pilot, lambda: "✗ failed:" in app.pane.story_text, "the story")
                assert "scripted failure: Internal Server Error" in app.pane.story_text
                assert server.requests, "the model endpoint was really asked"

                server.fail_with = None  # the endpoint recovers; R retries the thread
                app.thread_list.focus()
                await wait_until(pilot, lambda: "Retry failed" in _footer(app), "R offered")
                await pilot.press("R")
                await wait_until(pilot, lambda: _status(app, thread_id) == "waiting", "the retry")
                await wait_until(pilot, lambda: "Retry failed" not in _footer(app), "R gone")
                assert "error:" not in plain(app.pane.query_one("#head").content)
                await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
                assert app.sidebar.rows[0].tool_call_id == "call_email"


async def test_respond_answers_in_place_of_the_tool(engine: Engine, home: Home) -> None:
    thread_id = await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        app.sidebar.focus()
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, AskScreen), "the answer dialog")
        await pilot.press(*"sent by hand", "enter")
        await wait_until(pilot, lambda: _status(app, thread_id) == "done", "the thread to finish")
        assert app.sidebar.rows[0].status == "responded"
    assert not list(home.outbox.glob("*.eml"))
    assert "sent by hand" in ((await engine.thread(thread_id)).answer or "")


async def test_palette_jumps_to_a_thread_by_name(engine: Engine) -> None:
    email = await paused(engine, EMAIL)
    search = await paused(engine, "search for invoices")
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.thread_list) == 2, "both threads")
        await wait_until(pilot, lambda: app.pane.thread_id == email, "the first thread shown")
        await pilot.press("ctrl+p")
        await pilot.press(*"open search for invoices")
        await wait_until(
            pilot, lambda: app.screen.query_one(CommandList).option_count > 0, "palette hits"
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.pane.thread_id == search, "the chosen thread")
        assert app.thread_list.cursor == search


async def test_palette_runs_thread_list_actions(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.thread_list) == 1, "the thread")
        await pilot.press("ctrl+p")
        await pilot.press(*"action: status filter")
        await wait_until(
            pilot, lambda: app.screen.query_one(CommandList).option_count > 0, "palette hits"
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.thread_list.status_filter is not None, "a filter")


async def test_help_lists_every_key(engine: Engine) -> None:
    async with running_console(engine) as (app, pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        lines = [
            " ".join(line.split())
            for static in app.screen.query(Static)
            for line in plain(static.content).splitlines()
        ]
        for key, action in (("a", "Approve"), ("r", "Reject"), ("e", "Edit"), ("s", "Respond")):
            assert f"{key} {action} approval list" in lines
        for spec in KEYS:
            row = f"{display_key(spec.key)} {spec.description}"
            assert any(line.startswith(row) for line in lines), f"{row!r} is not listed"
        await pilot.press("escape")
        await pilot.pause()
        assert len(app.screen_stack) == 1


async def test_a_decided_card_leaves_the_sidebar_after_a_moment(engine: Engine) -> None:
    await paused(engine, EMAIL)
    await paused(engine, TRANSFER)
    async with running_console(engine, decided_linger_seconds=3.0) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 2, "both cards")
        email = next(a for a in app.sidebar.rows if a.tool == "send_email")
        await engine.decide(email.id, Approve(), operator="bob")  # from elsewhere
        await wait_until(
            pilot,
            lambda: (card := app.sidebar.get(email.id)) is not None and card.status == "approved",
            "the card marked approved",
        )
        assert len(app.sidebar) == 2  # it stays a moment, so the person sees what happened
        await wait_until(pilot, lambda: email.id not in app.sidebar, "the card to leave")
        assert [a.tool for a in app.sidebar.rows] == ["transfer_money"]
        assert app.sidebar.pending_count == 1


async def test_a_dialog_footer_offers_the_dialog_keys_not_the_main_screens(
    engine: Engine,
) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        assert "Retry failed" not in _footer(app)  # no failed thread under the cursor
        app.sidebar.focus()
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), "the editor")
        await wait_until(pilot, lambda: "Submit edit" in _footer(app), "its footer")
        assert "Cancel" in _footer(app)
        assert not {"New thread", "Approve", "Quit"} & set(_footer(app))
