"""How many threads may run graph steps at once, and who goes first.

Graph steps are CPU work in one event loop. Let hundreds of threads step at once and
every await waits behind all of them: a person's approval would take seconds to act.
So runs take a slot; a run that a decision resumed is served before new work; and a
run gives its slot back while it waits on the world (the model, a tool), so slow
endpoints never hold the fleet back.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from contextvars import Context, ContextVar

from engine.observe import Observer

DECISION = 0
"""Priority of a run that applies a person's decision: first in line."""
BACKGROUND = 1
"""Priority of new threads and of resumed ones."""

_held: ContextVar[tuple[RunSlots, int] | None] = ContextVar("hitl_run_slot", default=None)
_priority: ContextVar[int] = ContextVar("hitl_priority", default=BACKGROUND)


def current_priority() -> int:
    """The priority of the work running now; the database thread serves by it."""
    return _priority.get()


def priority_in(context: Context) -> int:
    """The priority of the work whose context ``context`` is."""
    return context.get(_priority, BACKGROUND)


@contextlib.contextmanager
def urgent() -> Iterator[None]:
    """Marks the body (and the tasks it starts) as a person's decision being applied."""
    token = _priority.set(DECISION)
    try:
        yield
    finally:
        _priority.reset(token)


def applied() -> None:
    """The decision this run was resumed with is applied (its call ran and was said):
    what the run does next (the model's next turn) is background work again, in its
    slot and at the database, so that a fleet of decided threads does not crowd the
    decision's lane with work nobody waits for."""
    held = _held.get()
    if held is not None:
        _held.set((held[0], BACKGROUND))
    _priority.set(BACKGROUND)


def promote() -> None:
    """A decision arrived for this run while it was still running (it had just paused,
    and was letting go of the thread): what it does next applies that decision."""
    held = _held.get()
    if held is not None:
        _held.set((held[0], DECISION))
    _priority.set(DECISION)


class RunSlots:
    """``observer`` is told of every slot taken, and how long it was waited for."""

    def __init__(self, limit: int, observer: Observer | None = None) -> None:
        self._free = limit
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._observer = observer

    async def _acquire(self, priority: int) -> None:
        """A person's decision never waits for a slot: it may overdraw the limit, and the
        background waits until the count is back under it."""
        observer = self._observer
        asked = time.perf_counter() if observer is not None else 0.0
        if priority == DECISION or (self._free > 0 and not self._waiters):
            self._free -= 1
        else:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiters, (priority, next(self._order), future))
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._release()  # we were handed a slot as we were cancelled: pass it on
                raise
        if observer is not None:
            observer.slot_taken(priority, asked, time.perf_counter())

    def _release(self) -> None:
        self._free += 1
        while self._free > 0 and self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                self._free -= 1
                future.set_result(None)

    @contextlib.asynccontextmanager
    async def hold(self, priority: int) -> AsyncIterator[None]:
        """A slot for the body; nested code can lend it out with :func:`waiting`."""
        await self._acquire(priority)
        token = _held.set((self, priority))
        urgency = _priority.set(priority)
        try:
            yield
        finally:
            _priority.reset(urgency)
            _held.reset(token)
            self._release()


@contextlib.asynccontextmanager
async def waiting() -> AsyncIterator[None]:
    """Gives the current run's slot back while the body waits on I/O."""
    held = _held.get()
    if held is None:
        yield
        return
    slots, priority = held
    slots._release()
    try:
        yield
    finally:
        await slots._acquire(priority)


class PriorityLock:
    """An asyncio lock whose waiters get it by priority (:func:`current_priority` when
    they asked), then in arrival order: a decision's transaction takes the PostgreSQL
    connection before the background queued ahead of it. Handed from holder to waiter
    directly, so no one arriving meanwhile can take it in between."""

    def __init__(self) -> None:
        self._locked = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def locked(self) -> bool:
        return self._locked

    async def acquire(self) -> bool:
        if not self._locked and not self._waiters:
            self._locked = True
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (current_priority(), next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed the lock as we were cancelled: pass it on
            raise
        return True

    def release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)  # still locked: it is the waiter's now
                return
        self._locked = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()
