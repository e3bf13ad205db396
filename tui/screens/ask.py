"""A one-line question: a reason to reject, an answer in place of a tool, a new task."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static


class AskScreen(ModalScreen[str | None]):
    """Dismisses with the text typed (maybe empty, if ``required`` is false) or None."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        *,
        prompt: str = "",
        placeholder: str = "",
        submit: str = "OK",
        required: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.title_text = title
        self.prompt = prompt
        self.placeholder = placeholder
        self.submit_label = submit
        self.required = required

    @classmethod
    def new_thread(cls, graph: str | None = None) -> AskScreen:
        """Asks for the task of a new agent thread (on ``graph``, one of your own)."""
        return cls(
            f"New thread on {graph}" if graph else "New thread",
            prompt="What should the agent do?",
            placeholder="what to do, in plain words"
            if graph
            else "email the Q3 report to boss@company.com",
            submit="Start",
            required=True,
            id="new-thread",
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="ask"):
            yield Label(self.title_text, id="title")
            if self.prompt:
                yield Static(self.prompt, id="prompt")
            yield Input(placeholder=self.placeholder, id="answer")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(self.submit_label, id="submit", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self._submit()
        else:
            self.action_cancel()

    def _submit(self) -> None:
        value = self.query_one(Input).value.strip()
        if self.required and not value:
            self.notify("Type something first (Escape cancels).", severity="warning")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
