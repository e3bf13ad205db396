"""What the console knows, kept current from the engine's events.

The app feeds every batch of events through :meth:`LiveState.apply` and gets back only
what changed, so widgets update the rows that changed and never rebuild a whole list.
Nothing here touches Textual: it can be tested (and benchmarked) on its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, get_args

from engine import ApprovalView, ThreadStatus, ThreadView
from engine.events import (
    ApprovalDecided,
    ApprovalExpiring,
    ApprovalRequested,
    ApprovalWithdrawn,
    Event,
    EventsDropped,
    MessageAdded,
    ThreadFailed,
    ThreadFinished,
    ThreadStarted,
    ThreadStatusChanged,
    ToolExecuted,
)

STATUSES: tuple[ThreadStatus, ...] = get_args(ThreadStatus)


class ThreadRow(NamedTuple):
    """A thread as the list shows it: the engine's view plus its live pending count."""

    thread: ThreadView
    pending: int
    refused: bool = False
    """Every call of it decided here was refused (rejected, or expired): "done" then
    means it ended without doing what it asked, and must not look like a success."""


@dataclass(slots=True)
class Changes:
    threads: dict[str, ThreadRow] = field(default_factory=dict)
    """New or changed threads (status, or pending count)."""
    approvals: dict[str, ApprovalView] = field(default_factory=dict)
    """New or changed approvals; a decided one has its final status."""
    stories: dict[str, list[Event]] = field(default_factory=dict)
    """Per thread, the events its story pane should append, in order."""
    expiring: list[ApprovalView] = field(default_factory=list)
    """Approvals the policy will reject soon unless someone decides (warn a person)."""
    withdrawn: list[ApprovalView] = field(default_factory=list)
    """Pending cards closed because their thread went on elsewhere (tell a person)."""
    resync: bool = False
    """Events were lost: re-read everything from the engine."""

    def __bool__(self) -> bool:
        return bool(
            self.threads
            or self.approvals
            or self.stories
            or self.expiring
            or self.withdrawn
            or self.resync
        )


class LiveState:
    def __init__(self) -> None:
        self.threads: dict[str, ThreadView] = {}
        self.pending: dict[str, ApprovalView] = {}
        """Pending approvals by id."""
        self.activity: dict[str, float] = {}
        """When each thread last had an event here (for the grid's choice of threads)."""
        self._pending_by_thread: Counter[str] = Counter()
        self._refused: set[str] = set()
        """Threads with a call refused (rejected or expired) this session..."""
        self._went_ahead: set[str] = set()
        """...and threads with a call let through (approved, edited, answered)."""

    def load(self, threads: Iterable[ThreadView], pending: Iterable[ApprovalView]) -> Changes:
        """Replaces everything with a fresh read from the engine; every row is "changed"."""
        self.threads = {t.id: t for t in threads}
        self.pending = {a.id: a for a in pending}
        self._pending_by_thread = Counter(a.thread_id for a in self.pending.values())
        for thread in self.threads.values():
            self.activity.setdefault(thread.id, thread.updated_at)
        changes = Changes(approvals=dict(self.pending))
        changes.threads = {tid: self.row(tid) for tid in self.threads}
        return changes

    def row(self, thread_id: str) -> ThreadRow:
        pending = self._pending_by_thread[thread_id]
        return ThreadRow(self.threads[thread_id], pending, self.refused(thread_id))

    def refused(self, thread_id: str) -> bool:
        """Every call of the thread decided while this console watched was refused."""
        return thread_id in self._refused and thread_id not in self._went_ahead

    def counts(self) -> Counter[str]:
        counts: Counter[str] = Counter({status: 0 for status in STATUSES})
        counts.update(t.status for t in self.threads.values())
        return counts

    def grid_choice(self, first: str | None, size: int) -> list[ThreadView]:
        """Threads for the grid: ``first`` (the one in the pane), then the busiest."""
        chosen = [self.threads[first]] if first in self.threads else []
        active = sorted(
            (t for t in self.threads.values() if t not in chosen),
            key=lambda t: (
                t.status not in ("running", "waiting", "unknown"),
                -self.activity.get(t.id, 0),
            ),
        )
        return [*chosen, *active][:size]

    def apply(self, events: Iterable[Event], now: float) -> Changes:
        changes = Changes()
        touched: set[str] = set()
        for event in events:
            if isinstance(event, EventsDropped):
                changes.resync = True
                continue
            if (thread_id := event.thread_id) is not None:
                self.activity[thread_id] = now
                changes.stories.setdefault(thread_id, []).append(event)
            if isinstance(
                event, ThreadStarted | ThreadStatusChanged | ThreadFinished | ThreadFailed
            ):
                self.threads[event.thread.id] = event.thread
                touched.add(event.thread.id)
            elif isinstance(event, ApprovalRequested):
                approval = event.approval
                if approval.status == "pending" and approval.id not in self.pending:
                    self.pending[approval.id] = approval
                    self._pending_by_thread[approval.thread_id] += 1
                    changes.approvals[approval.id] = approval
                    touched.add(approval.thread_id)
            elif isinstance(event, ApprovalWithdrawn):
                approval = event.approval
                if self.pending.pop(approval.id, None) is not None:
                    self._pending_by_thread[approval.thread_id] -= 1
                    touched.add(approval.thread_id)
                    changes.withdrawn.append(approval)
                changes.approvals[approval.id] = approval
            elif isinstance(event, ApprovalDecided):
                approval = event.approval
                if approval.status == "pending":
                    self.pending[approval.id] = approval
                elif self.pending.pop(approval.id, None) is not None:
                    self._pending_by_thread[approval.thread_id] -= 1
                    touched.add(approval.thread_id)
                if approval.status == "rejected":
                    self._refused.add(approval.thread_id)
                elif approval.status != "pending":
                    self._went_ahead.add(approval.thread_id)
                changes.approvals[approval.id] = approval
            elif isinstance(event, ApprovalExpiring):
                if event.approval.id in self.pending:
                    changes.expiring.append(event.approval)
            elif isinstance(event, MessageAdded | ToolExecuted):
                pass  # story only (and CallDenied, which changes no state here)
        changes.threads = {tid: self.row(tid) for tid in touched if tid in self.threads}
        return changes
