"""A small terminal: whatever can be decided is on screen (issue 13, defect 1).

Below 120 columns the console draws one region at a time, with tabs; Tab moves to the
next region and draws it. Dialogs fit 80x24. A decision key on a card that is not drawn
is refused, saying so.
"""

from __future__ import annotations

from typing import Any

from textual.command import CommandList
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button
from textual.widgets._footer import FooterKey

from engine import Home
from engine.engine import Engine
from tui.app import HitlApp
from tui.layout import card_in_view
from tui.screens.confirm import ARMED_LABEL, ConfirmHighRisk
from tui.screens.edit import EditScreen
from tui.screens.help import HelpScreen

from .helpers import EMAIL, TRANSFER, paused, running_console, wait_for_notice, wait_until

SMALL = (80, 24)


def drawn_whole(widget: Widget) -> bool:
    """The widget is drawn, all of it inside the terminal, on the screen shown."""
    screen = widget.app.screen
    try:
        region = screen.find_widget(widget).region
    except Exception:
        return False
    return widget.screen is screen and Region(0, 0, *widget.app.size).contains_region(region)


def columns_drawn(app: HitlApp) -> list[str]:
    return [
        column
        for column in ("threads-column", "center", "approvals-column")
        if drawn_whole(app.query_one(f"#{column}"))
    ]


async def _approvals_focused(app: HitlApp, pilot: Pilot[Any]) -> None:
    for _ in range(3):
        if app.focused is app.sidebar:
            return
        await pilot.press("tab")
        await pilot.pause()
    raise AssertionError("tab never reached the approvals")


async def test_at_80x24_each_tab_stop_is_drawn_and_a_approves_the_card_on_screen(
    engine: Engine, home: Home
) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine, size=SMALL) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the card")
        for _ in range(4):
            await pilot.press("tab")
            await pilot.pause()
            assert app.focused is not None and drawn_whole(app.focused), app.focused
            assert len(columns_drawn(app)) == 1  # one region at a time, full width
        await _approvals_focused(app, pilot)
        assert drawn_whole(app.detail)  # the Call panel, under the cards
        assert card_in_view(app.sidebar)
        await pilot.press("a")
        await wait_until(pilot, lambda: not app.live.pending, "the approval")
    assert len(list(home.outbox.glob("*.eml"))) == 1


async def test_the_layout_follows_the_terminal_width(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await pilot.pause()
        assert len(columns_drawn(app)) == 3
        await pilot.resize_terminal(100, 30)
        await wait_until(pilot, lambda: len(columns_drawn(app)) == 1, "one region at 100")
        header = str(app.header.render())[: app.header.size.width]  # what is drawn
        assert "1 pending" in header  # the header keeps the count, first
        await pilot.resize_terminal(160, 45)
        await wait_until(pilot, lambda: len(columns_drawn(app)) == 3, "three again at 160")


async def test_a_decision_key_on_a_card_not_drawn_is_refused(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine, notifications=True) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the card")
        app.sidebar.focus()
        await pilot.pause()
        app.query_one("#approvals-column").styles.offset = (200, 0)  # pushed off screen
        await pilot.pause()
        await pilot.press("a")
        await wait_for_notice(pilot, app, "the refusal", "not on screen", severity="warning")
        assert app.live.pending  # nothing was decided
    assert len(await engine.pending()) == 1


async def test_the_high_risk_dialog_fits_80x24_and_counts_down_its_arming(
    engine: Engine,
) -> None:
    await paused(engine, TRANSFER)
    async with running_console(engine, size=SMALL, confirm_arm_seconds=3.0) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the card")
        await _approvals_focused(app, pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmHighRisk), "the dialog")
        screen = app.screen
        button = screen.query_one("#approve", Button)
        assert str(button.label).startswith("Approve in ")  # the wait reads without colour
        await pilot.pause()
        for part in ("#title", "#explain", "#cancel", "#approve"):
            assert drawn_whole(screen.query_one(part)), part
        await wait_until(pilot, lambda: not button.disabled, "the arming")
        assert str(button.label) == ARMED_LABEL


async def test_the_editor_shows_its_diff_and_submit_at_80x24(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine, size=SMALL) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the card")
        await _approvals_focused(app, pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), "the editor")
        await pilot.pause()
        for part in ("#editor", "#diff", "#verdict", "#submit"):
            assert drawn_whole(app.screen.query_one(part)), part


async def test_help_fits_80x24_and_scrolls(engine: Engine) -> None:
    async with running_console(engine, size=SMALL) as (app, pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await pilot.pause()
        keys = app.screen.query_one("#keys")
        assert drawn_whole(keys)
        assert keys.max_scroll_y > 0 and app.focused is keys
        await pilot.press("end")
        await pilot.pause()
        assert keys.scroll_y == keys.max_scroll_y


async def test_a_narrow_footer_keeps_help_and_quit(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine, size=SMALL) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the card")
        await _approvals_focused(app, pilot)  # the region with the most keys of its own
        await pilot.pause()
        keys = {key.action: key for key in app.screen.query(FooterKey)}
        for action in ("help", "quit", "approve"):
            assert action in keys and drawn_whole(keys[action]), action


async def test_the_palette_does_not_decide_a_call_that_is_not_on_screen(
    engine: Engine, home: Home
) -> None:
    """`approve: <call>` from the palette at 80x24 while the threads are shown: the call
    is brought on screen and nothing is decided until a key decides it there."""
    await paused(engine, EMAIL)
    [approval] = await engine.pending()
    async with running_console(engine, notifications=True, size=SMALL) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the card")
        app.thread_list.focus()
        await pilot.pause()
        assert not card_in_view(app.sidebar)  # the threads' tab is the one drawn
        await pilot.press("ctrl+p", *f"approve: {approval.id}")
        await wait_until(
            pilot, lambda: app.screen.query_one(CommandList).option_count > 0, "palette hits"
        )
        await pilot.press("enter")
        await wait_for_notice(pilot, app, "the refusal", "not on screen", severity="warning")
        await wait_until(pilot, lambda: card_in_view(app.sidebar), "the call shown")
        assert app.sidebar.cursor == approval.id
        assert app.live.pending  # nothing was decided
        await pilot.press("a")  # on screen now: the key decides it
        await wait_until(pilot, lambda: not app.live.pending, "the call approved")
    assert len(list(home.outbox.glob("*.eml"))) == 1
