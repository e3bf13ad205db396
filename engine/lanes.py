"""A lane in the event loop for a person's decision, ahead of the background's work.

Run slots (``engine.slots``) bound how many threads step at once, and the database
thread serves a decision's work first. But every hop, every step of every task, ends
with a callback in the event loop's ready queue, which is first come, first served:
with hundreds of busy threads it holds a hundred callbacks and more, and a decided
call's run waits behind all of them at each of its hops (two turns of the queue per
hop: the answer, then the task it wakes). With :func:`install`, the loop's ready queue
has two lanes: a callback scheduled by a decision's work (see ``slots.urgent``), or
carrying the context of such work, runs before the background's. Within each lane the
order stays first come, first served, as asyncio promises.

asyncio has no public hook for this, so the lane takes the place of the ready deque of
a stock asyncio loop (``BaseEventLoop._ready``). On any other loop (uvloop) it does
nothing: a decision's callbacks then wait their turn in the loop, as before.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from engine.slots import DECISION, current_priority, priority_in


class _ReadyLanes(deque[Any]):
    """The ready queue of an asyncio loop: the loop appends, pops from the left, asks
    the length and clears; a decision's handles are popped first. ``before`` is the
    deque it replaced: a thread that read the loop's old deque just before the swap may
    still append there, so what arrives in it is taken in at the next look."""

    def __init__(self, before: deque[Any]) -> None:
        super().__init__()
        self.urgent: deque[Any] = deque()
        self.before = before

    def append(self, handle: Any) -> None:
        if current_priority() == DECISION or _carries_decision(handle):
            self.urgent.append(handle)
        else:
            super().append(handle)

    def _take_in(self) -> None:
        before = self.before
        while before:
            self.append(before.popleft())

    def popleft(self) -> Any:
        # Only the loop's thread pops; others (call_soon_threadsafe) only append.
        self._take_in()
        if self.urgent:
            return self.urgent.popleft()
        return super().popleft()

    def __len__(self) -> int:
        self._take_in()
        return super().__len__() + len(self.urgent)

    def __bool__(self) -> bool:
        return len(self) > 0

    def clear(self) -> None:
        self.before.clear()
        self.urgent.clear()
        super().clear()


def _carries_decision(handle: Any) -> bool:
    """A handle scheduled elsewhere (a timer coming due, the database thread's answer)
    for a decision's work: it runs in that work's context."""
    context = getattr(handle, "_context", None)
    return context is not None and priority_in(context) == DECISION


def install(loop: asyncio.AbstractEventLoop) -> bool:
    """Gives ``loop`` the decision's lane (once; the loop keeps it until it closes).
    False when the loop is not asyncio's own, which has no ready deque to replace."""
    ready = getattr(loop, "_ready", None)
    if isinstance(ready, _ReadyLanes):
        return True
    if type(ready) is not deque:
        return False
    # Swapped inside a callback (this one): the loop reads the attribute afresh at each
    # use, and the old deque's handles (and any appended there later) are taken in.
    loop._ready = _ReadyLanes(ready)  # type: ignore[attr-defined]
    return True
