"""Asked before quitting while approvals wait: they will keep waiting, unseen."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static


class QuitScreen(ModalScreen[bool]):
    BINDINGS: ClassVar = [
        Binding("escape,n", "stay", "Stay"),
        Binding("y", "leave", "Quit"),
    ]

    def __init__(self, pending: int) -> None:
        super().__init__()
        self.pending = pending

    def compose(self) -> ComposeResult:
        noun = "approval is" if self.pending == 1 else "approvals are"
        with Vertical(id="dialog", classes="quit"):
            yield Label(f"{self.pending} {noun} waiting. Quit anyway?", id="title")
            yield Static(
                "Their threads stay paused until someone decides: here, or with "
                "`hitl pending` and `hitl approve ID`."
            )
            with Horizontal(classes="buttons"):
                yield Button("Stay (n)", id="stay", variant="primary")
                yield Button("Quit (y)", id="leave")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "leave")

    def action_stay(self) -> None:
        self.dismiss(False)

    def action_leave(self) -> None:
        self.dismiss(True)
