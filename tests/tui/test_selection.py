"""One selection: the thread pane, the Call panel, the approval cursor and every dialog
always show the same call; a decision moves on to the next call at once; a dialog
whose call was decided elsewhere closes, saying so."""

from __future__ import annotations

import asyncio

from textual.widgets import Label, Static

from engine import Approve, Home
from engine.engine import Engine
from tui.app import HitlApp
from tui.screens.ask import AskScreen
from tui.screens.confirm import ConfirmHighRisk
from tui.screens.edit import EditScreen

from .helpers import EMAIL, TRANSFER, paused, running_console, wait_for_notice, wait_until

NOTES = [f"email the note {n} to person{n}@company.com" for n in (1, 2, 3)]


def _agree(app: HitlApp) -> bool:
    """The pane, the Call panel and the approval cursor show one thread's call."""
    card = app.sidebar.cursor_row
    shown = app.detail.approval
    return (
        card is not None
        and shown is not None
        and shown.id == card.id
        and app.pane.thread_id == card.thread_id
    )


async def test_a_pressed_repeatedly_approves_one_call_after_another(
    engine: Engine, home: Home
) -> None:
    threads = [await paused(engine, task) for task in NOTES]
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 3, "three cards")
        app.sidebar.focus()
        await pilot.pause()
        for _ in NOTES:
            await pilot.press("a")
        await wait_until(
            pilot,
            lambda: all(a.status == "approved" for a in app.sidebar.rows),
            "all three approved",
        )
        assert sorted(r.decided_by or "" for r in app.sidebar.rows) == ["alice"] * 3
        assert set(threads) == {a.thread_id for a in app.sidebar.rows}
    assert len(list(home.outbox.glob("*.eml"))) == 3
    assert not await engine.pending()


async def test_after_a_decision_the_next_call_and_its_thread_are_selected(
    engine: Engine,
) -> None:
    first, second = [await paused(engine, task) for task in NOTES[:2]]
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 2, "two cards")
        await wait_until(pilot, lambda: _agree(app), "one selection at start-up")
        assert app.pane.thread_id == first
        app.sidebar.focus()
        await pilot.press("a")
        # at once: the decided card may linger, but not under the cursor
        assert app.sidebar.cursor_row is not None
        assert app.sidebar.cursor_row.thread_id == second
        await wait_until(pilot, lambda: _agree(app), "pane and Call panel on the next call")
        assert app.pane.thread_id == second
        assert app.thread_list.cursor == second


async def test_the_call_panel_follows_the_thread_list(engine: Engine) -> None:
    email = await paused(engine, EMAIL)
    transfer = await paused(engine, TRANSFER)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 2, "two cards")
        app.thread_list.focus()
        app.thread_list.move_to(transfer)
        await wait_until(pilot, lambda: app.pane.thread_id == transfer, "the transfer's pane")
        assert app.detail.approval is not None and app.detail.approval.tool == "transfer_money"
        assert app.sidebar.cursor_row is not None
        assert app.sidebar.cursor_row.thread_id == transfer
        app.thread_list.move_to(email)
        await wait_until(pilot, lambda: app.pane.thread_id == email, "the email's pane")
        assert app.detail.approval is not None and app.detail.approval.tool == "send_email"


async def test_a_thread_without_a_waiting_call_shows_none_in_the_call_panel(
    engine: Engine,
) -> None:
    done = await paused(engine, "search for quarterly revenue")
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the card")
        app.thread_list.focus()
        app.thread_list.move_to(done)
        await wait_until(pilot, lambda: app.pane.thread_id == done, "the finished thread")
        assert app.detail.approval is None
        text = str(app.detail.query_one("#call", Static).render())
        assert "waits for a decision" in text


async def test_a_dialog_closes_when_its_call_is_decided_elsewhere(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine, notifications=True) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the card")
        app.sidebar.focus()
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, AskScreen), "the reject dialog")
        title = str(app.screen.query_one("#title", Label).render())
        [approval] = await engine.pending()
        assert approval.id in title and "email" in title  # which call, in which thread
        assert approval.summary in str(app.screen.query_one("#prompt", Static).render())
        await engine.decide(approval.id, Approve(), operator="bob")  # from elsewhere
        await wait_until(pilot, lambda: not isinstance(app.screen, AskScreen), "it to close")
        await wait_for_notice(
            pilot,
            app,
            "the notice saying who decided",
            "approved by bob",
            title="decided elsewhere",
        )
        await pilot.pause()
    after = await engine.approval(approval.id)
    assert (after.status, after.decided_by) == ("approved", "bob")


async def test_the_editor_and_the_high_risk_modal_close_too(engine: Engine) -> None:
    await paused(engine, EMAIL)
    await paused(engine, TRANSFER)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 2, "two cards")
        email, transfer = sorted(await engine.pending(), key=lambda a: a.tool != "send_email")
        app.decisions.begin("edit", email.id)
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), "the editor")
        await engine.decide(email.id, Approve(), operator="bob")
        await wait_until(pilot, lambda: not isinstance(app.screen, EditScreen), "it to close")
        app.decisions.begin("approve", transfer.id)
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmHighRisk), "the modal")
        await engine.decide(transfer.id, Approve(), operator="bob")
        await engine.decide(transfer.id, Approve(), operator="carol")
        await wait_until(
            pilot, lambda: not isinstance(app.screen, ConfirmHighRisk), "the modal to close"
        )
        assert len(app.screen_stack) == 1


async def test_a_card_that_just_arrived_is_not_approved_by_a_repeated_key(
    engine: Engine,
) -> None:
    """The cursor moves on after a decision, but a call that appeared a moment ago is not
    decided by the next key press: the person has not seen it yet."""
    await paused(engine, NOTES[0])
    async with running_console(engine, settle_seconds=2.0) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the first card")
        app.sidebar.focus()
        await asyncio.sleep(2.1)  # the first card has been on screen long enough
        await paused(engine, NOTES[1])  # arrives while the person is about to press a
        await wait_until(pilot, lambda: app.sidebar.pending_count == 2, "the second card")
        await pilot.press("a", "a")
        await wait_until(
            pilot,
            lambda: any(a.status == "approved" for a in app.sidebar.rows),
            "the first approved",
        )
        await pilot.pause()
        second = next(a for a in app.sidebar.rows if NOTES[1].split()[3] in a.summary)
    assert (await engine.approval(second.id)).status == "pending"


async def test_a_on_a_call_decided_elsewhere_says_who_and_moves_on(engine: Engine) -> None:
    """bob approves the card under alice's cursor; it lingers there a moment. alice's
    ``a`` tells her bob was first and takes her to the next call at once (not after the
    linger), without deciding that next one."""
    await paused(engine, NOTES[0])
    await paused(engine, NOTES[1])
    async with running_console(
        engine, notifications=True, decided_linger_seconds=60.0
    ) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 2, "two cards")
        app.sidebar.focus()
        await pilot.pause()
        under = app.sidebar.cursor
        assert under is not None
        await engine.decide(under, Approve(), operator="bob")
        await wait_until(
            pilot,
            lambda: (row := app.sidebar.get(under)) is not None and row.status == "approved",
            "bob's approval shown on the card under the cursor",
        )
        assert app.sidebar.cursor == under  # it lingers under the cursor
        await pilot.press("a")
        await wait_for_notice(pilot, app, "who was first", "already decided", "bob")
        assert app.sidebar.cursor not in (None, under)
        assert app.sidebar.cursor_row is not None
        assert app.sidebar.cursor_row.status == "pending"
        assert len(await engine.pending()) == 1  # the next call was not decided
