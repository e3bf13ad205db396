"""The one confirmation of a bulk decision: the count and the highest tier, every call.

As for a single high-risk call, focus starts on Cancel and the confirm button stays
disabled for a moment, so a stray Enter or a key already on its way cannot send many
decisions. Rejecting asks for one reason, given to every call's model.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from engine import ApprovalView


class ConfirmBulk(ModalScreen[str | None]):
    """Dismisses with the reason typed ("" when none, or approving) or None (cancelled)."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        headline: str,
        calls: list[tuple[ApprovalView, str]],
        skipped: list[str],
        *,
        arm_seconds: float,
        ask_reason: bool = False,
        show_ids: bool = True,
    ) -> None:
        super().__init__(id="bulk")
        self.headline = headline
        self.calls = calls
        self.skipped = skipped
        self.arm_seconds = arm_seconds
        self.ask_reason = ask_reason
        self.show_ids = show_ids

    def compose(self) -> ComposeResult:
        verb = self.headline.split(" ", 1)[0]
        with Vertical(id="dialog", classes="confirm bulk"):
            question = self.headline[:1].upper() + self.headline[1:] + "?"
            yield Label(Text(question, style="bold"), id="title")
            with VerticalScroll(id="call"):
                yield Static(self._listing(), id="calls")
            if self.ask_reason:
                yield Input(
                    placeholder="reason, given to every call's model (optional)", id="reason"
                )
            yield Static(
                "Each call gets one decision from you; a high-risk call still needs its "
                "second approval from another operator. Tab to the button and press it; "
                "Escape cancels.",
                id="explain",
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(
                    f"{verb.capitalize()} {len(self.calls)} in a moment",  # until it arms
                    id="confirm",
                    variant="error" if verb == "reject" else "warning",
                    disabled=True,
                )
        yield Footer()

    def _listing(self) -> Text:
        text = Text()
        for approval, title in self.calls:
            ident = f"{approval.id} " if self.show_ids else ""
            text.append(f"{approval.tier:<6} ", style="bold" if approval.tier == "high" else "")
            text.append(f"{ident}{approval.tool} · {title}\n")
            text.append(f"       {approval.summary}\n", style="dim")
        for line in self.skipped:
            text.append(f"left out: {line}\n", style="italic")
        text.rstrip()
        return text

    def on_mount(self) -> None:
        self.query_one("#reason" if self.ask_reason else "#cancel").focus()
        if self.arm_seconds > 0:
            self.set_timer(self.arm_seconds, self._arm)
        else:  # Textual's timers divide by their interval
            self._arm()

    def _arm(self) -> None:
        button = self.query_one("#confirm", Button)
        button.label = f"Yes, {self.headline.split(' ', 1)[0]} {len(self.calls)}"
        button.disabled = False

    @property
    def armed(self) -> bool:
        return not self.query_one("#confirm", Button).disabled

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#cancel", Button).focus()  # Enter in the reason never sends

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm" and self.armed:
            reason = self.query_one("#reason", Input).value.strip() if self.ask_reason else ""
            self.dismiss(reason)
        elif event.button.id == "cancel":
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
