"""Attention and copying: a new approval of a ringing tier rings the terminal bell, and the title
says how many calls wait, so a person in another window knows to come back;
`y` / `Y` copy a call's id or arguments."""

from __future__ import annotations

import json

from engine.engine import Engine

from .helpers import EMAIL, TRANSFER, paused, running_console, wait_for_notice, wait_until


async def test_a_new_approval_rings_by_tier_and_the_title_counts_pending(
    engine: Engine,
) -> None:
    async with running_console(engine, bell_tiers=("high",)) as (app, pilot):
        assert app.title == "hitl"
        rang: list[None] = []
        app.bell = lambda: rang.append(None)  # type: ignore[method-assign]  # headless: silent
        await engine.start(EMAIL)  # medium: not a ringing tier here
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the email's card")
        assert app.title == "hitl · 1 pending"
        assert rang == []
        await engine.start(TRANSFER)  # high
        await wait_until(pilot, lambda: app.sidebar.pending_count == 2, "the transfer's card")
        assert app.title == "hitl · 2 pending"
        assert len(rang) == 1


async def test_by_default_medium_rings_too(engine: Engine) -> None:
    async with running_console(engine) as (app, pilot):
        rang: list[None] = []
        app.bell = lambda: rang.append(None)  # type: ignore[method-assign]
        await engine.start(EMAIL)
        await wait_until(pilot, lambda: rang, "the bell for a medium-risk email")
        assert app.title == "hitl · 1 pending"


async def test_y_copies_the_id_and_shift_y_the_arguments_of_the_call(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the email's card")
        app.sidebar.focus()
        await wait_until(pilot, lambda: app.sidebar.cursor_row is not None, "a card selected")
        row = app.sidebar.cursor_row
        assert row is not None
        await pilot.press("y")
        assert app.clipboard == row.id
        await wait_for_notice(pilot, app, "the copied notice", row.id, title="copied")
        await pilot.press("Y")
        assert json.loads(app.clipboard) == row.args
        assert row.args["to"] == "boss@company.com"
        await wait_for_notice(pilot, app, "the arguments notice", "arguments of send_email")


async def test_z_zooms_the_focused_panel_to_the_whole_screen_and_back(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.sidebar.pending_count == 1, "the email's card")
        app.sidebar.focus()
        await pilot.pause()
        narrow = app.sidebar.region.width
        await pilot.press("z")
        await wait_until(pilot, lambda: app.sidebar.region.width > narrow, "the zoomed list")
        assert app.screen.maximized is app.sidebar
        assert not app.thread_list.region  # the others are out of sight
        assert app.focused is app.sidebar  # decision keys still work on it
        await pilot.press("z")
        await wait_until(pilot, lambda: app.sidebar.region.width == narrow, "the list back")
        assert app.screen.maximized is None
        assert app.thread_list.region
