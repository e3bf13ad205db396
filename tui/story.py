"""A thread's story: the engine's events (live or from its history) as lines to read.

The same function renders a live event and a history entry, so a thread looks the
same whether the console watched it happen or opened it later.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from rich.console import Group, RenderableType
from rich.text import Text

from engine import ApprovalView, HistoryEntry, decode_event
from engine.events import (
    ApprovalDecided,
    ApprovalExpiring,
    ApprovalRequested,
    ApprovalWithdrawn,
    CallDenied,
    Event,
    MessageAdded,
    NodeUpdated,
    ThreadFailed,
    ThreadFinished,
    ThreadStatusChanged,
)
from tui.calls import decided_glyph, reveal, tier_text, who_did_what
from tui.clock import Clock

_GLYPH = {"approve": "✓", "edit": "✎", "reject": "✗", "respond": "↩", "answer": "↩"}

_DECIDED = {
    "approve": "approved",
    "edit": "edited",
    "reject": "rejected",
    "respond": "answered",
    "answer": "answered",
    "expire": "expired by policy",
}


class StoryItem(NamedTuple):
    seq: int
    """The event's journal seq, so one seen both live and in the history shows once."""
    kind: str
    """user, assistant, tool, approval, decision, expired, denied, status, failed: a CSS
    class suffix."""
    body: RenderableType


def item_of(event: Event, clock: Clock) -> StoryItem | None:
    """The story line of one event (None for events that add nothing to read), stamped
    with when it happened, wherever it happened."""
    key, at = event.seq, event.at
    stamp = Text(f"{clock.time_of(at)} ", style="dim")
    if isinstance(event, MessageAdded):
        return _message(key, event, stamp)
    if isinstance(event, NodeUpdated):
        text = Text.assemble(stamp, (f"{event.node} ", "bold"))
        text.append_text(reveal(event.update))
        return StoryItem(key, "node", text)
    if isinstance(event, ApprovalWithdrawn):
        a = event.approval
        text = Text.assemble(stamp, ("↷ ", "bold"), (_name(a), "bold"), f" {event.reason}: closed")
        return StoryItem(key, "decision", text)
    if isinstance(event, ApprovalRequested) and event.approval.kind == "interrupt":
        text = Text.assemble(stamp, ("⏸ waits for an answer ", "bold"), "· unrecognised interrupt")
        return StoryItem(key, "approval", text)
    if isinstance(event, ApprovalRequested):
        a = event.approval
        text = Text.assemble(
            stamp,
            ("⏸ waits for approval ", "bold"),
            (a.tool, "bold"),
            " · ",
            tier_text(a.tier),
            f" · needs {a.required}",
        )
        return StoryItem(key, "approval", text)
    if isinstance(event, ApprovalDecided) and event.decision == "expire":
        a = event.approval
        when = clock.time_of(a.decided_at) if a.decided_at else clock.time_of(at)
        text = Text.assemble(
            stamp,
            ("⏱ ", "bold"),
            (f"{_name(a)} {_DECIDED['expire']}", "bold"),
            f" at {when}: nobody decided in time; it did not run",
        )
        return StoryItem(key, "expired", text)
    if isinstance(event, ApprovalExpiring):
        a = event.approval
        text = Text.assemble(stamp, ("⏱ ", "bold"), (_name(a), "bold"), " expires soon")
        if a.expires_at is not None:
            text.append(f" (at {clock.time_of(a.expires_at)}) unless someone decides")
        return StoryItem(key, "expiring", text)
    if isinstance(event, CallDenied):
        text = Text.assemble(stamp, ("⊘ denied by policy: ", "bold"), (event.tool, "bold"), " ")
        text.append_text(reveal(json.dumps(event.args, ensure_ascii=False)))
        text.append(f"\n   {event.reason}; it did not run", style="italic")
        return StoryItem(key, "denied", text)
    if isinstance(event, ApprovalDecided):
        a = event.approval
        when = clock.time_of(a.decided_at) if a.decided_at else clock.time_of(at)
        if event.final:  # every person's part: "edited by root · approved by alice"
            glyph = decided_glyph(a)
            text = Text.assemble(
                stamp, (f"{glyph} {_name(a)} ", "bold"), (who_did_what(a), "bold"), f" at {when}"
            )
        else:
            glyph = _GLYPH.get(event.decision, "·")
            verb = _DECIDED.get(event.decision, event.decision)
            text = Text.assemble(
                stamp,
                (f"{glyph} {_name(a)} {verb}", "bold"),
                f" by {event.operator} at {when} ({a.received}/{a.required}, {_more(a)})",
            )
            if event.decision == "edit":  # the edited call is judged again
                text.append(" · now ")
                text.append_text(tier_text(a.tier))
        if event.decision == "edit":
            text.append("\n   " + json.dumps(a.args, ensure_ascii=False), style="yellow")
        if event.decision == "answer" and a.decision:
            text.append("\n   " + json.dumps(a.decision.get("value"), ensure_ascii=False)[:400])
        if event.decision in ("reject", "respond") and a.decision:
            message = a.decision.get("message")
            if message:
                text.append("\n   “")
                text.append_text(reveal(str(message)))
                text.append("”")
        return StoryItem(key, "decision", text)
    if isinstance(event, ThreadFailed):
        error = event.thread.error or "unknown error"
        return StoryItem(key, "failed", Text.assemble(stamp, ("✗ failed: ", "bold"), error))
    if isinstance(event, ThreadFinished):
        return StoryItem(key, "status", Text.assemble(stamp, ("■ done", "bold")))
    if isinstance(event, ThreadStatusChanged) and event.thread.status == "unknown":
        return StoryItem(
            key, "failed", Text.assemble(stamp, ("? outcome unknown: a person must say", "bold"))
        )
    return None


def _name(approval: ApprovalView) -> str:
    """What a line calls the approval: its tool, or (for a graph's own question) "interrupt"."""
    return approval.tool or "interrupt"


def _more(approval: ApprovalView) -> str:
    left = approval.required - approval.received
    return "one more needed" if left == 1 else f"{left} more needed"


def _message(key: int, event: MessageAdded, stamp: Text) -> StoryItem:
    if event.role == "user":
        return StoryItem(
            key, "user", Text.assemble(stamp, ("task ", "bold"), reveal(event.content))
        )
    if event.role == "tool":
        text = Text.assemble(stamp, (f"← {event.name or 'tool'} ", "bold"))
        text.append_text(reveal(event.content))
        return StoryItem(key, "tool", text)
    parts: list[RenderableType] = []
    if event.content:
        parts.append(Text.assemble(stamp, ("model ", "bold"), reveal(event.content)))
    for call in event.tool_calls:
        line = Text.assemble(("    → ", "dim"), (str(call.get("name")), "bold"), " ")
        line.append_text(reveal(json.dumps(call.get("args", {}), ensure_ascii=False)))
        parts.append(line)
    return StoryItem(key, "assistant", Group(*parts))


def items_of_history(entries: list[HistoryEntry], clock: Clock) -> list[StoryItem]:
    events = (decode_event(entry) for entry in entries)
    return [item for event in events if event and (item := item_of(event, clock))]


def expiring_notice(approval: ApprovalView, thread_title: str | None, clock: Clock) -> str:
    """The warning a person gets before the policy rejects an undecided call."""
    left = clock.until(approval.expires_at) if approval.expires_at else "moments"
    return (
        f"{_name(approval)} in “{thread_title or approval.thread_id}” is rejected in {left} "
        "unless someone decides it."
    )
