"""The full call of the approval under the sidebar's cursor: every argument, and why.

"Why" is the policy's answer: the rule (or the tool's tier) that made the call risky,
every rule that matched, four-eyes, who has approved so far, and the time left before
the policy rejects it (live: the app ticks the widget each second).
"""

from __future__ import annotations

import json
import re

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from engine import FORMAT_LABELS, ApprovalView
from tui.calls import approval_preview, reveal, tier_text, who_did_what
from tui.clock import Clock, SystemClock

CHOICE_KEYS = {"approve": "a", "edit": "e", "reject": "r", "respond": "s", "answer": "e"}


def allowed_choices(approval: ApprovalView) -> str:
    """The decisions this card takes, with their keys ("approve (a), reject (r)")."""
    return ", ".join(f"{c} ({CHOICE_KEYS[c]})" for c in approval.choices)


def allowed_text(approval: ApprovalView) -> Text:
    """The decisions this card takes, with their keys: the others are refused."""
    return Text.assemble(("decisions: ", "dim"), allowed_choices(approval))


def approval_header(approval: ApprovalView, thread_title: str | None, show_ids: bool) -> Text:
    text = Text.assemble(
        (approval.tool or FORMAT_LABELS.get(approval.format, "interrupt"), "bold"),
        " · ",
        tier_text(approval.tier),
        f" · {approval.received}/{approval.required} approvals",
    )
    if show_ids:
        text.append(f" · {approval.id}", style="dim")
    if approval.kind == "outcome_unknown":
        text.append("\nOUTCOME UNKNOWN", style="bold red")
    if approval.format != "engine" and approval.tool:  # else it is the first line
        text.append(f"\n{FORMAT_LABELS[approval.format]}", style="bold magenta")
        if approval.action_count > 1:
            text.append(f" · action {approval.action_index + 1} of {approval.action_count}")
    if not approval.protected:
        text.append("\nnot protected against re-running after a crash", style="bold yellow")
    if thread_title:
        text.append("\nthread: ", style="dim")
        text.append(thread_title)
    return text


def approval_risk(approval: ApprovalView, clock: Clock | None = None) -> Text:
    """Why the call waits for a person, and on what terms; with a clock, the time left."""

    def line(label: str, value: str, style: str = "") -> Text:
        return Text.assemble((f"{label}: ", "dim"), (value, style))

    lines: list[Text] = []
    if approval.reason:
        lines.append(line("why", approval.reason))
    if approval.status == "withdrawn":  # no decision of anyone's: nothing to choose now
        lines.append(line("closed", who_did_what(approval), "bold yellow"))
    elif approval.format != "engine" and approval.status == "pending":
        lines.append(allowed_text(approval))
    if approval.rules:
        lines.append(line("rules", ", ".join(approval.rules), "bold"))
    if approval.distinct_operators:
        lines.append(line("four-eyes", "each approval from a different operator", "bold"))
    approvers = list(approval.approvers)
    if approval.edited_by:
        lines.append(line("edited by", approval.edited_by, "bold yellow"))
        if approval.edited_by in approvers:  # the edit counts as its editor's approval
            approvers.remove(approval.edited_by)
    if approvers:
        lines.append(line("approved by", ", ".join(approvers)))
    if clock is not None and approval.expires_at is not None and approval.status == "pending":
        if approval.expires_at > clock.now():
            expiry = line("expires", f"in {clock.until(approval.expires_at)}", "bold")
            expiry.append(f" (at {clock.time_of(approval.expires_at)}), then rejected")
        else:
            expiry = line("expires", "now: the policy rejects it", "bold red")
        lines.append(expiry)
    return Text("\n").join(lines)


_RISK_SUFFIX = re.compile(r" Risk (?:low|medium|high|deny): .*\.\Z", re.DOTALL)
"""The risk the gate wrote into the description when the call was first asked for: stale
once the arguments are edited, so it is cut, and :func:`approval_risk` says why instead."""


_LANGCHAIN_CALL = re.compile(r"\n\nTool: (?P<tool>[^\n]*)\nArgs: .*\Z", re.DOTALL)
"""The call as LangChain's HumanInTheLoopMiddleware writes it under its default
description ("Tool execution requires approval"): a Python repr of the arguments as the
model first asked, which the preview below shows properly (and edits make stale)."""


def description_of(approval: ApprovalView) -> str:
    """The description worth reading: without the risk or the call it repeats."""
    description = _RISK_SUFFIX.sub("", approval.description)
    repeated = _LANGCHAIN_CALL.search(description)
    if repeated and repeated["tool"] == approval.tool:
        description = description[: repeated.start()]
    return description.strip()


def approval_body(approval: ApprovalView) -> RenderableType:
    """The tool's description (its risk is in :func:`approval_risk`) and the call, or
    the value of an interrupt the engine does not know."""
    description = description_of(approval)
    said = [Text(description, style="italic"), Text("")] if description else []
    if approval.kind == "interrupt":
        value = json.dumps(approval.value, indent=2, ensure_ascii=False)
        return Group(*said, reveal(value))
    return Group(*said, approval_preview(approval))


class ApprovalDetail(VerticalScroll, can_focus=False):
    """Scrolls when arguments are long; never cuts them."""

    DEFAULT_CSS = """
    ApprovalDetail { height: 1fr; }
    ApprovalDetail > Static { width: 1fr; }
    """

    approval: reactive[ApprovalView | None] = reactive(None, init=False)
    """The approval shown; None shows a hint."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        show_ids: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.clock = clock or SystemClock()
        self.show_ids = show_ids
        self.thread_title: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Select an approval to see its full call.", style="dim"), id="call")

    def show(self, approval: ApprovalView | None, thread_title: str | None = None) -> None:
        """Shows ``approval`` (of the thread titled so), or, with None, that nothing of
        that thread waits; repaints only when something changed."""
        if approval == self.approval and thread_title == self.thread_title:
            return
        self.thread_title = thread_title
        self.set_reactive(ApprovalDetail.approval, approval)
        self._paint()

    def watch_approval(self) -> None:
        self._paint()

    def tick(self) -> None:
        """Repaints the time left, when there is one to show."""
        if self.approval is not None and self.approval.expires_at is not None:
            self._paint()

    def _paint(self) -> None:
        approval = self.approval
        self.set_class(approval is not None and approval.tier == "high", "-high")
        self.set_class(approval is not None and approval.status != "pending", "-decided")
        if approval is None:
            hint = (
                f"Nothing in “{self.thread_title}” waits for a decision."
                if self.thread_title
                else "Select an approval to see its full call."
            )
            body: RenderableType = Text(hint, style="dim")
        else:
            parts: list[RenderableType] = [
                approval_header(approval, self.thread_title, self.show_ids)
            ]
            if risk := approval_risk(approval, self.clock):
                parts.append(risk)
            body = Group(*parts, Text(""), approval_body(approval))
        self.query_one("#call", Static).update(body)
