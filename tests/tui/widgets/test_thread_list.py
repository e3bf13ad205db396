"""The thread list: newest first, filters, a cursor that follows its thread."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.message import Message

from tui.clock import FixedClock
from tui.live import ThreadRow
from tui.widgets.thread_list import ThreadList, parse_filter

from ._factories import thread


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ThreadList(FixedClock())


def rows(*threads: object) -> list[ThreadRow]:
    return [ThreadRow(t, 0) for t in threads]  # type: ignore[arg-type]


async def test_newest_first_and_the_cursor_stays_on_its_thread() -> None:
    app = Host()
    async with app.run_test() as pilot:
        threads = app.query_one(ThreadList)
        threads.upsert(rows(thread("old", created_at=1), thread("mid", created_at=2)))
        threads.focus()
        await pilot.press("j")
        assert threads.cursor == "old"
        threads.upsert(rows(thread("new", created_at=3)))
        assert threads.visible_keys == ["new", "mid", "old"]
        assert threads.cursor == "old"


async def test_filters_by_status_and_words() -> None:
    app = Host()
    async with app.run_test():
        threads = app.query_one(ThreadList)
        threads.upsert(
            rows(
                thread("a", created_at=1, status="waiting", title="email the Q3 report"),
                thread("b", created_at=2, status="done", title="search invoices"),
                thread("c", created_at=3, status="failed", title="email the Q4 plan"),
            )
        )
        threads.set_filter(None, "email")
        assert threads.visible_keys == ["c", "a"]
        threads.set_filter("waiting", "email")
        assert threads.visible_keys == ["a"]
        threads.set_filter(None, "")
        assert len(threads) == 3


def test_filter_text_understands_status_words() -> None:
    assert parse_filter("status:wait Q3") == ("waiting", "q3")
    assert parse_filter("is:failed") == ("failed", "")
    assert parse_filter("report") == (None, "report")


async def test_moving_the_cursor_selects_a_thread() -> None:
    seen: list[Message] = []
    app = Host()
    async with app.run_test(message_hook=seen.append) as pilot:
        threads = app.query_one(ThreadList)
        threads.upsert(rows(thread("a", created_at=1), thread("b", created_at=2)))
        threads.focus()
        await pilot.press("j")
        await pilot.pause()
    assert [m.thread_id for m in seen if isinstance(m, ThreadList.ThreadSelected)][-1] == "a"


async def test_a_row_shows_status_pending_and_age() -> None:
    app = Host()
    async with app.run_test(size=(50, 5)):
        threads = app.query_one(ThreadList)
        threads.upsert([ThreadRow(thread("a", created_at=1, status="waiting", title="pay"), 2)])
        line = threads.render_line(0).text
        assert "approval" in line and "pay" in line and "2⏸" in line and "1m" in line


async def test_the_title_counts_first_and_an_empty_filter_says_so() -> None:
    app = Host()
    async with app.run_test(size=(40, 10)) as pilot:
        threads = app.query_one(ThreadList)
        threads.upsert(
            rows(thread("a", created_at=1, title="note"), thread("b", created_at=2, title="x"))
        )
        assert threads.title(2) == "Threads 2"
        threads.set_filter("waiting", "nothing like this")
        assert threads.title(2).startswith("Threads 0/2 · waiting")  # the count, never cut
        await pilot.pause()
        screen = "\n".join(threads.render_line(y).text for y in range(2))
        assert "nothing matches (esc clears)" in screen
        threads.set_filter(None, "")
        threads.discard(["a", "b"])
        await pilot.pause()
        assert "no threads (n starts one)" in threads.render_line(0).text
