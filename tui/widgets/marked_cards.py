"""Approval cards that can be marked to be decided together: space marks the card under
the cursor, a range runs from the last card marked to the cursor, and every card shown
can be marked at once.

A layer of the sidebar (:class:`tui.widgets.approval_sidebar.ApprovalSidebar` is one of
these), apart from it because marking is one feature with its own state, used by one
flow (``tui.bulk``): what a bulk decision covers is :meth:`MarkedCards.marked_in_order`.
Only waiting cards can be marked; a card decided, or leaving the list, leaves the marks.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine import ApprovalView
from tui.widgets.row_list import RowList


class MarkedCards(RowList[ApprovalView]):
    """Approval cards with marks. :meth:`marks_changed` is told of every change."""

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.marked: set[str] = set()
        """Cards marked to be decided together."""
        self._anchor: str | None = None
        """The last card marked: a range runs from it to the cursor."""

    def marks_changed(self) -> None:
        """The marks changed: the cards are repainted (the sidebar retitles too)."""
        self.refresh()

    def _pending(self, key: str) -> bool:
        row = self.get(key)
        return row is not None and row.status == "pending"

    def unmark(self, keys: Iterable[str]) -> None:
        gone = self.marked.intersection(keys)
        if gone:
            self.marked -= gone
            if self._anchor in gone:
                self._anchor = None
            self.marks_changed()

    def _mark(self, keys: Iterable[str]) -> None:
        self.marked.update(key for key in keys if self._pending(key))
        self.marks_changed()

    def action_toggle_mark(self) -> None:
        """Marks (or unmarks) the card under the cursor, and moves on to the next."""
        key = self.cursor
        if key is None or not self._pending(key):
            self.app.bell()
            return
        if key in self.marked:
            self.unmark([key])
        else:
            self._mark([key])
            self._anchor = key
        self._step(1)

    def action_mark_range(self) -> None:
        """Marks every card shown from the last one marked to the cursor, both included."""
        keys = self.visible_keys
        if self.cursor not in keys:
            self.app.bell()
            return
        end = keys.index(self.cursor)
        start = keys.index(self._anchor) if self._anchor in keys else end
        low, high = sorted((start, end))
        self._mark(keys[low : high + 1])
        self._anchor = self.cursor

    def action_mark_shown(self) -> None:
        """Marks every waiting card the filter shows; if all are marked, unmarks them."""
        shown = [key for key in self.visible_keys if self._pending(key)]
        if shown and self.marked.issuperset(shown):
            self.unmark(shown)
        else:
            self._mark(shown)

    def marked_in_order(self) -> tuple[str, ...]:
        """The marked cards the list shows, in its order: what a bulk decision covers."""
        return tuple(key for key in self.visible_keys if key in self.marked)
