"""The full-screen thread view: from the Thread pane (Enter, ``v``), one thread's whole
story with a fixed header, long tool results folded, search with ``n``/``N`` and a count,
the pager's keys, live events, and no way to decide from it.

A real engine on a temporary home; a real file in the sandbox gives a long tool result.
"""

from __future__ import annotations

from typing import Any

from engine import Home, Reject
from engine.engine import Engine
from tui.app import HitlApp
from tui.calls import plain
from tui.screens.thread_view import ThreadViewScreen
from tui.widgets.story_entry import FOLD_LINES, Entry

from .helpers import EMAIL, paused, running_console, wait_until

LINES = 300
READ = "read the file notes.txt"


def _words(widget: Any) -> str:
    return plain(widget.content)


def _view(app: HitlApp) -> ThreadViewScreen:
    assert isinstance(app.screen, ThreadViewScreen)
    return app.screen


async def _open(app: HitlApp, pilot: Any, key: str = "enter") -> ThreadViewScreen:
    await wait_until(pilot, lambda: app.pane.thread is not None, "a thread in the pane")
    await wait_until(pilot, lambda: not app.pane.awaiting_history, "the pane's story")
    app.pane.focus()
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, ThreadViewScreen), "the view")
    view = _view(app)
    await wait_until(pilot, lambda: len(view.entries) >= 3, "the story in the view")
    await pilot.pause()
    return view


def _note(home: Home) -> None:
    home.sandbox.mkdir(parents=True, exist_ok=True)
    text = "".join(f"line {n:03} of the notes\n" for n in range(1, LINES + 1))
    (home.sandbox / "notes.txt").write_text(text[:3990])


async def test_a_long_tool_result_is_folded_and_enter_expands_it(
    engine: Engine, home: Home
) -> None:
    _note(home)
    await paused(engine, READ)
    async with running_console(engine, size=(80, 24)) as (app, pilot):
        await pilot.press("tab")  # narrow: the thread region
        view = await _open(app, pilot)
        [result] = [e for e in view.entries if e.has_class("-tool")]
        assert result.hidden_lines > 100
        shown = _words(result)
        assert f"… {result.hidden_lines} more lines (Enter to expand)" in shown
        assert "line 150" not in shown and len(shown.splitlines()) == FOLD_LINES + 1
        head = _words(view.query_one("#view-head"))
        assert head.startswith("✓ done · read the file notes.txt")

        view._move_to(view.entries.index(result))
        await pilot.press("enter")
        await pilot.pause()
        assert result.hidden_lines == 0 and "line 150 of the notes" in _words(result)
        top = view.story.scroll_y
        await pilot.press("pagedown")
        await pilot.pause()
        paged = view.story.scroll_y
        assert paged > top and view.cursor == view.entries.index(result)  # still inside it
        await pilot.press("j")  # inside an entry taller than the screen: one line
        await pilot.pause()
        assert view.story.scroll_y == paged + 1 and view.cursor == view.entries.index(result)
        await pilot.press("pageup", "pageup")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert "line 150" not in _words(result)

        await pilot.press("G")
        await pilot.pause()
        assert view.cursor == len(view.entries) - 1
        await pilot.press("g")
        await pilot.pause()
        assert (view.cursor, view.story.scroll_y) == (0, 0)
        await pilot.press("q")
        await wait_until(pilot, lambda: not isinstance(app.screen, ThreadViewScreen), "closed")


async def test_search_counts_and_steps_through_matches_and_opens_a_fold(
    engine: Engine, home: Home
) -> None:
    _note(home)
    await paused(engine, READ)
    async with running_console(engine) as (app, pilot):
        view = await _open(app, pilot, "v")
        await pilot.press("slash", *"line 15", "enter")  # lines 150 to 159
        await pilot.pause()
        status = _words(view.query_one("#view-status"))
        assert status.startswith(f"1/{len(view.matches)} “line 15”")
        [result] = [e for e in view.entries if e.has_class("-tool")]
        assert len(view.matches) == 10
        assert result.hidden_lines == 0  # the first match (line 150) is past the fold
        assert any(current for *_, current in result.marks)
        await pilot.press("n", "n")
        await pilot.pause()
        assert _words(view.query_one("#view-status")).startswith("3/10")
        await pilot.press("N", "N", "N")
        await pilot.pause()
        assert _words(view.query_one("#view-status")).startswith("10/10")  # wraps around

        await pilot.press("slash", *"nowhere-to-be-found", "enter")
        await pilot.pause()
        assert _words(view.query_one("#view-status")) == "no match for “nowhere-to-be-found”"
        await pilot.press("slash", "escape")  # esc leaves the search, not the view
        await pilot.pause()
        assert isinstance(app.screen, ThreadViewScreen)


async def test_the_view_follows_the_thread_and_decides_nothing(engine: Engine) -> None:
    thread_id = await paused(engine, EMAIL)
    async with running_console(engine, notifications=True) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the card")
        view = await _open(app, pilot)
        head = _words(view.query_one("#view-head"))
        assert "⏸ approval · email the Q3 report" in head
        assert "⏸ waits for approval: send_email" in head and "decide it in the approvals" in head

        await pilot.press("a", "r", "e", "E", "s", "w")  # decision keys do nothing here
        await pilot.pause()
        assert isinstance(app.screen, ThreadViewScreen)
        [approval] = await engine.pending()
        assert approval.received == 0

        await engine.decide(approval.id, Reject("not this week"), operator="bob")
        await wait_until(
            pilot,
            lambda: any("rejected by bob" in e.plain_text for e in view.entries),
            "bob's decision in the view",
        )
        assert any("not this week" in e.plain_text for e in view.entries)
        await wait_until(
            pilot,
            lambda: "waits for approval" not in _words(view.query_one("#view-head")),
            "the header without the call",
        )
        seqs = [e.seq for e in view.entries if e.seq]
        assert len(seqs) == len(set(seqs))  # each event once, history and live
        assert thread_id == view.thread_id


async def test_the_view_is_also_a_key_and_a_palette_command(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.pane.thread is not None, "a thread in the pane")
        app.thread_list.focus()
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ThreadViewScreen), "the view")
        assert _view(app).thread_id == app.pane.thread_id
        assert all(isinstance(e, Entry) for e in _view(app).entries)
