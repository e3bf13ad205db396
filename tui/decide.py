"""From a decision key to ``engine.decide``: the dialog each decision needs, then the call.

Nothing here marks a card decided: that happens when the engine's ApprovalDecided
arrives, so a decision made here and one made from the CLI look the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from textual.screen import Screen

from engine import Answer, ApprovalView, Approve, Decision, Edit, Reject, Respond
from tui.host import Host
from tui.screens.answer import NOTHING, AnswerScreen
from tui.screens.ask import AskScreen
from tui.screens.confirm import ConfirmHighRisk
from tui.screens.edit import EditScreen
from tui.widgets.approval_detail import allowed_choices

AnswerT = TypeVar("AnswerT")


class DecisionHost(Host, Protocol):
    """The app as the decision dialogs see it: a host that can show a dialog."""

    def push_screen(
        self, screen: Screen[AnswerT], callback: Callable[[AnswerT | None], None]
    ) -> object: ...


class DecisionFlow:
    def __init__(self, app: DecisionHost) -> None:
        self.app = app

    def begin(self, kind: str, approval_id: str) -> None:
        app = self.app
        approval = app.live.pending.get(approval_id)
        if approval is None:
            app.notify(f"approval {approval_id} is no longer pending", severity="warning")
            return
        thread = app.live.threads.get(approval.thread_id)
        title = thread.title if thread else approval.thread_id
        if approval.kind == "interrupt" and kind in ("edit", "respond", "approve"):
            app.push_screen(
                AnswerScreen(
                    f"Answer the interrupt of “{title}”",
                    shown=approval.value,
                    prompt="Your answer, as JSON: the graph receives it as the interrupt's value.",
                    initial="null",
                    cursor_blink=app.settings.cursor_blink,
                    id="answer",
                ),
                lambda value: self._send(approval, Answer(value)) if value is not NOTHING else None,
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
                app.push_screen(
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
            app.push_screen(
                AskScreen(
                    f"Reject {approval.tool}?",
                    prompt="The model is told the call was rejected, and why (optional).",
                    placeholder="reason (optional)",
                    submit="Reject",
                    id="reject",
                ),
                lambda reason: (
                    self._send(approval, Reject(reason or None)) if reason is not None else None
                ),
            )
        elif kind == "respond":
            app.push_screen(
                AskScreen(
                    f"Answer in place of {approval.tool}",
                    prompt="The call does not run; the model gets this as the tool's result.",
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
            engine = app.engine
            app.push_screen(
                EditScreen(
                    approval,
                    judge=(lambda args: engine.edit_verdict(approval.id, args)) if engine else None,
                    debounce_seconds=app.settings.verdict_debounce_seconds,
                    cursor_blink=app.settings.cursor_blink,
                ),
                lambda args: self._send(approval, Edit(args)) if args is not None else None,
            )
        else:
            app.notify(f"unknown decision {kind!r}", severity="error")

    def _send(self, approval: ApprovalView, decision: Decision) -> None:
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
