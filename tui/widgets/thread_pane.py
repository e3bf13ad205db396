"""One thread's story, streaming: the task, model text, each call and result, each decision.

The app sets what it shows (``begin`` when another thread is chosen, ``load`` with the
thread's history, ``append`` with live events); the pane de-duplicates an event seen both
in the history and live, and keeps itself scrolled to the newest line unless the person
scrolled up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import ClassVar, cast

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from engine import ThreadView, describe_model, hidden_marker, is_hidden
from tui.calls import plain
from tui.clock import Clock, SystemClock
from tui.story import StoryItem
from tui.widgets.thread_list import REFUSED_GLYPH, REFUSED_LABEL, STATUS_GLYPH, STATUS_LABEL

STORY_LIMIT = 400
"""Story lines a pane keeps: a thread followed for hours would otherwise hold a widget
per line for good (memory, and the cyclic collector's passes over them, which land on
key presses); older lines make way, and the full-screen thread view (``v``) reads the
whole history from the engine."""

TITLE_ROOM = 16
"""Columns of the title a frame keeps; a narrower frame (a grid's cell) names the
status by its glyph alone and the thread by the first 4 characters of its id."""


class StoryLine(Static):
    """One line (or a few) of the story; ``-<kind>`` says what it is."""

    DEFAULT_CSS = "StoryLine { width: 1fr; }"


class ThreadPane(VerticalScroll):
    """Its frame's title names the thread (status, title, id), so a pane scrolled past
    its head, or one cell of the grid among six, still says which thread it is."""

    # The same movement keys as every list (tui.keys' "rows"); End/Home go to the ends.
    BINDINGS: ClassVar = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("enter,v", "view", "Full screen"),
    ]

    BORDER_TITLE = "Thread"

    DEFAULT_CSS = """
    ThreadPane { height: 1fr; }
    ThreadPane > #head { width: 1fr; }
    ThreadPane > #earlier { width: 1fr; }
    ThreadPane > #earlier.-hidden { display: none; }
    """

    class ViewRequested(Message):
        """The person wants this thread on the whole screen (``tui.screens.thread_view``)."""

        def __init__(self, thread_id: str) -> None:
            super().__init__()
            self.thread_id = thread_id

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        show_ids: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.clock = clock or SystemClock()
        self.show_ids = show_ids
        self.thread: ThreadView | None = None
        self.refused = False
        """Done, but every call of it was refused here (see ``LiveState.refused``)."""
        self.awaiting_history = False
        self._seen: set[int] = set()
        """The seqs of the events shown."""
        self._held: list[StoryItem] = []
        self._head_shown: Text | None = None
        self._lines: deque[StoryLine] = deque()
        self.earlier = 0
        """Story lines let go of to keep the pane at ``STORY_LIMIT``."""

    def action_view(self) -> None:
        if self.thread is None:
            self.app.bell()
            return
        self.post_message(self.ViewRequested(self.thread.id))

    @property
    def thread_id(self) -> str | None:
        return self.thread.id if self.thread else None

    @property
    def story_text(self) -> str:
        """Everything the story shows, as plain text (for tests and for copying)."""
        # Story lines hold Rich renderables (what ``plain`` takes), never bare Visuals.
        lines = (cast("RenderableType", line.content) for line in self.query(StoryLine))
        return "\n".join(plain(content) for content in lines)

    def compose(self) -> ComposeResult:
        yield Static(self._head(), id="head")
        yield Static("", id="earlier", classes="-hidden")

    def begin(self, thread: ThreadView | None, *, refused: bool = False) -> None:
        """Shows another thread; its history follows with :meth:`load`."""
        self.thread = thread
        self.refused = refused
        self.awaiting_history = thread is not None
        self._seen.clear()
        self._held.clear()
        self.remove_children(list(self._lines))
        self._lines.clear()
        self._show_earlier(0)
        self._paint_head()
        self.scroll_home(animate=False, immediate=True)

    def load(self, thread_id: str, items: list[StoryItem]) -> None:
        """The thread's history; live items that arrived meanwhile follow, without repeats."""
        if thread_id != self.thread_id:
            return
        self.awaiting_history = False
        held, self._held = self._held, []
        self._add([*items, *held])

    def append(self, items: Iterable[StoryItem]) -> None:
        if self.awaiting_history:
            self._held.extend(items)
        else:
            self._add(items)

    def update_thread(self, thread: ThreadView, *, refused: bool = False) -> None:
        if thread.id == self.thread_id:
            self.thread, self.refused = thread, refused
            self._paint_head()

    def _status(self, thread: ThreadView) -> tuple[str, str]:
        """Its glyph and label: a thread done with every call refused is not a success."""
        if self.refused and thread.status == "done":
            return REFUSED_GLYPH, REFUSED_LABEL
        return STATUS_GLYPH[thread.status], STATUS_LABEL[thread.status]

    def _add(self, items: Iterable[StoryItem]) -> None:
        new = []
        for item in items:
            if item.seq in self._seen:
                continue
            if item.seq:  # 0: never journaled, so never seen twice
                self._seen.add(item.seq)
            new.append(item)
        if new:
            following = self.scroll_y >= self.max_scroll_y - 1
            skipped = max(0, len(new) - STORY_LIMIT)  # a history longer than the pane
            lines = [StoryLine(i.body, classes=f"-{i.kind}") for i in new[skipped:]]
            self._lines.extend(lines)
            gone = [self._lines.popleft() for _ in range(len(self._lines) - STORY_LIMIT)]
            self.mount_all(lines)  # never among ``gone``: those are older
            if gone:
                self.remove_children(gone)
            if gone or skipped:
                self._show_earlier(self.earlier + len(gone) + skipped)
            if following:
                self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

    def _show_earlier(self, count: int) -> None:
        """ "… 1,200 earlier lines (v: the whole thread)" above the oldest line kept."""
        self.earlier = count
        for marker in self.query("#earlier").results(Static):  # none before it is composed
            marker.set_class(not count, "-hidden")
            if count:
                said = f"… {count:,} earlier lines (v: the whole thread)"
                marker.update(Text(said, style="dim"))

    def _paint_head(self) -> None:
        head = self._head()
        if head != self._head_shown:  # an update lays the screen out again, even unchanged
            self._head_shown = head
            self.query_one("#head", Static).update(head)
        self.border_title = self.frame_title()
        for status in STATUS_LABEL:
            self.set_class(self.thread is not None and self.thread.status == status, f"-{status}")

    def frame_title(self) -> Text:
        """ "⏸ approval · email the Q3 report · 1a2b3c4d": the title is cut to the
        frame's width, never the status or the id."""
        thread = self.thread
        if thread is None:
            return Text("Thread")
        base = thread.id.partition("-")[0]
        glyph, label = self._status(thread)
        status = f"{glyph} {label} ·"
        ident = f" · {base}" if self.show_ids else ""
        title = "".join(
            hidden_marker(c) if is_hidden(c) else c for c in " ".join(thread.title.split())
        )
        room = self.size.width - len(status) - len(ident) - 7  # the frame's corners, spaces
        if self.size.width and room < min(len(title), TITLE_ROOM):  # a grid's cell
            status, ident = glyph, ident[:7]
            room = self.size.width - len(status) - len(ident) - 7
        if self.size.width and len(title) > room:
            title = title[: max(1, room - 1)] + "…"
        return Text(f"{status} {title}{ident}")  # Text, not markup: a title may hold "["

    def on_resize(self) -> None:
        self.border_title = self.frame_title()

    def _head(self) -> Text:
        thread = self.thread
        if thread is None:
            return Text("Select a thread to follow it here.", style="dim")
        text = Text.assemble(
            (" ".join(self._status(thread)), "bold"),
            "  ",
            (thread.title, "bold"),
        )
        meta = f"\n{describe_model(thread.model)} · started {self.clock.time_of(thread.created_at)}"
        if self.show_ids:
            meta += f" · {thread.id}"
        text.append(meta, style="dim")
        if thread.status == "failed" and thread.error:
            text.append(f"\nerror: {thread.error}", style="bold red")
        return text
