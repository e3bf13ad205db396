"""A thread's story in the console: each event once, stamped with when it happened."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from rich.text import Text

from engine import Home
from engine.engine import Engine
from engine.event_codec import decode
from engine.events import ApprovalDecided, Event, MessageAdded
from tests.cli.test_cli import hitl
from tui.clock import FixedClock
from tui.launch import make_app

from .helpers import EMAIL, TEST_SETTINGS, paused, running_console, wait_until


class EpochClock(FixedClock):
    """Shows a time as the epoch seconds it stands for, and says it is always 0: a line
    stamped with the time the console saw it would read "@0.000"."""

    def time_of(self, at: float) -> str:
        return f"@{at:.3f}"


async def test_an_event_delivered_again_shows_once(engine: Engine) -> None:
    thread_id = await paused(engine, EMAIL)
    app = make_app(engine, TEST_SETTINGS)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: "waits for approval" in app.pane.story_text, "the story")
        shown = app.pane.story_text
        assert shown.count(EMAIL) == 1
        history = await engine.history(thread_id)
        again: list[Event] = [e for h in history if (e := decode(h)) is not None]
        await app.apply(again)  # what the journal's tail hands on, once more
        await pilot.pause()
        assert app.pane.story_text == shown

        [task] = [e for e in again if isinstance(e, MessageAdded) and e.role == "user"]
        await app.apply([replace(task, seq=max(h.seq for h in history) + 1)])
        await wait_until(
            pilot, lambda: app.pane.story_text.count(EMAIL) == 2, "a second message, same words"
        )


async def test_a_decision_made_elsewhere_shows_when_it_was_made(engine: Engine, home: Home) -> None:
    thread_id = await paused(engine, EMAIL)
    [approval] = await engine.pending()
    app = make_app(engine, replace(TEST_SETTINGS, clock=EpochClock()))
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: "waits for approval" in app.pane.story_text, "the story")
        await asyncio.to_thread(hitl, home, "approve", approval.id)  # another process
        await wait_until(pilot, lambda: "by carol" in app.pane.story_text, "carol's decision")
        [line] = [s for s in app.pane.story_text.splitlines() if "by carol" in s]
    [decided] = [h for h in await engine.history(thread_id) if h.kind == ApprovalDecided.KIND]
    assert line.startswith(f"@{decided.at:.3f} "), line


async def test_a_pane_keeps_its_newest_lines_and_says_how_many_went(engine: Engine) -> None:
    """A thread followed for hours must not hold a widget per line for good: the pane
    keeps ``STORY_LIMIT`` lines, the newest, and says how many earlier ones the
    full-screen view has."""
    from tui.story import StoryItem
    from tui.widgets.thread_pane import STORY_LIMIT, StoryLine

    thread = await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.pane.thread_id == thread, "the thread in the pane")
        extra = 150
        first = 10_000_000
        for n in range(STORY_LIMIT + extra):
            app.pane.append([StoryItem(first + n, "assistant", Text(f"step {n}"))])
            if n % 100 == 0:
                await pilot.pause()
        await pilot.pause()
        shown = app.pane.query(StoryLine)
        assert len(shown) == STORY_LIMIT
        assert app.pane.story_text.splitlines()[-1] == f"step {STORY_LIMIT + extra - 1}"
        marker = app.pane.query_one("#earlier")
        assert marker.display
        assert app.pane.earlier >= extra
        assert "earlier lines" in str(marker.render())
