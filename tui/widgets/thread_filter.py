"""The text filter over the thread list; shown while it is in use."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class ThreadFilter(Input):
    """Typing filters at once; Enter returns to the list; Escape clears and returns."""

    BINDINGS: ClassVar = [Binding("escape", "clear", "Clear filter", show=True)]

    DEFAULT_CSS = """
    ThreadFilter { display: none; }
    ThreadFilter.-shown { display: block; }
    """

    class Done(Message):
        """The person finished with the filter (Enter or Escape)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="filter: words, status:waiting …", id=id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Done())

    def action_clear(self) -> None:
        self.value = ""
        self.post_message(self.Done())

    def on_blur(self) -> None:
        self.set_class(bool(self.value), "-shown")
