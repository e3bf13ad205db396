"""Several threads side by side, each a live ThreadPane."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid

from engine import ThreadView
from tui.clock import Clock, SystemClock
from tui.widgets.thread_pane import ThreadPane


class ThreadGrid(Grid):
    DEFAULT_CSS = """
    ThreadGrid {
        grid-size: 3 2;
        grid-gutter: 0 1;
        height: 1fr;
    }
    ThreadGrid > ThreadPane { height: 1fr; }
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        size: int = 6,
        show_ids: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.clock = clock or SystemClock()
        self.size_limit = size
        self.show_ids = show_ids

    def compose(self) -> ComposeResult:
        for index in range(self.size_limit):
            yield ThreadPane(self.clock, show_ids=self.show_ids, id=f"cell-{index}", classes="cell")

    @property
    def panes(self) -> list[ThreadPane]:
        return list(self.query(ThreadPane))

    def pane_for(self, thread_id: str) -> ThreadPane | None:
        return next((p for p in self.panes if p.thread_id == thread_id), None)

    @property
    def free(self) -> ThreadPane | None:
        return next((p for p in self.panes if p.thread is None), None)

    def show_threads(self, threads: list[ThreadView]) -> list[ThreadPane]:
        """Fills the cells with ``threads`` (extra cells empty); returns the panes to load."""
        panes = self.panes
        for index, pane in enumerate(panes):
            pane.begin(threads[index] if index < len(threads) else None)
        return panes[: len(threads)]
