"""The top line: who is operating, and how many threads are in each state."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.widgets.thread_list import STATUS_GLYPH

_LABELS = (
    ("running", "running"),
    ("waiting", "waiting for approval"),
    ("unknown", "outcome unknown"),
    ("done", "done"),
    ("failed", "failed"),
)


class StatusHeader(Widget):
    DEFAULT_CSS = "StatusHeader { height: 1; width: 1fr; }"

    counts: reactive[Counter[str]] = reactive(Counter, always_update=True)
    """Threads per status."""
    pending: reactive[int] = reactive(0)
    """Pending approvals."""
    state: reactive[str] = reactive("opening the home…")
    """What the connection to the engine is doing (empty when all is well)."""
    operator: reactive[str] = reactive("")
    """Who decides here: recorded on every decision made in this console."""
    dead_notifications: reactive[int] = reactive(0)
    """Notifications the outbox gave up on (``hitl notify status`` lists them)."""
    api_url: reactive[str] = reactive("")
    """Where the HTTP API is served from this process (``--serve``), or ""."""

    def __init__(
        self,
        operator: str = "",
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.set_reactive(StatusHeader.operator, operator)

    def render(self) -> Text:
        full = self._line(short=False)
        return full if full.cell_len <= self.size.width else self._line(short=True)

    def _line(self, *, short: bool) -> Text:
        """The whole line; ``short``, a narrow terminal's: pending approvals first (what
        a person must not miss), then each status as its glyph and count."""
        text = Text.assemble(("hitl", "bold"), " ")
        if self.operator:
            text.append(f"· {self.operator} ", style="italic")
        text.append("│ ")
        pending = Text(
            f"{self.pending} pending{'' if short else ' approval'}"
            f"{'s' if self.pending != 1 and not short else ''}",
            style="bold yellow" if self.pending else "dim",
        )
        if short:
            text.append_text(pending)
            text.append(" │ ")
        for status, label in _LABELS:
            count = self.counts.get(status, 0)
            shown = (
                f"{STATUS_GLYPH[status]}{count}"
                if short
                else f"{STATUS_GLYPH[status]} {count} {label}"
            )
            text.append(shown, style=_style(status, count))
            text.append(" " if short else "  ")
        if not short:
            text.append("│ ")
            text.append_text(pending)
        if self.api_url:
            text.append(f"  │ API {self.api_url}" if not short else f" │ {self.api_url}", "cyan")
        if self.dead_notifications:
            dead = self.dead_notifications
            plural = "s" if dead != 1 else ""
            text.append(f"  │ ✉ {dead} dead notification{plural}", style="bold red")
        if self.state:
            text.append(f"  │ {self.state}", style="italic")
        return text


def _style(status: str, count: int) -> str:
    if not count:
        return "dim"
    return {"waiting": "bold yellow", "unknown": "bold magenta", "failed": "bold red"}.get(
        status, "bold"
    )
