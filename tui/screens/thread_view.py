"""One thread's whole story on the whole screen: a fixed header, search, and a pager.

The Thread pane shows a story beside the approvals; this screen is for reading one: a
long tool result or message is folded to a few lines ("… 240 more lines (Enter to
expand)"), ``/`` searches every line (folded ones too: a match opens its entry), ``n`` /
``N`` go from match to match, and the header keeps the thread's status, title, id and the
call waiting for approval in view however far the story scrolls.

It follows the thread live on a subscription of its own (the history first, then new
events, each once by its journal seq), so it needs nothing from the app's event path.
It offers no decision keys: a call is decided in the approvals, where it is on screen
under the cursor (``HitlApp.action_decide``); the header says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from engine import ThreadView, hidden_marker, is_hidden
from engine.events import EventsDropped
from tui.clock import Clock
from tui.live import LiveState
from tui.story import StoryItem, item_of, items_of_history
from tui.widgets.story_entry import FOLD_LINES, Entry
from tui.widgets.thread_list import STATUS_GLYPH, STATUS_LABEL

if TYPE_CHECKING:
    from engine import Engine


class SearchBox(Input):
    """The query; ``esc`` puts it away (and leaves the view open)."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel search")]

    class Cancelled(Message):
        pass

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled())


class ThreadViewScreen(ModalScreen[None]):
    """Dismisses with nothing: reading decides nothing."""

    DEFAULT_CSS = """
    ThreadViewScreen { background: $background; }
    ThreadViewScreen > #view-head {
        height: auto; padding: 0 1; border-bottom: solid $primary; background: $panel;
    }
    ThreadViewScreen > #view-story { height: 1fr; }
    ThreadViewScreen > #view-search { display: none; }
    ThreadViewScreen > #view-status { height: 1; padding: 0 1; background: $panel; }
    """

    BINDINGS: ClassVar = [
        Binding("q,escape", "close", "Close"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match"),
        Binding("N", "previous_match", "Previous"),
        Binding("enter", "fold", "Expand / fold"),
        Binding("j,down", "down", "Down", show=False),
        Binding("k,up", "up", "Up", show=False),
        Binding("g,home", "first", "First", show=False),
        Binding("G,end", "last", "Last", show=False),
        Binding("pagedown,space", "page_down", "Page down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
    ]

    def __init__(
        self,
        engine: Engine,
        live: LiveState,
        clock: Clock,
        thread_id: str,
        *,
        show_ids: bool = True,
    ) -> None:
        super().__init__(id="thread-view")
        self.engine = engine
        self.live = live
        self.clock = clock
        self.thread_id = thread_id
        self.show_ids = show_ids
        self.cursor = 0
        """The entry Enter expands or folds (marked at its left edge)."""
        self.query_text = ""
        self.matches: list[tuple[int, int]] = []
        """(entry index, offset in its text) of each match, in story order."""
        self.match = -1
        self._seen: set[int] = set()

    def compose(self) -> ComposeResult:
        yield Static(self.head(), id="view-head")
        yield VerticalScroll(id="view-story")
        yield SearchBox(
            placeholder="search this thread (Enter finds, esc cancels)", id="view-search"
        )
        yield Static(self.status_line(), id="view-status")
        yield Footer()

    @property
    def story(self) -> VerticalScroll:
        return self.query_one("#view-story", VerticalScroll)

    @property
    def entries(self) -> list[Entry]:
        return list(self.query(Entry))  # only the story holds entries

    def on_mount(self) -> None:
        self.story.focus()
        self.set_interval(0.5, self._paint_head)
        self.follow()

    # --- what it shows -------------------------------------------------------

    def head(self) -> Text:
        """ "⏸ approval · email the Q3 report · 1a2b3c4d", then what waits, if anything."""
        thread: ThreadView | None = self.live.threads.get(self.thread_id)
        if thread is None:
            return Text(f"thread {self.thread_id}", style="bold")
        title = "".join(
            hidden_marker(c) if is_hidden(c) else c for c in " ".join(thread.title.split())
        )
        text = Text.assemble(
            (f"{STATUS_GLYPH[thread.status]} {STATUS_LABEL[thread.status]}", "bold"),
            " · ",
            (title, "bold"),
        )
        if self.show_ids:
            text.append(f" · {thread.id.partition('-')[0]}", style="dim")
        waiting = [a for a in self.live.pending.values() if a.thread_id == self.thread_id]
        for approval in waiting:
            text.append("\n⏸ waits for approval: ", style="bold")
            text.append(approval.tool or "interrupt", style="bold")
            if self.show_ids:
                text.append(f" ({approval.id[:8]})")
            text.append(f" · {approval.tier} · {approval.received}/{approval.required}")
            text.append(" — decide it in the approvals (q closes this view)", style="dim")
        return text

    def _paint_head(self) -> None:
        self.query_one("#view-head", Static).update(self.head())

    def status_line(self) -> Text:
        if self.query_text and not self.matches:
            return Text(f"no match for “{self.query_text}”", style="bold")
        if self.matches:
            return Text.assemble(
                (f"{self.match + 1}/{len(self.matches)}", "bold"),
                f" “{self.query_text}” · n next · N previous · / another search",
            )
        return Text("/ search · Enter expands or folds · j/k g/G PgUp/PgDn move · q closes", "dim")

    def _paint_status(self) -> None:
        self.query_one("#view-status", Static).update(self.status_line())

    @work(exclusive=True, group="thread-view", exit_on_error=False)
    async def follow(self) -> None:
        """The history, then the thread's new events as they come, each once."""
        subscription = self.engine.subscribe()
        try:
            await self._load_history()
            async for batch in subscription.batches():
                if any(isinstance(event, EventsDropped) for event in batch):
                    await self._load_history()
                    continue
                ours = (e for e in batch if e.thread_id == self.thread_id)
                self.add([item for e in ours if (item := item_of(e, self.clock))])
                self._paint_head()
        finally:
            subscription.close()

    async def _load_history(self) -> None:
        entries = await self.engine.history(self.thread_id)
        self.add(items_of_history(entries, self.clock))

    def add(self, items: Iterable[StoryItem]) -> None:
        fresh = []
        for item in items:
            if item.seq and item.seq in self._seen:
                continue
            if item.seq:
                self._seen.add(item.seq)
            fresh.append(Entry(item))
        if not fresh:
            return
        story = self.story
        following = story.scroll_y >= story.max_scroll_y - 1
        first = not self.entries
        story.mount_all(fresh)
        if first:
            self.call_after_refresh(self._mark_cursor)
        if following and not first:
            self.call_after_refresh(story.scroll_end, animate=False, immediate=True)
        if self.query_text:
            self.call_after_refresh(self._find, keep=True)

    # --- moving --------------------------------------------------------------

    def _mark_cursor(self) -> None:
        for index, entry in enumerate(self.entries):
            entry.set_class(index == self.cursor, "-cursor")

    def _move_to(self, index: int, *, line: int = 0) -> None:
        entries = self.entries
        if not entries:
            return
        self.cursor = max(0, min(index, len(entries) - 1))
        self._mark_cursor()
        entry = entries[self.cursor]
        story = self.story
        if line:
            story.scroll_to(y=entry.virtual_region.y + line - 2, animate=False, immediate=True)
        else:
            story.scroll_to_widget(entry, animate=False, immediate=True)

    def _entry_at_top(self) -> int:
        """The first entry showing in the viewport (after a page move)."""
        top = self.story.scroll_y
        for index, entry in enumerate(self.entries):
            region = entry.virtual_region
            if region.y + region.height > top:
                return index
        return max(0, len(self.entries) - 1)

    def _cursor_to_top(self) -> None:
        self.cursor = self._entry_at_top()
        self._mark_cursor()

    def action_down(self) -> None:
        """A line at a time through an entry taller than the screen, else the next entry."""
        entries, story = self.entries, self.story
        if not entries:
            return
        entry = entries[self.cursor]
        bottom = entry.virtual_region.y + entry.virtual_region.height
        if bottom > story.scroll_y + story.scrollable_content_region.height:
            story.scroll_down(animate=False, immediate=True)
        elif self.cursor + 1 < len(entries):
            self._move_to(self.cursor + 1)

    def action_up(self) -> None:
        entries, story = self.entries, self.story
        if not entries:
            return
        if entries[self.cursor].virtual_region.y < story.scroll_y:
            story.scroll_up(animate=False, immediate=True)
        elif self.cursor > 0:
            self._move_to(self.cursor - 1)

    def action_first(self) -> None:
        self._move_to(0)
        self.story.scroll_home(animate=False, immediate=True)

    def action_last(self) -> None:
        self._move_to(len(self.entries) - 1)
        self.story.scroll_end(animate=False, immediate=True)

    def action_page_down(self) -> None:
        self.story.scroll_page_down(animate=False)
        self.call_after_refresh(self._cursor_to_top)

    def action_page_up(self) -> None:
        self.story.scroll_page_up(animate=False)
        self.call_after_refresh(self._cursor_to_top)

    def action_fold(self) -> None:
        entries = self.entries
        if entries:
            entry = entries[self.cursor]
            entry.folded = not entry.folded
            entry.refold()

    def action_close(self) -> None:
        self.dismiss(None)

    # --- search --------------------------------------------------------------

    def action_search(self) -> None:
        box = self.query_one(SearchBox)
        # Shown and focused now, not on the next frame: what is typed right after "/"
        # goes into the box, not to the pager's keys.
        box.display = True
        self.set_focus(box)
        box.value = self.query_text

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_text = event.value.strip()
        event.input.display = False
        self.set_focus(self.story)
        self._find()
        if self.matches:
            self._show_match()

    def on_search_box_cancelled(self) -> None:
        self.query_one(SearchBox).display = False
        self.set_focus(self.story)

    def _find(self, *, keep: bool = False) -> None:
        """Every match of the query in every entry, highlighted (``keep``: stay on the
        current one as new entries arrive)."""
        current = self.matches[self.match] if keep and self.match >= 0 else None
        needle = self.query_text.casefold()
        self.matches = []
        for index, entry in enumerate(self.entries):
            found: list[tuple[int, int, bool]] = []
            if needle:
                haystack = entry.plain_text.casefold()
                start = haystack.find(needle)
                while start >= 0:
                    self.matches.append((index, start))
                    found.append((start, start + len(needle), False))
                    start = haystack.find(needle, start + len(needle))
            if found or entry.marks:
                entry.marks = found
                entry.refold()
        self.match = (
            self.matches.index(current) if current in self.matches else (0 if self.matches else -1)
        )
        self._paint_status()

    def _show_match(self) -> None:
        index, offset = self.matches[self.match]
        for number, entry in enumerate(self.entries):
            entry.marks = [
                (start, end, number == index and start == offset) for start, end, _ in entry.marks
            ]
        entry = self.entries[index]
        if entry.line_of(offset) >= FOLD_LINES:
            entry.folded = False  # the match is in the folded part: open it
        for touched in {index, *(i for i, _ in self.matches)}:
            self.entries[touched].refold()
        self._paint_status()
        self.call_after_refresh(lambda: self._move_to(index, line=entry.line_of(offset)))

    def action_next_match(self) -> None:
        self._step_match(1)

    def action_previous_match(self) -> None:
        self._step_match(-1)

    def _step_match(self, step: int) -> None:
        if not self.matches:
            if self.query_text:
                self.notify(f"no match for “{self.query_text}”", timeout=3)
            else:
                self.action_search()
            return
        self.match = (self.match + step) % len(self.matches)
        self._show_match()
