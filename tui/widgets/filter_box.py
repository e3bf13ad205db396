"""A filter typed over a list: shown while in use, applied as it is typed.

The thread list's and the approval queue's boxes are two of these; each names its own
``Done`` message, so the app knows which list to go back to.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBox(Input):
    """Typing filters at once; Enter returns to the list; Escape clears and returns."""

    BINDINGS: ClassVar = [Binding("escape", "clear", "Clear filter", show=True)]

    DEFAULT_CSS = """
    FilterBox { display: none; }
    FilterBox.-shown { display: block; }
    """

    PLACEHOLDER: ClassVar[str] = "filter"

    class Done(Message):
        """The person finished with the filter (Enter or Escape)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder=self.PLACEHOLDER, id=id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Done())

    def action_clear(self) -> None:
        self.value = ""
        self.post_message(self.Done())

    def on_blur(self) -> None:
        self.set_class(bool(self.value), "-shown")
