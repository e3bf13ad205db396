"""One entry of a story read on the whole screen (``tui.screens.thread_view``): folded
to a few lines when long, its search matches highlighted.

Folding counts the lines as drawn (wrapped to the entry's width), so a tool result
that is one long line of JSON folds as well as one of many short lines.
"""

from __future__ import annotations

from typing import cast

from rich.console import Group, RenderableType
from rich.text import Text
from textual.widgets import Static

from tui.calls import plain
from tui.story import StoryItem

FOLD_LINES = 6
"""Lines an entry shows folded; a longer one says how many more there are."""


def as_text(body: RenderableType) -> Text:
    """A story line's body as one Text (a model message's parts one per line)."""
    if isinstance(body, Text):
        return body.copy()
    if isinstance(body, Group) and all(isinstance(part, Text) for part in body.renderables):
        return Text("\n").join(cast("list[Text]", list(body.renderables)))
    return Text(plain(body))


class Entry(Static):
    """One story line, folded when long; its matches highlighted."""

    DEFAULT_CSS = """
    Entry { width: 1fr; padding: 0 0 0 1; }
    Entry.-cursor { border-left: outer $accent; padding: 0; background: $boost; }
    """

    def __init__(self, item: StoryItem) -> None:
        super().__init__(classes=f"-{item.kind}")
        self.seq = item.seq
        self.full = as_text(item.body)
        self.folded = True
        self.marks: list[tuple[int, int, bool]] = []
        """(start, end, current) of each search match in :attr:`full`."""
        self.hidden_lines = 0
        """Lines the fold hides now (0: everything shows)."""

    @property
    def plain_text(self) -> str:
        return self.full.plain

    def wrapped(self) -> list[Text]:
        width = max(10, self.content_region.width or self.app.size.width - 4)
        text = self.full.copy()
        for start, end, current in self.marks:
            text.stylize("bold reverse" if current else "reverse", start, end)
        return list(text.wrap(self.app.console, width))

    def line_of(self, offset: int) -> int:
        """The wrapped line ``offset`` of :attr:`full` is on (for scrolling to a match)."""
        seen = 0
        for index, line in enumerate(self.wrapped()):
            seen += len(line.plain) + 1
            if seen > offset:
                return index
        return 0

    def refold(self) -> None:
        lines = self.wrapped()
        hidden = len(lines) - FOLD_LINES if self.folded and len(lines) > FOLD_LINES + 1 else 0
        shown = Text("\n").join(lines[: len(lines) - hidden])
        if hidden:
            more = "line" if hidden == 1 else "lines"
            shown.append(f"\n… {hidden} more {more} (Enter to expand)", style="italic dim")
        self.hidden_lines = hidden
        self.update(shown)

    def on_resize(self) -> None:
        self.refold()
