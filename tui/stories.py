"""Which threads' stories are on screen (the pane, the grid's cells), and each one's
history, read from the engine when it is shown.

The app routes events; this keeps the pane and the grid in step with the threads a
person chose, the way ``tui.decide`` keeps the decision dialogs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from engine import ThreadView
from tui.clock import Clock
from tui.host import Host
from tui.story import items_of_history
from tui.widgets.approval_sidebar import ApprovalSidebar
from tui.widgets.thread_grid import ThreadGrid
from tui.widgets.thread_list import ThreadList
from tui.widgets.thread_pane import ThreadPane


class StoryHost(Host, Protocol):
    """The app as the stories see it: a host with the widgets that show threads."""

    @property
    def clock(self) -> Clock: ...

    @property
    def pane(self) -> ThreadPane: ...

    @property
    def grid(self) -> ThreadGrid: ...

    @property
    def grid_shown(self) -> bool: ...

    @property
    def thread_list(self) -> ThreadList: ...

    @property
    def sidebar(self) -> ApprovalSidebar: ...


class ThreadStories:
    def __init__(self, app: StoryHost) -> None:
        self.app = app

    def panes(self) -> list[ThreadPane]:
        """Every pane on screen: the main one, and the grid's cells when it is shown."""
        return [self.app.pane, *(self.app.grid.panes if self.app.grid_shown else ())]

    def panes_of(self, thread_id: str) -> list[ThreadPane]:
        return [pane for pane in self.panes() if pane.thread_id == thread_id]

    def show(self, thread_id: str, thread: ThreadView | None = None) -> None:
        """Puts ``thread_id`` in the main pane (nothing, if it is there already)."""
        pane = self.app.pane
        thread = thread or self.app.live.threads.get(thread_id)
        if thread is None or pane.thread_id == thread_id:
            return
        pane.begin(thread, refused=self.app.live.refused(thread_id))
        self.load(pane, thread_id)

    def show_something(self) -> None:
        """With nothing in the pane yet: the thread of the first approval, else the newest."""
        first = self.app.sidebar.cursor_row
        thread_id = first.thread_id if first else self.app.thread_list.cursor
        if thread_id:
            self.app.thread_list.select(thread_id)
            self.show(thread_id)

    def load(self, pane: ThreadPane, thread_id: str) -> None:
        self.app.run_worker(
            self._history(pane, thread_id),
            group=f"story-{pane.id}",
            exclusive=True,
            exit_on_error=False,
        )

    def load_waiting(self) -> None:
        """Panes shown before the engine was open wait for their history: read it now."""
        for pane in self.panes():
            if pane.awaiting_history and pane.thread_id:
                self.load(pane, pane.thread_id)

    async def _history(self, pane: ThreadPane, thread_id: str) -> None:
        app = self.app
        if app.engine is None:
            return  # read by load_waiting() once the engine is open
        entries = await app.attempt(app.engine.history(thread_id))
        pane.load(thread_id, items_of_history(entries or [], app.clock))

    def toggle_grid(self, switch_to_grid: bool) -> None:
        """After the center switched: when it shows the grid, fill its cells."""
        if not switch_to_grid:
            return
        live, size = self.app.live, self.app.settings.grid_size
        for pane in self.app.grid.show_threads(live.grid_choice(self.app.pane.thread_id, size)):
            if pane.thread_id:
                self.load(pane, pane.thread_id)

    def fill_grid(self, thread_ids: Iterable[str]) -> None:
        """A thread that starts while the grid is shown takes a free cell."""
        app = self.app
        if not app.grid_shown:
            return
        for thread_id in thread_ids:
            thread = app.live.threads[thread_id]
            if thread.status == "running" and app.grid.pane_for(thread_id) is None:
                if (cell := app.grid.free) is None:
                    return
                cell.begin(thread)
                self.load(cell, thread_id)
