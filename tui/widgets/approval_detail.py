"""The full call of the approval under the sidebar's cursor: every argument, and why."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from engine import ApprovalView
from tui.calls import approval_preview, tier_text


def approval_header(approval: ApprovalView, thread_title: str | None, show_ids: bool) -> Text:
    text = Text.assemble(
        (approval.tool, "bold"),
        " · ",
        tier_text(approval.tier),
        f" · {approval.received}/{approval.required} approvals",
    )
    if show_ids:
        text.append(f" · {approval.id}", style="dim")
    if approval.kind == "outcome_unknown":
        text.append("\nOUTCOME UNKNOWN", style="bold red")
    if thread_title:
        text.append("\nthread: ", style="dim")
        text.append(thread_title)
    return text


def approval_body(approval: ApprovalView) -> RenderableType:
    return Group(
        Text(approval.description, style="italic"),
        Text(""),
        approval_preview(approval),
    )


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
        *,
        show_ids: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.show_ids = show_ids
        self.thread_title: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Select an approval to see its full call.", style="dim"), id="call")

    def show(self, approval: ApprovalView | None, thread_title: str | None = None) -> None:
        self.thread_title = thread_title
        self.approval = approval
        self._paint()

    def watch_approval(self) -> None:
        self._paint()

    def _paint(self) -> None:
        approval = self.approval
        self.set_class(approval is not None and approval.tier == "high", "-high")
        self.set_class(approval is not None and approval.status != "pending", "-decided")
        if approval is None:
            body: RenderableType = Text("Select an approval to see its full call.", style="dim")
        else:
            body = Group(
                approval_header(approval, self.thread_title, self.show_ids),
                Text(""),
                approval_body(approval),
            )
        self.query_one("#call", Static).update(body)
