"""A thread's story: history then live events, each shown once."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from tui.clock import FixedClock
from tui.story import StoryItem
from tui.widgets.thread_pane import ThreadPane

from ._factories import thread


def item(seq: int) -> StoryItem:
    return StoryItem(seq, "assistant", Text(f"line {seq}"))


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ThreadPane(FixedClock())


async def test_live_lines_wait_for_the_history_and_repeat_nothing() -> None:
    app = Host()
    async with app.run_test() as pilot:
        pane = app.query_one(ThreadPane)
        pane.begin(thread("t", created_at=1, title="pay the invoice"))
        pane.append([item(2), item(3)])  # arrived while the history loads
        assert pane.story_text == ""
        pane.load("t", [item(1), item(2)])
        await pilot.pause()
        assert pane.story_text.splitlines() == ["line 1", "line 2", "line 3"]
        pane.append([item(3), item(4)])
        await pilot.pause()
        assert pane.story_text.splitlines()[-1] == "line 4"
        assert pane.story_text.count("line 3") == 1


async def test_a_late_history_of_another_thread_is_dropped() -> None:
    app = Host()
    async with app.run_test() as pilot:
        pane = app.query_one(ThreadPane)
        pane.begin(thread("t", created_at=1))
        pane.begin(thread("u", created_at=2))
        pane.load("t", [item(7)])
        await pilot.pause()
        assert pane.story_text == ""


async def test_a_failed_thread_shows_its_error() -> None:
    app = Host()
    async with app.run_test() as pilot:
        pane = app.query_one(ThreadPane)
        failed = thread("t", created_at=1, status="failed")
        from dataclasses import replace

        pane.begin(replace(failed, error="ModelUnavailable: timed out"))
        await pilot.pause()
        assert "error: ModelUnavailable: timed out" in str(pane.query_one("#head").content)
        assert pane.has_class("-failed")
