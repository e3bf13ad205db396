"""Deciding many calls at once: marks (space, a range, every card shown), one
confirmation that states the count and the highest tier, four-eyes kept, calls decided
elsewhere meanwhile reported and never decided again."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Button, Input, Label

from engine import Approve, Home, Reject
from engine.engine import Engine
from engine.policy_file import DEFAULT_POLICY_TOML
from tui.app import HitlApp
from tui.screens.confirm_bulk import ConfirmBulk

from .helpers import TRANSFER, paused, running_console, wait_for_notice, wait_until

NOTES = [f"email the note {n} to person{n}@company.com" for n in range(1, 6)]


def _headline(app: HitlApp) -> str:
    return str(app.screen.query_one("#title", Label).content)


def _status(app: HitlApp, key: str) -> str:
    row = app.sidebar.get(key)
    return row.status if row else "gone"


async def _confirm(app: HitlApp, pilot: Pilot[int]) -> None:
    """Tabs from Cancel to the confirm button once it is armed, and presses it."""
    screen = app.screen
    assert isinstance(screen, ConfirmBulk)
    await wait_until(pilot, lambda: screen.armed, "the confirm button to arm")
    if app.focused is screen.query_one("#cancel"):
        await pilot.press("tab")
    else:
        screen.query_one("#confirm").focus()
    await pilot.press("enter")


async def test_space_marks_and_ctrl_a_approves_the_marked_calls_after_one_confirmation(
    engine: Engine, home: Home
) -> None:
    for task in NOTES[:4]:
        await paused(engine, task)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 4, "four cards")
        app.sidebar.focus()
        await pilot.pause()
        first, second, third, _ = app.sidebar.visible_keys
        await pilot.press("space", "down", "space")  # marks 1, skips 2, marks 3
        assert app.sidebar.marked == {first, third}
        assert "2 marked" in str(app.sidebar.border_title)
        await pilot.press("ctrl+a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmBulk), "the confirmation")
        assert _headline(app) == "Approve 2 calls — highest tier: medium?"
        assert app.focused is app.screen.query_one("#cancel")
        await _confirm(app, pilot)
        await wait_until(
            pilot,
            lambda: [_status(app, k) for k in (first, third)] == ["approved"] * 2,
            "both marked calls approved",
        )
        assert _status(app, second) == "pending"
        assert not app.sidebar.marked
        await wait_for_notice(pilot, app, "the report", "2 approved", title="approve 2 calls")
    assert len(list(home.outbox.glob("*.eml"))) == 2
    assert len(await engine.pending()) == 2


async def test_escape_or_cancel_sends_nothing_and_keeps_the_marks(engine: Engine) -> None:
    for task in NOTES[:2]:
        await paused(engine, task)
    async with running_console(engine, confirm_arm_seconds=600) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 2, "two cards")
        app.sidebar.focus()
        await pilot.press("asterisk")
        assert len(app.sidebar.marked) == 2
        for keys in (("escape",), ("enter",), ("tab", "enter")):  # unarmed: nothing sends
            await pilot.press("ctrl+a")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmBulk), "confirm")
            assert app.screen.query_one("#confirm", Button).disabled
            await pilot.press(*keys)
            await pilot.pause()
            if isinstance(app.screen, ConfirmBulk):
                await pilot.press("escape")
            await wait_until(pilot, lambda: len(app.screen_stack) == 1, "the dialog to close")
        assert len(app.sidebar.marked) == 2
        await pilot.press("escape")  # escape on the list drops the marks
        assert not app.sidebar.marked
    assert len(await engine.pending()) == 2


async def test_a_range_marks_from_the_last_mark_to_the_cursor(engine: Engine) -> None:
    for task in NOTES:
        await paused(engine, task)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 5, "five cards")
        app.sidebar.focus()
        await pilot.pause()
        keys = app.sidebar.visible_keys
        await pilot.press("down", "space")  # marks the 2nd, and moves on to the 3rd
        assert app.sidebar.cursor == keys[2]
        await pilot.press("down", "V")  # the 2nd to the 4th
        assert app.sidebar.marked == set(keys[1:4])
        await pilot.press("up", "up", "space")  # space on a marked card unmarks it
        assert app.sidebar.marked == {keys[2], keys[3]}
        await pilot.press("asterisk")
        assert app.sidebar.marked == set(keys)
        await pilot.press("asterisk")  # all marked: * unmarks them all
        assert not app.sidebar.marked


async def test_high_risk_calls_get_one_approval_each_and_wait_for_a_second(
    engine: Engine, home: Home
) -> None:
    await paused(engine, NOTES[0])
    await paused(engine, TRANSFER)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 2, "two cards")
        app.sidebar.focus()
        await pilot.press("asterisk", "ctrl+a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmBulk), "the confirmation")
        assert _headline(app) == (
            "Approve 2 calls — highest tier: high (1 needs a second approval)?"
        )
        await _confirm(app, pilot)
        await wait_for_notice(
            pilot, app, "the report", "1 approved", "1 got this approval and wait"
        )
        [transfer] = await engine.pending()
        assert (transfer.tool, transfer.received, transfer.approvers) == (
            "transfer_money",
            1,
            ("alice",),
        )
    await engine.decide(transfer.id, Approve(), operator="bob")
    await engine.wait(transfer.thread_id)
    assert [e.kind for e in await engine.ledger()] == ["transfer"]


async def test_four_eyes_refusals_are_reported_in_the_one_report(home: Home) -> None:
    home.create()
    home.policy_file.write_text(
        DEFAULT_POLICY_TOML.replace("distinct_operators = false", "distinct_operators = true")
    )
    async with Engine.open(home, operator="alice") as engine:
        transfer = await paused(engine, TRANSFER)
        [card] = await engine.pending(transfer)
        await engine.decide(card.id, Approve())  # alice's first approval, from the CLI say
        async with running_console(engine, notifications=True) as (app, pilot):
            await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the card")
            app.sidebar.focus()
            await pilot.press("asterisk", "ctrl+a")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmBulk), "confirm")
            await _confirm(app, pilot)
            await wait_for_notice(pilot, app, "the report", "1 refused", "alice already approved")
        [card] = await engine.pending()
        assert (card.received, card.approvers) == (1, ("alice",))


async def test_a_call_decided_elsewhere_meanwhile_is_reported_not_decided_again(
    engine: Engine,
) -> None:
    for task in NOTES[:3]:
        await paused(engine, task)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 3, "three cards")
        app.sidebar.focus()
        await pilot.press("asterisk", "ctrl+a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmBulk), "the confirmation")
        assert _headline(app).startswith("Approve 3 calls")
        keys = app.sidebar.visible_keys
        taken = keys[1]
        await engine.decide(taken, Reject("not this one"), operator="bob")  # from elsewhere
        await _confirm(app, pilot)
        await wait_for_notice(pilot, app, "the report", "2 approved", "1 decided elsewhere")
    decided = [await engine.approval(key) for key in keys]
    assert [(a.status, a.decided_by) for a in decided] == [
        ("approved", "alice"),
        ("rejected", "bob"),
        ("approved", "alice"),
    ]


async def test_reject_marked_gives_every_call_one_reason(engine: Engine) -> None:
    for task in NOTES[:2]:
        await paused(engine, task)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 2, "two cards")
        app.sidebar.focus()
        await pilot.press("asterisk", "ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmBulk), "the confirmation")
        assert _headline(app) == "Reject 2 calls — highest tier: medium?"
        assert app.focused is app.screen.query_one("#reason", Input)
        await pilot.press(*"wrong list", "enter")  # enter in the reason sends nothing
        assert isinstance(app.screen, ConfirmBulk)
        keys = app.sidebar.visible_keys
        await _confirm(app, pilot)
        await wait_until(
            pilot, lambda: all(a.status == "rejected" for a in app.sidebar.rows), "both rejected"
        )
    for key in keys:
        rejected = await engine.approval(key)
        assert rejected.status == "rejected"
        assert "wrong list" in str(rejected.decision)


async def test_nothing_marked_says_how_to_mark(engine: Engine) -> None:
    await paused(engine, NOTES[0])
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the card")
        app.sidebar.focus()
        await pilot.press("ctrl+a")
        await wait_for_notice(pilot, app, "the hint", "Nothing is marked", "space")
        assert len(app.screen_stack) == 1
    assert len(await engine.pending()) == 1
