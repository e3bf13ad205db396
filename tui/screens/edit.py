"""Edit a call's arguments: validated as you type, a diff against the original, and no
way to submit while the arguments are invalid."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from engine import ApprovalView
from tui.calls import tier_text
from tui.widgets.json_editor import JsonEditor


def args_diff(original: dict[str, Any], edited: dict[str, Any]) -> Text:
    """Field by field: what the edit removes (-) and adds (+)."""
    text = Text()
    for key in [*original, *(k for k in edited if k not in original)]:
        before, after = original.get(key, ...), edited.get(key, ...)
        if before == after:
            continue
        if before is not ...:
            text.append(f"- {key}: {json.dumps(before, ensure_ascii=False)}\n", style="red")
        if after is not ...:
            text.append(f"+ {key}: {json.dumps(after, ensure_ascii=False)}\n", style="green")
    text.rstrip()
    return text if text.plain else Text("no changes from the original call", style="dim")


class EditScreen(ModalScreen[dict[str, Any] | None]):
    """Dismisses with the edited arguments, or None when cancelled."""

    BINDINGS: ClassVar = [
        Binding("ctrl+s", "submit", "Submit edit", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]

    def __init__(self, approval: ApprovalView, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self.approval = approval
        self.cursor_blink = cursor_blink

    def compose(self) -> ComposeResult:
        a = self.approval
        with Vertical(id="dialog", classes="edit"):
            yield Label(
                Text.assemble(("Edit ", "bold"), (a.tool, "bold"), " · ", tier_text(a.tier)),
                id="title",
            )
            yield JsonEditor(a.args, a.args_schema, cursor_blink=self.cursor_blink, id="editor")
            yield Label("Changes from the original call", classes="section")
            yield Static(args_diff(a.original_args, a.args), id="diff")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Submit edit (ctrl+s)", id="submit", variant="warning")

    def on_mount(self) -> None:
        self.query_one(JsonEditor).text_area.focus()

    def on_json_editor_validated(self, event: JsonEditor.Validated) -> None:
        self.query_one("#submit", Button).disabled = event.value is None
        if event.value is not None:
            self.query_one("#diff", Static).update(
                args_diff(self.approval.original_args, event.value)
            )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.action_cancel()

    def action_submit(self) -> None:
        editor = self.query_one(JsonEditor)
        if editor.value is None:
            self.notify("Fix the arguments first: " + "; ".join(editor.problems), severity="error")
            return
        self.dismiss(editor.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
