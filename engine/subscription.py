"""The fan-out of events to subscribers: bounded, and never blocking the engine."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from engine.events import Event, EventsDropped


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
