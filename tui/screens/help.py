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
from tui.settings import ConsoleSettings

_SCOPES = {
    "app": "anywhere",
    "approvals": "approval list",
    "threads": "thread list",
    "rows": "any list",
    "audit": "audit screen",
}


def api_notice(settings: ConsoleSettings) -> str:
    """Where ``--serve`` serves the HTTP API and where its log goes; "" without it."""
    if not settings.api_url:
        return ""
    log = f"; its log: {settings.api_log}" if settings.api_log else ""
    return f"HTTP API on {settings.api_url}{log}"


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, api: str = "") -> None:
        super().__init__()
        self._api = api
        """Where this console serves the HTTP API (``api_notice``), or ""."""

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
            if self._api:
                yield Static(self._api, id="api", classes="hint")
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
