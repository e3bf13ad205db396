"""What the engine says happened: one frozen dataclass per event, each with a stable kind.

Every event is also written to the engine's journal under its ``KIND``, so another
process on the same home sees it too (its engine tails the journal and republishes
what it did not originate), and a thread's history reads back as the same events.
The ``@event_kind`` decorator on each class is the one list of events: the journal
encoding (``engine.event_codec``) and its tests are built from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from engine.views import ApprovalView, ThreadView


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """What every event carries: where it happened, its place in the journal, and when."""

    KIND: ClassVar[str] = ""
    """The journal's name for this event; never changes once released (see event_kind)."""

    thread_id: str | None = field(default=None, init=False)
    """The thread it happened to (None only for EventsDropped)."""
    seq: int = 0
    """The journal's sequence number: one event, wherever it is seen (published here, tailed
    from another process, read back in a history) has the same seq. 0 for an event that
    is not journaled: one being made, and EventsDropped, which only a subscription makes."""
    at: float = field(default_factory=time.time)
    """When it happened (epoch seconds): when the engine made it, as its journal row says."""


E = TypeVar("E", bound=Event)

EVENT_TYPES: dict[str, type[Event]] = {}
"""Every event class, by its kind."""


def event_kind(kind: str) -> Callable[[type[E]], type[E]]:
    """Registers an event class under ``kind``, the name its journal rows carry.

    A kind is released with the journal format and never changes: a row written by
    any version, older or newer, decodes wherever the kind is known. The kinds were the
    class names when the journal was first released, and stay those strings whatever
    the classes are called later."""

    def register(cls: type[E]) -> type[E]:
        if kind in EVENT_TYPES:
            raise ValueError(f"event kind {kind!r} is taken")
        cls.KIND = kind
        EVENT_TYPES[kind] = cls
        return cls

    return register


@dataclass(frozen=True, slots=True)
class ThreadEvent(Event):
    """A thread changed; ``thread`` is how it is now."""

    thread: ThreadView

    def __post_init__(self) -> None:
        object.__setattr__(self, "thread_id", self.thread.id)


@dataclass(frozen=True, slots=True)
class ApprovalEvent(Event):
    """Something happened to an approval; ``approval`` is how it is now."""

    approval: ApprovalView

    def __post_init__(self) -> None:
        object.__setattr__(self, "thread_id", self.approval.thread_id)


@event_kind("ThreadStarted")
@dataclass(frozen=True, slots=True)
class ThreadStarted(ThreadEvent):
    pass


@event_kind("MessageAdded")
@dataclass(frozen=True, slots=True)
class MessageAdded(Event):
    """A message in a thread: ``role`` is user, assistant or tool."""

    thread_id: str
    role: str
    content: str
    tool_calls: tuple[dict[str, Any], ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    message_id: str | None = None


@event_kind("ApprovalRequested")
@dataclass(frozen=True, slots=True)
class ApprovalRequested(ApprovalEvent):
    pass


@event_kind("ApprovalDecided")
@dataclass(frozen=True, slots=True)
class ApprovalDecided(ApprovalEvent):
    """A decision was recorded; ``final`` is false for the first of two approvals."""

    decision: str
    operator: str
    final: bool


@event_kind("ToolExecuted")
@dataclass(frozen=True, slots=True)
class ToolExecuted(Event):
    thread_id: str
    tool_call_id: str
    tool: str
    args: dict[str, Any]
    result: str
    ok: bool
    gated: bool = False


@event_kind("CallDenied")
@dataclass(frozen=True, slots=True)
class CallDenied(Event):
    """The policy denies this call; it did not run and nobody was asked."""

    thread_id: str
    tool_call_id: str
    tool: str
    args: dict[str, Any]
    reason: str


@event_kind("ApprovalExpiring")
@dataclass(frozen=True, slots=True)
class ApprovalExpiring(ApprovalEvent):
    """Nobody has decided this approval, and it will be rejected at ``expires_at``."""


@event_kind("ThreadStatusChanged")
@dataclass(frozen=True, slots=True)
class ThreadStatusChanged(ThreadEvent):
    """The thread moved between running, waiting and unknown."""


@event_kind("ThreadFinished")
@dataclass(frozen=True, slots=True)
class ThreadFinished(ThreadEvent):
    pass


@event_kind("ThreadFailed")
@dataclass(frozen=True, slots=True)
class ThreadFailed(ThreadEvent):
    pass


@event_kind("ApprovalWithdrawn")
@dataclass(frozen=True, slots=True)
class ApprovalWithdrawn(ApprovalEvent):
    """The thread went on without this card (resumed elsewhere): nothing was sent."""

    reason: str


@event_kind("NodeUpdated")
@dataclass(frozen=True, slots=True)
class NodeUpdated(Event):
    """A step of a graph whose state has no messages: what ``node`` wrote, in short."""

    thread_id: str
    node: str
    update: str
    """The node's update as compact JSON, cut to a readable length."""


@event_kind("EventsDropped")
@dataclass(frozen=True, slots=True)
class EventsDropped(Event):
    """This subscriber fell behind and lost ``count`` events; re-read the state.

    Made by a subscription, never journaled: its ``seq`` is 0 and its ``thread_id`` None.
    """

    count: int


@event_kind("SourceUnreachable")
@dataclass(frozen=True, slots=True)
class SourceUnreachable(Event):
    """The server the threads live on (``hitl --server``) did not answer; what the home
    has is still shown and decided, and it is asked again in ``retry_seconds``. Made
    by this process for its own subscribers, never journaled. ``why``: the server's
    refusal in a line (a key it stopped taking), else it did not answer."""

    url: str
    retry_seconds: float
    why: str = ""


@event_kind("SourceReachable")
@dataclass(frozen=True, slots=True)
class SourceReachable(Event):
    """The server answers again, after a ``SourceUnreachable``. Never journaled."""

    url: str
