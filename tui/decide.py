"""From a decision key to ``engine.decide``: the dialog each decision needs, then the call.

Nothing here marks a card decided: that happens when the engine's ApprovalDecided
arrives, so a decision made here and one made from the CLI look the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from textual.screen import Screen

from engine import Answer, ApprovalView, Approve, Decision, Edit, Reject, Respond
from tui.calls import who_did_what
from tui.external_editor import ExternalEdit, ExternalEditHost
from tui.screens.answer import NOTHING, AnswerScreen
from tui.screens.ask import AskScreen
from tui.screens.confirm import ConfirmHighRisk
from tui.screens.edit import EditScreen
from tui.widgets.approval_detail import allowed_choices

AnswerT = TypeVar("AnswerT")


class DecisionHost(ExternalEditHost, Protocol):
    """The app as the decision dialogs see it: a host that can show a dialog, knows
    which call is under the cursor, and can hand its terminal to ``$EDITOR``."""

    def push_screen(
        self, screen: Screen[AnswerT], callback: Callable[[AnswerT | None], None]
    ) -> object: ...

    def advance_past(self, approval_id: str) -> None: ...


@dataclass(slots=True)
class OpenDialog:
    """The dialog deciding one call, and what dismissing it without an answer returns."""

    approval: ApprovalView
    screen: Screen[Any]
    nothing: object = None


class DecisionFlow:
    def __init__(self, app: DecisionHost) -> None:
        self.app = app
        self.open: OpenDialog | None = None
        """The dialog on screen for a call, closed if the call is decided elsewhere."""
        self.outside = ExternalEdit(app, self._edit)
        """Arguments in the person's own editor; what comes back opens in the dialog."""

    def _ask(
        self,
        approval: ApprovalView,
        screen: Screen[AnswerT],
        then: Callable[[AnswerT | None], None],
        nothing: object = None,
    ) -> None:
        opened = OpenDialog(approval, screen, nothing)

        def answered(value: AnswerT | None) -> None:
            if self.open is opened:
                self.open = None
            then(value)

        self.open = opened
        self.app.push_screen(screen, answered)

    def decided_elsewhere(self, approvals: Iterable[ApprovalView]) -> None:
        """Closes the open dialog when its call was decided (or withdrawn) by someone
        else meanwhile: what it offers can no longer happen, and must not look as if."""
        self.outside.decided_elsewhere(approvals)
        opened = self.open
        if opened is None:
            return
        for approval in approvals:
            if approval.id == opened.approval.id and approval.status != "pending":
                self.open = None
                opened.screen.dismiss(opened.nothing)
                at = approval.decided_at
                when = self.app.settings.clock.time_of(at) if at else ""
                self.app.notify(
                    f"{approval.tool or 'interrupt'} ({approval.id}) was decided elsewhere"
                    f"{' at ' + when if when else ''}: {who_did_what(approval) or approval.status}"
                    " — the dialog is closed, nothing was sent from here.",
                    title="decided elsewhere",
                    severity="warning",
                    timeout=15,
                )
                return

    def begin(self, kind: str, approval_id: str) -> None:
        """Opens the dialog ``kind`` needs for the call (``edit_outside``: the call's
        arguments in $EDITOR, then the edit dialog), or decides at once."""
        app = self.app
        outside = kind == "edit_outside"
        kind = "edit" if outside else kind
        approval = app.live.pending.get(approval_id)
        if approval is None:
            app.notify(f"approval {approval_id} is no longer pending", severity="warning")
            return
        thread = app.live.threads.get(approval.thread_id)
        title = thread.title if thread else approval.thread_id
        if approval.kind == "interrupt" and kind in ("edit", "respond", "approve"):
            self._ask(
                approval,
                AnswerScreen(
                    f"Answer the interrupt of “{title}”",
                    shown=approval.value,
                    prompt="Your answer, as JSON: the graph receives it as the interrupt's value.",
                    initial="null",
                    cursor_blink=app.settings.cursor_blink,
                    id="answer",
                ),
                lambda value: self._send(approval, Answer(value)) if value is not NOTHING else None,
                nothing=NOTHING,
            )
            return
        if not approval.allows(kind):
            whose = f"{approval.tool}: this" if approval.tool else "This"
            app.notify(
                f"{whose} interrupt does not allow {kind}; it takes {allowed_choices(approval)}.",
                severity="warning",
            )
            return
        if kind == "approve":
            if approval.tier == "high":
                self._ask(
                    approval,
                    ConfirmHighRisk(
                        approval,
                        title,
                        arm_seconds=app.settings.confirm_arm_seconds,
                        show_ids=app.settings.show_ids,
                    ),
                    lambda sure: self._send(approval, Approve()) if sure else None,
                )
            else:
                self._send(approval, Approve())
        elif kind == "reject":
            self._ask(
                approval,
                AskScreen(
                    f"Reject {approval.tool} ({approval.id}) in “{title}”?",
                    prompt=f"{approval.summary}\n\nThe model is told the call was rejected, "
                    "and why (optional).",
                    placeholder="reason (optional)",
                    submit="Reject",
                    id="reject",
                ),
                lambda reason: (
                    self._send(approval, Reject(reason or None)) if reason is not None else None
                ),
            )
        elif kind == "respond":
            self._ask(
                approval,
                AskScreen(
                    f"Answer in place of {approval.tool} ({approval.id}) in “{title}”",
                    prompt=f"{approval.summary}\n\nThe call does not run; the model gets this "
                    "as the tool's result.",
                    placeholder="e.g. Done by hand; the report was sent yesterday.",
                    submit="Respond",
                    required=True,
                    id="respond",
                ),
                lambda text: self._send(approval, Respond(text)) if text else None,
            )
        elif kind == "edit":
            if approval.kind != "tool_approval":
                app.notify(
                    "An outcome-unknown call cannot be edited: approve re-runs it, "
                    "respond marks it done.",
                    severity="warning",
                )
                return
            if outside:
                self.outside.begin(approval)
            else:
                self._edit(approval)
        else:
            app.notify(f"unknown decision {kind!r}", severity="error")

    def _edit(self, approval: ApprovalView, text: str | None = None) -> None:
        """The edit dialog, with ``text`` (from the person's editor) or the arguments."""
        app = self.app
        engine = app.engine
        self._ask(
            approval,
            EditScreen(
                approval,
                judge=(lambda args: engine.edit_verdict(approval.id, args)) if engine else None,
                debounce_seconds=app.settings.verdict_debounce_seconds,
                cursor_blink=app.settings.cursor_blink,
                text=text,
                outside=lambda written: self.outside.begin(approval, written),
            ),
            lambda args: self._send(approval, Edit(args)) if args is not None else None,
        )

    def _send(self, approval: ApprovalView, decision: Decision) -> None:
        self.app.advance_past(approval.id)
        self.app.run_worker(self._decide(approval, decision), group="decisions")

    async def _decide(self, approval: ApprovalView, decision: Decision) -> None:
        app = self.app
        if app.engine is None:
            app.notify("The engine is not open yet.", severity="error")
            return
        decided = await app.attempt(app.engine.decide(approval.id, decision))
        if decided is None or decided.status != "pending":
            return
        more = decided.required - decided.received
        needed = "one more is needed" if more == 1 else f"{more} more are needed"
        if isinstance(decision, Edit):
            app.notify(
                f"{decided.tool}: the edited call is {decided.tier} ({decided.reason}); your "
                f"edit counts as approval {decided.received}/{decided.required}, and "
                f"{needed} before it runs.",
                title="edit recorded",
            )
        else:
            app.notify(
                f"{decided.tool or 'interrupt'}: approval {decided.received}/"
                f"{decided.required} recorded; {needed} before it runs.",
                title="high risk",
            )
