"""Every pending approval across threads, oldest first, with decision keys.

A new approval is added where its age puts it (at the bottom: oldest first), so it never
moves the cursor or takes focus. The queue can be filtered (tier, tool, thread, words) and
ordered by urgency (:mod:`tui.queue`); cards can be marked (space, a range, every card
shown) to be decided together (:mod:`tui.widgets.marked_cards`, :mod:`tui.bulk`). A card
turns decided only when the engine says so (:meth:`ApprovalSidebar.upsert` with a decided
approval): its glyph (✓ ✎ ✗ ↩ ⏱) takes the place of the tier marker, and who did what the
place of the arguments; the app removes it after a moment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Hashable, Iterable
from typing import ClassVar, Literal

from rich.text import Text
from textual.message import Message

from engine import ApprovalView, age, call_summaries
from tui.calls import decided_glyph, who_did_what
from tui.clock import Clock, SystemClock
from tui.keys import bindings, display_key, key_of
from tui.queue import ORDERS, QueueFilter, QueueOrder, order_key, tier_rank
from tui.widgets.marked_cards import MarkedCards
from tui.widgets.row_list import Apart, RowList, padded
from tui.widgets.thread_list import STATUS_GLYPH

DecisionKind = Literal["approve", "reject", "edit", "edit_outside", "respond"]
BulkKind = Literal["approve", "reject"]


class ApprovalSidebar(MarkedCards):
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
        "approval-sidebar--marked",
    }

    ROW_HEIGHT = 2
    EMPTY_TEXT = "no approvals waiting"

    class DecisionRequested(Message):
        """The person pressed a decision key on a card."""

        def __init__(self, approval_id: str, kind: DecisionKind) -> None:
            super().__init__()
            self.approval_id = approval_id
            self.kind = kind

    class BulkRequested(Message):
        """The person asked to decide every marked card at once (the app confirms)."""

        def __init__(self, kind: BulkKind, approval_ids: tuple[str, ...]) -> None:
            super().__init__()
            self.kind = kind
            self.approval_ids = approval_ids

    class FilterRequested(Message):
        """The person asked to type a filter over the queue (the app shows the box)."""

    class FilterCleared(Message):
        """Escape cleared the queue's filter (the app empties and hides the box)."""

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
        self.queue_filter = QueueFilter()
        self.order: QueueOrder = "oldest"
        self.thread_title: Callable[[str], str] = lambda thread_id: ""
        """The title of a thread (the app sets it): the filter matches it too."""

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
        self.unmark([row.id for row in kept if row.status != "pending"])
        self._retitle()

    def discard(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for key in keys:
            self._arrived.pop(key, None)
        self.unmark(keys)
        super().discard(keys)

    def key_of(self, row: ApprovalView) -> str:
        return row.id

    def sort_key(self, row: ApprovalView) -> Hashable:
        return order_key(row, self.order)

    def shows(self, row: ApprovalView) -> bool:
        return not self.queue_filter or self.queue_filter.matches(
            row, self.thread_title(row.thread_id)
        )

    def empty_text(self) -> str:
        if self.queue_filter:
            return "no call matches (esc clears)"
        return self.EMPTY_TEXT

    # --- the queue's filter and order ------------------------------------------

    def set_queue_filter(self, text: str) -> None:
        """Shows only the cards ``text`` matches (:class:`tui.queue.QueueFilter`). Marks on
        cards it hides stay, but a bulk decision covers only the marked cards shown."""
        self.queue_filter = QueueFilter.parse(text)
        self.refilter()
        self._retitle()

    def action_cycle_order(self) -> None:
        self.order = ORDERS[(ORDERS.index(self.order) + 1) % len(ORDERS)]
        self.resort()
        self._retitle()
        self.notify(f"Approvals: {_ORDER_WORDS[self.order]}.", timeout=3)

    def action_filter_queue(self) -> None:
        self.post_message(self.FilterRequested())

    def title(self) -> str:
        """The border title: how many cards are shown (of how many), the filter, the
        order when not the usual one, and how many are marked."""
        title = "Pending approvals"
        if self.queue_filter:
            shown = sum(1 for key in self.visible_keys if self._pending(key))
            title += f" {shown}/{self.pending_count} · “{self.queue_filter.text}”"
        if self.order != "oldest":
            title += f" · {_ORDER_WORDS[self.order]}"
        if self.marked:
            shown = len(self.marked_in_order())
            hidden = f", {len(self.marked) - shown} hidden" if shown < len(self.marked) else ""
            keys = f"{_short(key_of('approve_marked'))} {_short(key_of('reject_marked'))}"
            title += f" · {shown} marked{hidden} ({keys})"
        return title

    def _retitle(self) -> None:
        self.set_title(self.title())

    def marks_changed(self) -> None:
        self._retitle()
        super().marks_changed()

    def texts_moved(self, keys: tuple[str, ...]) -> bool:
        return self._apart.moved(self, keys)

    # --- marks (the rest: tui.widgets.marked_cards) ----------------------------------

    def action_clear_marks(self) -> None:
        """Escape: drops the marks first; with none, the filter."""
        if self.marked:
            self.unmark(list(self.marked))
        elif self.queue_filter:
            self.set_queue_filter("")
            self.post_message(self.FilterCleared())

    def _request_bulk(self, kind: BulkKind) -> None:
        marked = self.marked_in_order()
        if not marked:
            self.notify(
                "Nothing is marked: space marks the card under the cursor, "
                f"{display_key('asterisk')} every card shown.",
                severity="warning",
            )
            return
        self.post_message(self.BulkRequested(kind, marked))

    def action_approve_marked(self) -> None:
        self._request_bulk("approve")

    def action_reject_marked(self) -> None:
        self._request_bulk("reject")

    # --- next calls -----------------------------------------------------------------

    def next_waiting(self, *, high: bool = False) -> str | None:
        """The next waiting card shown after the cursor (wrapping round), high-risk or
        above only with ``high``; the cursor's own card only when it is the only one."""
        keys = self.visible_keys
        at = keys.index(self.cursor) if self.cursor in keys else -1
        for key in [*keys[at + 1 :], *keys[: at + 1]]:
            row = self.get(key)
            if row is not None and row.status == "pending":
                if not high or tier_rank(row.tier) >= tier_rank("high"):
                    return key
        return None

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
        if row.id in self.marked:  # a glyph, not only a colour: it reads in monochrome
            marker = "■"
            tier_style += self.get_component_rich_style("approval-sidebar--marked")
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

    def advance_past(self, *approval_ids: str) -> None:
        """After a person decided ``approval_ids`` (one, or a bulk decision's set): when
        the cursor is on one of them it goes to the next waiting card not among them at
        once (below it, else above), so the next key decides the next call, never one
        just decided (which lingers a moment, out from under the cursor)."""
        if self.cursor is None or self.cursor not in approval_ids:
            return  # the person has moved on already
        sent = set(approval_ids)
        keys = self.visible_keys
        at = keys.index(self.cursor) if self.cursor in keys else 0
        for key in [*keys[at + 1 :], *reversed(keys[:at])]:
            row = self.get(key)
            if row is not None and row.status == "pending" and key not in sent:
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
            # Decided elsewhere while it lingers under the cursor: say so and move on, as
            # after one's own decision (the next card still waits its settle moment).
            self.notify(f"{row.tool} was already decided: {who_did_what(row)}.")
            self.advance_past(row.id)
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

    def action_edit_outside(self) -> None:
        self._request("edit_outside")

    def action_copy_id(self) -> None:
        if (row := self.cursor_row) is None:
            self.app.bell()
            return
        self.app.copy_to_clipboard(row.id)
        self.notify(f"Copied the id of {row.tool or 'the interrupt'}: {row.id}", title="copied")

    def action_copy_args(self) -> None:
        """The arguments as JSON (as the editor shows them), pasteable into ``hitl edit``."""
        if (row := self.cursor_row) is None:
            self.app.bell()
            return
        self.app.copy_to_clipboard(json.dumps(row.args, indent=2, ensure_ascii=False))
        self.notify(f"Copied the arguments of {row.tool or 'the interrupt'}.", title="copied")


_ORDER_WORDS: dict[QueueOrder, str] = {"oldest": "oldest first", "urgent": "expiring first"}


def _short(key: str) -> str:
    """``ctrl+a`` as a terminal writes it, ``^a``: the title is narrow."""
    return key.replace("ctrl+", "^")


def _named(row: ApprovalView) -> str:
    """The tool, or what an interrupt without one is."""
    return row.tool or "unrecognised interrupt"


def _asks(value: object) -> str:
    """What an unrecognised interrupt asks, on one line."""
    import json

    return "asks: " + json.dumps(value, ensure_ascii=False, default=str).replace("\n", " ")
