"""Where a run's time goes, told to whoever asks: the benchmark's probe, a profiler.

An engine opened with ``EngineOptions(observer=...)`` reports every hop to the SQLite
database thread, every run-slot take and every run it starts. Opened without one (the
default), the hot paths only test ``is None``: nothing is timed or allocated.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import FrameType
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Hop:
    """One call run on the database thread (a whole transaction, a read, a checkpoint).
    Times are ``time.perf_counter()`` seconds."""

    caller: FrameType | None
    """The frame that asked for the hop; its ``f_back`` chain names who asked, and why."""
    depth: int
    """Calls already queued for the database thread when this one was put."""
    queued: float
    """Put in the queue: waiting for the database thread from here..."""
    started: float
    """...to here, when the thread began it..."""
    ended: float
    """...and ran it until here; then the event loop had to resume the caller..."""
    woke: float
    """...which it did here."""


class Observer(Protocol):
    """Told, synchronously and in the task concerned, what the engine is doing. Each call
    runs on the event loop in the task that did the thing, so the observer sees that
    task's context variables (and may set its own there). It must be quick, and never
    raise: an error would fail the run it observes."""

    def run_started(self, thread_id: str) -> None:
        """A runner task starts driving ``thread_id``; what it (and the tasks LangGraph
        starts from it) does until it ends belongs to that thread."""

    def slot_taken(self, priority: int, asked: float, taken: float) -> None:
        """A run got a run slot at ``priority`` (see ``engine.slots``), having asked at
        ``asked``; the same time when one was free."""

    def hop(self, hop: Hop) -> None:
        """A hop to the SQLite database thread ended (not told on PostgreSQL)."""
