"""Every pending approval across threads, oldest first, with decision keys.

A new approval is added where its age puts it (at the bottom: oldest first), so it never
moves the cursor or takes focus. A card turns decided only when the engine says so
(:meth:`ApprovalSidebar.upsert` with a decided approval): its glyph (✓ ✎ ✗ ↩ ⏱) takes the
place of the tier marker, and who did what the place of the arguments; the app removes it
after a moment.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from typing import ClassVar, Literal

from rich.text import Text
from textual.message import Message

from engine import ApprovalView, age, call_summaries
from tui.calls import decided_glyph, who_did_what
from tui.clock import Clock, SystemClock
from tui.keys import bindings
from tui.widgets.row_list import Apart, RowList, padded
from tui.widgets.thread_list import STATUS_GLYPH

DecisionKind = Literal["approve", "reject", "edit", "respond"]


class ApprovalSidebar(RowList[ApprovalView]):
    """Pending approvals as two-line cards: tool, tier, approvals, age; then the arguments."""

    BINDINGS: ClassVar = [*RowList.BINDINGS, *bindings("approvals")]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *RowList.COMPONENT_CLASSES,
        "approval-sidebar--low",
        "approval-sidebar--medium",
        "approval-sidebar--high",
        "approval-sidebar--tool",
        "approval-sidebar--summary",
        "approval-sidebar--decided",
        "approval-sidebar--unknown",
        "approval-sidebar--expiring",
    }

    ROW_HEIGHT = 2
    EMPTY_TEXT = "no approvals waiting"

    class DecisionRequested(Message):
        """The person pressed a decision key on a card."""

        def __init__(self, approval_id: str, kind: DecisionKind) -> None:
            super().__init__()
            self.approval_id = approval_id
            self.kind = kind

    class ApprovalSelected(Message):
        """The cursor is on another card (or on none): by the person, or because the card
        it was on left. Only a person's move should change what else is shown."""

        def __init__(self, approval_id: str | None, *, by_person: bool) -> None:
            super().__init__()
            self.approval_id = approval_id
            self.by_person = by_person

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        show_ids: bool = True,
        settle_seconds: float = 0.5,
        expiry_warning_seconds: float = 600.0,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.clock = clock or SystemClock()
        self.show_ids = show_ids
        self.settle_seconds = settle_seconds
        self.expiry_warning_seconds = expiry_warning_seconds
        """Within this long of its expiry, a card shows the time left (⏱4m)."""
        self._settled_at = 0.0
        self._apart = Apart(lambda row: row.summary, call_summaries)
        """Each card's arguments, cut where they do not tell it from the others."""
        self._arrived: dict[str, float] = {}
        """When each card came onto this list (monotonic): how long the person has had to
        see it."""

    @property
    def pending_count(self) -> int:
        return sum(1 for row in self.rows if row.status == "pending")

    def upsert(self, rows: Iterable[ApprovalView]) -> None:
        """New pending cards are added; a decided approval only updates a card it has."""
        now = time.monotonic()
        kept = [row for row in rows if row.status == "pending" or row.id in self]
        for row in kept:
            self._arrived.setdefault(row.id, now)
        super().upsert(kept)

    def discard(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for key in keys:
            self._arrived.pop(key, None)
        super().discard(keys)

    def key_of(self, row: ApprovalView) -> str:
        return row.id

    def sort_key(self, row: ApprovalView) -> Hashable:
        return (row.created_at, row.thread_id, row.tool_call_id)

    def row_text(self, row: ApprovalView, line: int, width: int) -> Text:
        decided = self.get_component_rich_style("approval-sidebar--decided")
        if line == 1:
            if row.status != "pending":  # who did what, where a pending card shows the call
                return Text("  " + padded(who_did_what(row), max(0, width - 2)), style=decided)
            style = self.get_component_rich_style("approval-sidebar--summary")
            apart = self._apart.text(self, row.id, max(0, width - 2)) or row.summary
            summary = apart if row.kind != "interrupt" else _asks(row.value)
            return Text("  " + padded(summary, max(0, width - 2)), style=style)
        tool_style = self.get_component_rich_style("approval-sidebar--tool")
        if row.status != "pending":
            return Text.assemble((f"{decided_glyph(row)} ", decided), (_named(row), tool_style))
        tier_style = self.get_component_rich_style(f"approval-sidebar--{row.tier}")
        marker = STATUS_GLYPH["unknown"] if row.kind == "outcome_unknown" else "●"
        right = f"{row.received}/{row.required} {self.clock.age(row.created_at):>4}"
        base, _, action = row.id.partition("-")  # a batched review's cards: abcd1234-0, -1
        ident = f"{base[:4]}{'-' + action if action else ''} " if self.show_ids else ""
        expiring = self._expiring(row)
        left_width = width - len(right) - len(row.tier) - len(expiring) - 5
        if len(ident) + len(_named(row)) > left_width:
            ident = ""  # the tool tells cards apart; the id is in the Call panel
        text = Text.assemble(
            (f"{marker} ", tier_style),
            (padded(f"{ident}{_named(row)}", max(0, left_width)), tool_style),
            " ",
            (expiring, self.get_component_rich_style("approval-sidebar--expiring")),
            (row.tier, tier_style),
            " ",
            right,
        )
        if row.kind == "outcome_unknown":
            text.stylize(self.get_component_rich_style("approval-sidebar--unknown"))
        return text

    def advance_past(self, approval_id: str) -> None:
        """After a person decided ``approval_id``: the cursor goes to the next waiting
        card at once (below it, else above), so the next key decides the next call, never
        the one just decided (which lingers a moment, out from under the cursor)."""
        if self.cursor != approval_id:
            return  # the person has moved on already
        keys = self.visible_keys
        at = keys.index(approval_id) if approval_id in keys else 0
        for key in [*keys[at + 1 :], *reversed(keys[:at])]:
            row = self.get(key)
            if row is not None and row.status == "pending":
                self.move_to(key)
                # A card that came a moment ago has not been seen: the next key waits.
                fresh_until = self._arrived.get(key, 0.0) + self.settle_seconds
                self._settled_at = max(self._settled_at, fresh_until)
                return

    def _expiring(self, row: ApprovalView) -> str:
        """ "⏱4m " when the policy rejects the call soon, else nothing."""
        if row.expires_at is None:
            return ""
        left = row.expires_at - self.clock.now()
        return f"⏱{age(left)} " if left <= self.expiry_warning_seconds else ""

    def on_focus(self) -> None:
        """Focusing the calls makes the one under the cursor the selection."""
        had = self.cursor
        super().on_focus()
        if had is not None and had == self.cursor:
            self.post_message(self.ApprovalSelected(had, by_person=True))

    def cursor_moved(self, key: str | None, *, by_person: bool) -> None:
        if not by_person:
            self._settled_at = time.monotonic() + self.settle_seconds
        self.post_message(self.ApprovalSelected(key, by_person=by_person))

    def _request(self, kind: DecisionKind) -> None:
        row = self.cursor_row
        if row is None:
            self.app.bell()
            return
        if time.monotonic() < self._settled_at:
            self.notify(
                "This card just appeared under the cursor: look first.",
                severity="warning",
            )
            return
        if row.status != "pending":
            self.notify(f"{row.tool} was already decided: {who_did_what(row)}.")
            return
        self.post_message(self.DecisionRequested(row.id, kind))

    def action_approve(self) -> None:
        self._request("approve")

    def action_reject(self) -> None:
        self._request("reject")

    def action_edit(self) -> None:
        self._request("edit")

    def action_respond(self) -> None:
        self._request("respond")


def _named(row: ApprovalView) -> str:
    """The tool, or what an interrupt without one is."""
    return row.tool or "unrecognised interrupt"


def _asks(value: object) -> str:
    """What an unrecognised interrupt asks, on one line."""
    import json

    return "asks: " + json.dumps(value, ensure_ascii=False, default=str).replace("\n", " ")
