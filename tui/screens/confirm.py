"""The second, deliberate step before approving a high-risk call.

The call is shown again. Focus starts on Cancel, and the approve button is disabled for a
moment after the dialog opens, so neither a stray Enter nor a key already on its way can
approve: it takes moving to the button and pressing it. The wait is counted down in the
button's label ("Approve in 0.4 s"), so it reads without colour too.
"""

from __future__ import annotations

import math
import time
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Footer, Label, Static

from engine import ApprovalView
from tui.widgets.approval_detail import approval_body, approval_header, approval_risk

ARMED_LABEL = "Approve high-risk call"
COUNTDOWN_STEP = 0.1
"""Seconds between updates of the countdown in the approve button's label."""


class ConfirmHighRisk(ModalScreen[bool]):
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = "ConfirmHighRisk #approve { width: 28; }"  # the countdown's and after

    def __init__(
        self,
        approval: ApprovalView,
        thread_title: str | None,
        *,
        arm_seconds: float,
        show_ids: bool = True,
    ) -> None:
        super().__init__()
        self.approval = approval
        self.thread_title = thread_title
        self.arm_seconds = arm_seconds
        self.show_ids = show_ids

    def compose(self) -> ComposeResult:
        a = self.approval
        after = a.received + 1
        with Vertical(id="dialog", classes="confirm"):
            yield Label(Text("Approve a HIGH-risk call?", style="bold"), id="title")
            with VerticalScroll(id="call"):
                yield Static(approval_header(a, self.thread_title, self.show_ids))
                if risk := approval_risk(a):
                    yield Static(risk, classes="risk")
                yield Static(approval_body(a))
            yield Static(
                f"This records approval {after} of {a.required}."
                + (" It runs after this one." if after >= a.required else " One more is needed.")
                + " Tab to the approve button and press it; Escape cancels.",
                id="explain",
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(
                    self._waiting_label(self.arm_seconds),
                    id="approve",
                    variant="error",
                    disabled=True,
                )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self._armed_at = time.monotonic() + self.arm_seconds
        self._countdown: Timer | None = None
        if self.arm_seconds <= 0:  # no wait asked for: armed now (Textual's timers divide by it)
            self._arm()
            return
        self.set_timer(self.arm_seconds, self._arm)
        self._countdown = self.set_interval(COUNTDOWN_STEP, self._count_down)

    @staticmethod
    def _waiting_label(left: float) -> str:
        """Tenths for the usual wait of under a second; whole seconds for a long one."""
        if left > 5:
            return f"Approve in {math.ceil(left)} s"
        return f"Approve in {max(0.0, left):.1f} s"

    def _count_down(self) -> None:
        if not self.armed:
            self.query_one("#approve", Button).label = self._waiting_label(
                self._armed_at - time.monotonic()
            )

    def _arm(self) -> None:
        if self._countdown is not None:
            self._countdown.stop()
        button = self.query_one("#approve", Button)
        button.label = ARMED_LABEL
        button.disabled = False

    @property
    def armed(self) -> bool:
        return not self.query_one("#approve", Button).disabled

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "approve" and self.armed)

    def action_cancel(self) -> None:
        self.dismiss(False)
