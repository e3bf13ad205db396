"""What tells rows, panes and states apart stays on screen (issue 13, defects 6, 7,
10, 11 and 12): distinguishing parts are never cut, each pane names its thread, focus
and cursor read without colour, outcome unknown is not the Help key, and the Thread
pane moves with the same keys as every list."""

from __future__ import annotations

from collections import Counter

from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.content import Content
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from engine import Approve, Reject
from engine.engine import Engine
from tui.app import HitlApp
from tui.clock import FixedClock
from tui.live import ThreadRow
from tui.story import StoryItem
from tui.widgets.approval_sidebar import ApprovalSidebar
from tui.widgets.status_header import StatusHeader
from tui.widgets.thread_list import ThreadList
from tui.widgets.thread_pane import ThreadPane

from .helpers import EMAIL, TRANSFER, paused, running_console, wait_until
from .widgets._factories import approval, thread

NOTES = [
    f"email the note about the quarterly figures {n} to person{n}@company.com" for n in range(297)
]


class Lists(App[None]):
    CSS_PATH = HitlApp.CSS_PATH  # the house look: the cursor's and focus's styles

    def compose(self) -> ComposeResult:
        yield ThreadList(FixedClock(), id="threads")
        yield ApprovalSidebar(FixedClock(), id="approvals")
        yield StatusHeader(id="header")


def line_text(strip: Strip) -> str:
    return "".join(segment.text for segment in strip)


def without_colour(strip: Strip) -> set[Style]:
    """What a monochrome terminal keeps of a line's look: bold, reverse, underline…"""
    return {(segment.style or Style()).without_color for segment in strip if segment.text.strip()}


async def test_297_like_titles_each_keep_what_tells_them_apart() -> None:
    app = Lists()
    async with app.run_test(size=(44, 40)) as pilot:
        threads = app.query_one(ThreadList)
        threads.styles.width = 40
        threads.upsert(
            ThreadRow(thread(f"t{n:03}", created_at=n, title=task), 0)
            for n, task in enumerate(NOTES)
        )
        await pilot.pause()
        shown = [line_text(threads.render_line(y)) for y in range(threads.size.height)]
        assert len(set(shown)) == len(shown), shown  # no two rows read the same
        assert all(
            f" {n} " in line or f"{n} to" in line
            for line, n in zip(shown, range(296, 0, -1), strict=False)
        )


async def test_cards_of_one_tool_keep_the_argument_that_differs() -> None:
    app = Lists()
    async with app.run_test(size=(60, 40)) as pilot:
        sidebar = app.query_one(ApprovalSidebar)
        sidebar.styles.width = 40
        body = "Hello, as requested here is the note. " * 8
        sidebar.upsert(
            approval(f"a{n}", created_at=n, args={"to": "all@company.com", "body": body + f"#{n}"})
            for n in range(5)
        )
        await pilot.pause()
        summaries = [line_text(sidebar.render_line(2 * n + 1)) for n in range(5)]
        assert len(set(summaries)) == 5, summaries
        for n, line in enumerate(summaries):
            assert f"#{n}" in line


async def test_a_card_keeps_its_whole_tool_name() -> None:
    app = Lists()
    async with app.run_test(size=(60, 40)) as pilot:
        sidebar = app.query_one(ApprovalSidebar)
        sidebar.styles.width = 36  # the approvals column at 120 columns
        sidebar.upsert([approval("abcd1234", created_at=1, tier="high", tool="transfer_money")])
        await pilot.pause()
        assert "transfer_money" in line_text(sidebar.render_line(0))


async def test_outcome_unknown_is_not_marked_with_the_help_key() -> None:
    app = Lists()
    async with app.run_test(size=(200, 40)) as pilot:
        header = app.query_one(StatusHeader)
        header.counts = Counter(unknown=1)
        sidebar = app.query_one(ApprovalSidebar)
        sidebar.upsert([approval("u1", created_at=1, kind="outcome_unknown")])
        await pilot.pause()
        assert "?" not in str(header.render())
        assert "?" not in line_text(sidebar.render_line(0))


async def test_focus_and_the_cursor_read_without_colour() -> None:
    app = Lists()
    async with app.run_test(size=(80, 40)) as pilot:
        threads = app.query_one(ThreadList)
        threads.upsert(
            ThreadRow(thread(f"t{n}", created_at=n, status="waiting", title=f"task {n}"), 1)
            for n in range(3)
        )
        threads.focus()
        await pilot.pause()
        cursor, other = threads.render_line(0), threads.render_line(1)
        # Not by shading alone, and not by bold alone: a waiting row's status is bold.
        assert without_colour(cursor) != without_colour(other)
        label = slice(0, 1)  # the status, drawn alike on both rows but for the cursor
        assert without_colour(Strip(list(cursor)[label])) != without_colour(
            Strip(list(other)[label])
        )
        sidebar = app.query_one(ApprovalSidebar)
        focused, unfocused = threads.styles.border_title_style, sidebar.styles.border_title_style
        assert focused.without_color != unfocused.without_color


def _lines(count: int) -> list[StoryItem]:
    return [StoryItem(n + 1, "assistant", Text(f"line {n}")) for n in range(count)]


class OnePane(App[None]):
    def compose(self) -> ComposeResult:
        yield ThreadPane(FixedClock())


async def test_the_thread_pane_moves_with_j_and_k() -> None:
    app = OnePane()
    async with app.run_test(size=(60, 20)) as pilot:
        pane = app.query_one(ThreadPane)
        pane.begin(thread("t", created_at=1, title="a long story"))
        pane.load("t", _lines(80))
        pane.focus()
        await wait_until(
            pilot,
            lambda: pane.max_scroll_y > 0 and pane.scroll_y == pane.max_scroll_y,
            "the pane following its newest line",
        )
        bottom = pane.max_scroll_y
        await pilot.press("k", "k", "k")
        await wait_until(pilot, lambda: pane.scroll_y == bottom - 3, "three lines up")
        await pilot.press("j")
        await wait_until(pilot, lambda: pane.scroll_y == bottom - 2, "one line down")


def _title(widget: Widget) -> str:
    """The frame's title as drawn (its plain text, not its markup)."""
    return Content.from_markup(str(widget.border_title or "")).plain


async def test_the_pane_and_each_grid_cell_name_their_thread_in_the_frame(
    engine: Engine,
) -> None:
    email, transfer = await paused(engine, EMAIL), await paused(engine, TRANSFER)
    async with running_console(engine, size=(220, 50)) as (app, pilot):
        await wait_until(pilot, lambda: app.pane.thread_id is not None, "a thread in the pane")
        shown = app.pane.thread
        assert shown is not None
        await wait_until(pilot, lambda: shown.title[:12] in _title(app.pane), "the pane's title")
        assert "approval" in _title(app.pane) and shown.id[:8] in _title(app.pane)
        other = transfer if shown.id == email else email
        app.action_open_thread(other)  # another thread in the same pane: its title follows
        title = app.live.threads[other].title[:12]
        await wait_until(pilot, lambda: title in _title(app.pane), "the other thread's title")
        await pilot.press("g")
        await wait_until(pilot, lambda: len([p for p in app.grid.panes if p.thread]) == 2, "cells")
        titles = {_title(p) for p in app.grid.panes if p.thread}
        for thread_id in (email, transfer):
            view = app.live.threads[thread_id]
            assert any(view.title[:12] in t and thread_id[:4] in t for t in titles), titles


async def test_a_thread_whose_only_call_was_rejected_does_not_read_as_a_success(
    engine: Engine,
) -> None:
    refused, approved = (
        await paused(engine, EMAIL),
        await paused(engine, "order 5 laptops at $900"),
    )
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.live.pending) == 2, "two cards")
        by_thread = {a.thread_id: a.id for a in app.live.pending.values()}
        await engine.decide(by_thread[refused], Reject("not today"))
        await engine.decide(by_thread[approved], Approve())
        await wait_until(
            pilot,
            lambda: all(app.live.threads[t].status == "done" for t in (refused, approved)),
            "both threads done",
        )
        await pilot.pause()
        lines = {
            key: line_text(app.thread_list.render_line(y))
            for y, key in enumerate(app.thread_list.visible_keys)
        }
        assert "✓ done" not in lines[refused] and "refused" in lines[refused]
        assert "✓ done" in lines[approved]
        for thread_id, reads in ((approved, "✓ done"), (refused, "⊘ refused")):
            app.action_open_thread(thread_id)  # the pane's frame and head say so too
            await wait_until(pilot, lambda t=thread_id: app.pane.thread_id == t, "the thread shown")
            await pilot.pause()
            assert _title(app.pane).startswith(reads), _title(app.pane)
            head = str(app.pane.query_one("#head", Static).content)
            assert head.startswith(reads), head


async def test_a_title_that_changes_to_look_like_another_is_told_apart_at_once() -> None:
    app = Lists()
    async with app.run_test(size=(44, 40)) as pilot:
        threads = app.query_one(ThreadList)
        threads.styles.width = 40
        first, second = NOTES[1], "a short task"
        threads.upsert(
            [
                ThreadRow(thread("t1", created_at=1, title=first), 0),
                ThreadRow(thread("t2", created_at=2, title=second), 0),
            ]
        )
        await pilot.pause()
        assert len({line_text(threads.render_line(y)) for y in (0, 1)}) == 2
        threads.upsert([ThreadRow(thread("t2", created_at=2, title=NOTES[2]), 0)])
        await pilot.pause()
        lines = [line_text(threads.render_line(y)) for y in (0, 1)]
        assert lines[0] != lines[1] and "2" in lines[0] and "1" in lines[1], lines


async def test_a_frame_title_shows_markup_and_hidden_characters_as_they_are() -> None:
    app = OnePane()
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(ThreadPane)
        pane.begin(thread("t-1", created_at=1, title="pay [b]bob[/b] \u202egnp.exe"))
        await pilot.pause()
        title = _title(pane)
        assert "[b]bob[/b]" in title  # not taken as markup
        assert "\u202e" not in title and "U+202E" in title  # the override is shown, not obeyed
