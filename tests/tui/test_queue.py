"""The approval queue: filtered (tier, tool, thread, words) and ordered (oldest or
expiring first) like the thread list; the next waiting (high-risk) call from anywhere;
the call under the cursor decided from the command palette."""

from __future__ import annotations

from textual.command import CommandList
from textual.widgets import Static

from engine import Home
from engine.engine import Engine
from engine.policy_file import DEFAULT_POLICY_TOML
from tui.app import HitlApp
from tui.widgets.queue_filter import QueueFilter

from .helpers import TRANSFER, paused, running_console, wait_until

NOTES = [f"email the note {n} to person{n}@company.com" for n in (1, 2)]


def _tools(app: HitlApp) -> list[str]:
    return [row.tool for key in app.sidebar.visible_keys if (row := app.sidebar.get(key))]


async def _three_calls(engine: Engine) -> None:
    for task in [*NOTES, TRANSFER]:
        await paused(engine, task)


async def test_slash_on_the_approvals_filters_the_queue_by_tier_tool_and_thread(
    engine: Engine,
) -> None:
    await _three_calls(engine)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 3, "three cards")
        app.sidebar.focus()
        await pilot.press("slash")
        box = app.query_one("#queue-filter", QueueFilter)
        assert app.focused is box
        await pilot.press(*"tier:high")
        assert _tools(app) == ["transfer_money"]
        assert app.sidebar.border_title == "Pending approvals 1/3 · “tier:high”"
        assert app.thread_list.filtered is False  # the threads' filter is another one
        await pilot.press("enter")
        assert app.focused is app.sidebar
        assert app.sidebar.cursor_row is not None
        assert app.sidebar.cursor_row.tool == "transfer_money"
        await pilot.press("slash", *("backspace" for _ in "tier:high"), *"thread:person2")
        assert _tools(app) == ["send_email"]
        [shown] = app.sidebar.visible_keys
        row = app.sidebar.get(shown)
        assert row is not None and "person2@" in row.summary
        await pilot.press(*" nobody")  # a word in no card
        assert not app.sidebar.visible_keys
        await pilot.press("escape")  # in the box: clears it, back to the list
        assert app.focused is app.sidebar
        assert len(app.sidebar.visible_keys) == 3
        assert app.sidebar.border_title == "Pending approvals"


async def test_a_bulk_decision_covers_only_the_marked_cards_the_filter_shows(
    engine: Engine,
) -> None:
    await _three_calls(engine)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 3, "three cards")
        app.sidebar.focus()
        await pilot.press("asterisk", "slash", *"tool:send", "enter")
        assert "2 marked, 1 hidden" in str(app.sidebar.border_title)
        await pilot.press("ctrl+a")
        await wait_until(pilot, lambda: app.screen.id == "bulk", "the bulk confirmation")
        text = str(app.screen.query_one("#calls", Static).content)
        assert text.count("send_email") == 2
        assert "transfer" not in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(app.screen_stack) == 1, "the dialog to close")
        await pilot.press("escape", "escape")  # the marks first, then the filter
        assert not app.sidebar.marked
        assert len(app.sidebar.visible_keys) == 3
        assert not app.query_one("#queue-filter", QueueFilter).has_class("-shown")


async def test_o_puts_the_calls_expiring_soonest_first(home: Home) -> None:
    home.create()
    policy = DEFAULT_POLICY_TOML.replace(
        '[tiers.high]\napprovals = 2\ndistinct_operators = false\nexpires_after = "24h"',
        '[tiers.high]\napprovals = 2\ndistinct_operators = false\nexpires_after = "1h"',
    )
    assert policy != DEFAULT_POLICY_TOML
    home.policy_file.write_text(policy)
    async with Engine.open(home, operator="alice") as engine:
        await _three_calls(engine)
        async with running_console(engine) as (app, pilot):
            await wait_until(pilot, lambda: app.sidebar.pending_count == 3, "three cards")
            app.sidebar.focus()
            assert _tools(app) == ["send_email", "send_email", "transfer_money"]
            cursor = app.sidebar.cursor
            await pilot.press("o")
            assert _tools(app) == ["transfer_money", "send_email", "send_email"]
            assert app.sidebar.cursor == cursor  # the cursor stays on its call
            assert app.sidebar.border_title == "Pending approvals · expiring first"
            await pilot.press("o")
            assert _tools(app) == ["send_email", "send_email", "transfer_money"]


async def test_w_and_shift_w_go_to_the_next_waiting_and_high_risk_call_from_anywhere(
    engine: Engine,
) -> None:
    await _three_calls(engine)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 3, "three cards")
        first, second, transfer = app.sidebar.visible_keys
        app.thread_list.focus()
        await pilot.press("W")
        assert app.focused is app.sidebar
        assert app.sidebar.cursor == transfer
        card = app.sidebar.get(transfer)
        assert card is not None
        await wait_until(pilot, lambda: app.pane.thread_id == card.thread_id, "its thread")
        assert app.detail.approval is not None and app.detail.approval.id == transfer
        await pilot.press("w")  # wraps round to the first
        assert app.sidebar.cursor == first
        await pilot.press("w")
        assert app.sidebar.cursor == second


async def test_the_palette_decides_the_call_under_the_cursor(engine: Engine, home: Home) -> None:
    await paused(engine, NOTES[0])
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the card")
        await pilot.press("ctrl+p", *"approve: the call under")
        await wait_until(
            pilot, lambda: app.screen.query_one(CommandList).option_count > 0, "palette hits"
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.live.pending, "the call approved")
    assert len(list(home.outbox.glob("*.eml"))) == 1


async def test_the_palette_approves_the_marked_calls(engine: Engine) -> None:
    for task in NOTES:
        await paused(engine, task)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 2, "two cards")
        app.sidebar.focus()
        await pilot.press("space")
        await pilot.press("ctrl+p", *"approve: the marked")
        await wait_until(
            pilot, lambda: app.screen.query_one(CommandList).option_count > 0, "palette hits"
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.id == "bulk", "the bulk confirmation")
