"""Every thread: status, title, pending approvals and live age; filtered by status and text."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import ClassVar

from rich.text import Text
from textual.message import Message

from engine import ThreadStatus, text_summaries
from tui.clock import Clock, SystemClock
from tui.keys import bindings
from tui.live import STATUSES, ThreadRow
from tui.widgets.row_list import Apart, RowList, padded

STATUS_LABEL: dict[str, str] = {
    "running": "running",
    "waiting": "approval",
    "unknown": "unknown?",
    "done": "done",
    "failed": "failed",
}
STATUS_GLYPH: dict[str, str] = {
    "running": "▶",
    "waiting": "⏸",
    "unknown": "⚠",  # not "?": that is the Help key
    "done": "✓",
    "failed": "✗",
}
REFUSED_GLYPH, REFUSED_LABEL = "⊘", "refused"
"""A thread done with every call refused: ended, but did not do what it asked."""


PENDING_WIDTH = 3
"""Columns kept for a thread's pending count ("2⏸") when titles are shortened."""


def parse_filter(text: str) -> tuple[ThreadStatus | None, str]:
    """``"status:waiting q3"`` -> ("waiting", "q3"); a status word may be abbreviated."""
    status: ThreadStatus | None = None
    words = []
    for word in text.split():
        if word.lower().startswith(("status:", "is:")):
            wanted = word.split(":", 1)[1].lower()
            status = next((s for s in STATUSES if wanted and s.startswith(wanted)), status)
        else:
            words.append(word.lower())
    return status, " ".join(words)


class ThreadList(RowList[ThreadRow]):
    """The threads, newest first."""

    BINDINGS: ClassVar = [*RowList.BINDINGS, *bindings("threads")]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *RowList.COMPONENT_CLASSES,
        *(f"thread-list--{status}" for status in STATUSES),
        "thread-list--age",
        "thread-list--pending",
        "thread-list--refused",
    }

    EMPTY_TEXT = "no threads (n starts one)"

    class ThreadSelected(Message):
        """The person put the cursor on a thread."""

        def __init__(self, thread_id: str) -> None:
            super().__init__()
            self.thread_id = thread_id

    class RetryRequested(Message):
        def __init__(self, thread_id: str) -> None:
            super().__init__()
            self.thread_id = thread_id

    class AuditRequested(Message):
        """The person asked for the audit entries of the thread under the cursor."""

        def __init__(self, thread_id: str) -> None:
            super().__init__()
            self.thread_id = thread_id

    class FilterChanged(Message):
        """The status filter changed from a key on the list (the app updates the title)."""

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
        self.status_filter: ThreadStatus | None = None
        self.text_filter = ""
        self._apart = Apart(
            _title, lambda rows, width: text_summaries(list(map(_title, rows)), width)
        )
        """Each title, cut where it does not tell the thread from the others."""
        self._retry_offered = False
        """What the footer was last told: retry offered for the thread under the cursor."""

    def set_filter(self, status: ThreadStatus | None, text: str) -> None:
        self.status_filter, self.text_filter = status, text.lower()
        self.refilter()

    @property
    def filtered(self) -> bool:
        return bool(self.status_filter or self.text_filter)

    def title(self, total: int) -> str:
        """The border title: how many of ``total`` are shown, first (a narrow column
        cuts the end of a title, never the count), then the filters in force."""
        if not self.filtered:
            return f"Threads {total}"
        title = f"Threads {len(self)}/{total}"
        if self.status_filter:
            title += f" · {self.status_filter}"
        if self.text_filter:
            title += f" · “{self.text_filter}”"
        return title

    def empty_text(self) -> str:
        if self.filtered:
            return "nothing matches (esc clears)"
        return self.EMPTY_TEXT

    def key_of(self, row: ThreadRow) -> str:
        return row.thread.id

    def sort_key(self, row: ThreadRow) -> Hashable:
        return (-row.thread.created_at, row.thread.id)

    def shows(self, row: ThreadRow) -> bool:
        thread = row.thread
        if self.status_filter and thread.status != self.status_filter:
            return False
        if self.text_filter:
            haystack = f"{thread.id} {thread.title} {thread.task}".lower()
            return all(word in haystack for word in self.text_filter.split())
        return True

    def row_text(self, row: ThreadRow, line: int, width: int) -> Text:
        thread = row.thread
        refused = row.refused and thread.status == "done"
        state = "refused" if refused else thread.status
        status_style = self.get_component_rich_style(f"thread-list--{state}")
        age = self.clock.age(thread.created_at).rjust(4)
        pending = f"{row.pending}⏸" if row.pending else ""
        glyph = REFUSED_GLYPH if refused else STATUS_GLYPH[thread.status]
        label = f"{glyph} {REFUSED_LABEL if refused else STATUS_LABEL[thread.status]:<8} "
        title_width = width - len(label) - len(age) - len(pending) - 2
        room = width - len(label) - len(age) - PENDING_WIDTH - 2
        title = self._apart.text(self, thread.id, room) or thread.title
        return Text.assemble(
            (label, status_style),
            padded(title, max(0, title_width)),
            " ",
            (pending, self.get_component_rich_style("thread-list--pending")),
            " ",
            (age, self.get_component_rich_style("thread-list--age")),
        )

    def cursor_moved(self, key: str | None, *, by_person: bool) -> None:
        self._offer_retry()
        if key is not None and by_person:
            self.post_message(self.ThreadSelected(key))

    def upsert(self, rows: Iterable[ThreadRow]) -> None:
        super().upsert(rows)
        self._offer_retry()  # the thread under the cursor may have failed, or recovered

    def texts_moved(self, keys: tuple[str, ...]) -> bool:
        return self._apart.moved(self, keys)

    def _retry_possible(self) -> bool:
        row = self.cursor_row
        return row is not None and row.thread.status == "failed"

    def _offer_retry(self) -> None:
        """Tells the footer only when retry comes or goes: every refresh rebuilds the
        whole footer (~25 ms), which on each batch of events made the keys wait."""
        if self._retry_possible() != self._retry_offered:
            self._retry_offered = not self._retry_offered
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Retry is offered (in the footer too) only on a failed thread."""
        if action == "retry":
            return self._retry_possible()
        return True

    def action_cycle_status(self) -> None:
        order: list[ThreadStatus | None] = [None, *STATUSES]
        self.status_filter = order[(order.index(self.status_filter) + 1) % len(order)]
        self.refilter()
        self.post_message(self.FilterChanged())

    def action_clear_filter(self) -> None:
        if self.filtered:
            self.set_filter(None, "")
            self.post_message(self.FilterChanged())

    def action_retry(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.RetryRequested(row.thread.id))

    def action_audit_thread(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.AuditRequested(row.thread.id))


def _title(row: ThreadRow) -> str:
    return row.thread.title
