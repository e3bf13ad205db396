"""A JSON value typed by a person: the answer to an interrupt the engine does not know,
or the input of a new thread on a graph without messages. Checked as JSON as you type;
it cannot be submitted until it parses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static, TextArea

from tui.calls import reveal

NOTHING = object()
"""What the screen dismisses with when cancelled (``None`` is a valid JSON answer)."""


def parse(text: str) -> tuple[Any, str | None]:
    """(the value, None) when ``text`` is JSON, else (NOTHING, where it fails)."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        return NOTHING, f"line {error.lineno}, column {error.colno}: {error.msg}"
    except RecursionError:
        return NOTHING, "nested too deeply"


class AnswerScreen(ModalScreen[Any]):
    """Dismisses with the parsed value, or :data:`NOTHING` when cancelled.

    The value asked about and the editor take only the lines they need, so the buttons
    stay on screen in a short terminal (below 30 lines the spacing goes too)."""

    BINDINGS: ClassVar = [
        # Not a priority binding: it waits behind the keys typed before it, so a fast
        # typist (or a paste) submits what the editor shows, not what it held a moment ago.
        Binding("ctrl+s", "submit", "Submit"),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]

    DEFAULT_CSS = """
    AnswerScreen #asked { height: auto; max-height: 12; }
    AnswerScreen #json { height: auto; min-height: 3; max-height: 10; }
    AnswerScreen #problems { height: auto; }
    AnswerScreen.-short #asked { max-height: 6; }
    """

    def __init__(
        self,
        title: str,
        *,
        shown: Any = NOTHING,
        prompt: str = "",
        initial: str = "",
        submit: str = "Answer",
        cursor_blink: bool = True,
        check: Callable[[Any], str | None] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.check = check
        """Says why a parsed value would be refused (None: fine), before the dialog
        closes, so what was typed is not lost."""
        self.title_text = title
        self.shown = shown
        self.prompt = prompt
        self.initial = initial
        self.submit_label = submit
        self.cursor_blink = cursor_blink

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="edit"):
            yield Label(Text(self.title_text, style="bold"), id="title")
            if self.shown is not NOTHING:
                yield Label("What the graph asks", classes="section")
                with VerticalScroll(id="asked"):
                    yield Static(reveal(json.dumps(self.shown, indent=2, ensure_ascii=False)))
            if self.prompt:
                yield Static(self.prompt, id="prompt")
            editor = TextArea.code_editor(self.initial, language="json", id="json", soft_wrap=True)
            editor.cursor_blink = self.cursor_blink
            yield editor
            yield Static(id="problems")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(f"{self.submit_label} (ctrl+s)", id="submit", variant="warning")
        yield Footer()

    def on_mount(self) -> None:
        editor = self.query_one(TextArea)
        editor.select_all()  # a placeholder ("null", "{}"): typing replaces it
        editor.focus()
        self._check(self.initial)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._check(event.text_area.text)

    def _check(self, text: str) -> None:
        _, problem = parse(text)
        shown = Text(f"✗ {problem}", style="bold red") if problem else Text("✓ valid JSON", "green")
        self.query_one("#problems", Static).update(shown)
        self.query_one("#submit", Button).disabled = problem is not None

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.action_cancel()

    def action_submit(self) -> None:
        value, problem = parse(self.query_one(TextArea).text)
        if problem is not None:
            self.notify(f"Not JSON yet: {problem}", severity="error")
            return
        if self.check is not None and (refusal := self.check(value)) is not None:
            self.notify(refusal, severity="error")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(NOTHING)
