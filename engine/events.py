"""What the engine says happened, and the subscription that fans it out.

Every event is also written to the engine's journal, so another process on the same
home sees it too (its engine tails the journal and republishes what it did not
originate).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from engine.views import ApprovalView, ThreadView


@dataclass(frozen=True, slots=True)
class ThreadStarted:
    thread: ThreadView


@dataclass(frozen=True, slots=True)
class MessageAdded:
    """A message in a thread: ``role`` is user, assistant or tool."""

    thread_id: str
    role: str
    content: str
    tool_calls: tuple[dict[str, Any], ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalRequested:
    approval: ApprovalView


@dataclass(frozen=True, slots=True)
class ApprovalDecided:
    """A decision was recorded; ``final`` is false for the first of two approvals."""

    approval: ApprovalView
    decision: str
    operator: str
    final: bool


@dataclass(frozen=True, slots=True)
class ToolExecuted:
    thread_id: str
    tool_call_id: str
    tool: str
    args: dict[str, Any]
    result: str
    ok: bool
    gated: bool = False


@dataclass(frozen=True, slots=True)
class CallDenied:
    """The policy denies this call; it did not run and nobody was asked."""

    thread_id: str
    tool_call_id: str
    tool: str
    args: dict[str, Any]
    reason: str


@dataclass(frozen=True, slots=True)
class ApprovalExpiring:
    """Nobody has decided this approval, and it will be rejected at ``expires_at``."""

    approval: ApprovalView


@dataclass(frozen=True, slots=True)
class ThreadStatusChanged:
    """The thread moved between running, waiting and unknown."""

    thread: ThreadView


@dataclass(frozen=True, slots=True)
class ThreadFinished:
    thread: ThreadView


@dataclass(frozen=True, slots=True)
class ThreadFailed:
    thread: ThreadView


@dataclass(frozen=True, slots=True)
class EventsDropped:
    """This subscriber fell behind and lost ``count`` events; re-read the state."""

    count: int


Event = (
    ThreadStarted
    | MessageAdded
    | ApprovalRequested
    | ApprovalDecided
    | ToolExecuted
    | CallDenied
    | ApprovalExpiring
    | ThreadStatusChanged
    | ThreadFinished
    | ThreadFailed
    | EventsDropped
)

_TYPES: dict[str, type[Any]] = {
    t.__name__: t
    for t in (
        ThreadStarted,
        MessageAdded,
        ApprovalRequested,
        ApprovalDecided,
        ToolExecuted,
        CallDenied,
        ApprovalExpiring,
        ThreadStatusChanged,
        ThreadFinished,
        ThreadFailed,
    )
}
_NESTED: dict[str, type[Any]] = {"thread": ThreadView, "approval": ApprovalView}


def event_thread_id(event: Event) -> str | None:
    if isinstance(event, MessageAdded | ToolExecuted | CallDenied):
        return event.thread_id
    if isinstance(event, ApprovalRequested | ApprovalDecided | ApprovalExpiring):
        return event.approval.thread_id
    if isinstance(event, ThreadStarted | ThreadStatusChanged | ThreadFinished | ThreadFailed):
        return event.thread.id
    return None


def to_record(event: Event) -> tuple[str, str | None, dict[str, Any]]:
    """(kind, dedup key, JSON-able body) for the journal.

    Every ToolExecuted is kept, even for a call that ran before: a low-tier call re-run
    after a crash, or an outcome-unknown call re-run on purpose, did run again."""
    key = None
    if isinstance(event, MessageAdded) and event.message_id:
        key = f"message:{event.message_id}"
    elif isinstance(event, CallDenied):  # a re-run of the node denies it again: once
        key = f"denied:{event.tool_call_id}"
    return type(event).__name__, key, _plain(event)


def _plain(value: Any) -> Any:
    """A dataclass as JSON-able dicts; shallow where ``dataclasses.asdict`` deep-copies
    (events are frozen and serialised at once, so nothing can change underneath)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def from_record(kind: str, body: dict[str, Any]) -> Event | None:
    """The event a journal row holds; None for kinds this version does not know."""
    cls = _TYPES.get(kind)
    if cls is None:
        return None
    values = dict(body)
    for name, nested in _NESTED.items():
        if isinstance(values.get(name), dict):
            inner = dict(values[name])
            if nested is ApprovalView:
                inner["approvers"] = tuple(inner.get("approvers", ()))
                inner["rules"] = tuple(inner.get("rules", ()))
            values[name] = nested(**inner)
    if "tool_calls" in values:
        values["tool_calls"] = tuple(values["tool_calls"])
    event: Event = cls(**values)
    return event


class Subscription:
    """An async iterator of events with a bounded buffer.

    The engine never waits for a subscriber: when the buffer is full the oldest events
    are dropped and the subscriber gets one :class:`EventsDropped` telling it to re-read.
    """

    def __init__(self, bus: EventBus, limit: int) -> None:
        self._bus = bus
        self._buffer: deque[Event] = deque()
        self._limit = limit
        self._dropped = 0
        self._wakeup = asyncio.Event()
        self._closed = False

    def _push(self, event: Event) -> None:
        if len(self._buffer) >= self._limit:
            self._buffer.popleft()
            self._dropped += 1
        self._buffer.append(event)
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._bus._subscribers.discard(self)
        self._wakeup.set()

    def drain(self) -> list[Event]:
        """Everything buffered now, without waiting (for per-frame batching)."""
        events: list[Event] = []
        if self._dropped:
            events.append(EventsDropped(self._dropped))
            self._dropped = 0
        events.extend(self._buffer)
        self._buffer.clear()
        self._wakeup.clear()
        return events

    async def batches(self) -> AsyncIterator[list[Event]]:
        """Yields whatever has accumulated each time something arrives."""
        while not self._closed:
            if not self._buffer and not self._dropped:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            yield self.drain()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        async for batch in self.batches():
            for event in batch:
                yield event

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Fan-out to every subscription; publishing never blocks."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def subscribe(self, limit: int = 10_000) -> Subscription:
        subscription = Subscription(self, limit)
        self._subscribers.add(subscription)
        return subscription

    def publish(self, event: Event) -> None:
        for subscription in list(self._subscribers):
            subscription._push(event)
