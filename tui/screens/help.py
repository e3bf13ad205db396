"""Every key, from the one table in tui.keys."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from tui.keys import EXTRA_HELP, KEYS, display_key

_SCOPES = {
    "app": "anywhere",
    "approvals": "approval list",
    "threads": "thread list",
    "rows": "any list",
    "audit": "audit screen",
}


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [Binding("escape,question_mark,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        table.add_column(style="dim")
        for spec in KEYS:
            table.add_row(display_key(spec.key), spec.description, _SCOPES.get(spec.scope, ""))
        for key, description in EXTRA_HELP:
            table.add_row(key, description, "")
        with Vertical(id="dialog", classes="help"):
            yield Label("Keys", id="title")
            with VerticalScroll(id="keys"):  # a short terminal scrolls it (arrows, j/k)
                yield Static(table)
            yield Static(
                "A high-risk call needs two approvals, each confirmed in a second step.",
                classes="hint",
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#keys").focus()

    def action_close(self) -> None:
        self.dismiss(None)
