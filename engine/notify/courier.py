"""The courier: delivers the outbox's notifications, at least once, off the engine's path.

It runs as one background task of an open engine. Every look claims what is due
(``Outbox.claim_due``: one process per notification), sends those at once, and records
each outcome; a failure is tried again after a wait that doubles from the target's
``retry_first`` up to its ``retry_cap``, and after ``attempts`` tries the notification
is dead (``hitl notify status``, the console's header). The engine only wakes it: the
events that queue notifications never wait for a delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from engine.notify.delivery import DeliveryFailed, deliver, http_client
from engine.notify.targets import NotifyTarget
from engine.storage.outbox import Notification, Outbox, Outcome

if TYPE_CHECKING:
    import httpx

LOOK_SECONDS = 1.0
"""How often the courier looks for notifications other processes queued (its own wake
it at once)."""


def retry_delay(target: NotifyTarget, attempts_before: int) -> float:
    """The wait before the next try, after ``attempts_before + 1`` failed ones."""
    return float(min(target.retry_cap, target.retry_first * 2**attempts_before))


def lease_seconds(notification: Notification) -> float:
    """How long a claim holds: twice the delivery's timeout, so a live sender is never
    overtaken; one that died is overtaken then (and its notification sent again)."""
    return 2 * NotifyTarget.from_json(notification.config).timeout


MAX_IN_FLIGHT = 64
"""The most deliveries one process has under way at once."""


class Courier:
    """Claims due notifications and sends each in a task of its own, so that a target
    that hangs holds up only its own deliveries; the outcomes gathered since the last
    look are recorded together, in one transaction."""

    def __init__(self, outbox: Outbox, *, environ: Mapping[str, str] = os.environ) -> None:
        self._outbox = outbox
        self._environ = environ
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._outcomes: list[Outcome] = []

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Stops at once: what was delivered is recorded; a delivery cut short is
        claimed again when its lease ends."""
        for task in (self._task, *self._in_flight):
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in (self._task, *self._in_flight) if t), return_exceptions=True
        )
        with contextlib.suppress(Exception):
            await self._settle()
        if self._client is not None:
            await self._client.aclose()

    def wake(self) -> None:
        """Something was queued here: look now rather than at the next beat."""
        self._wake.set()

    async def _look(self) -> None:
        """Records what finished, then claims what is due and starts sending it."""
        await self._settle()
        room = MAX_IN_FLIGHT - len(self._in_flight)
        if room <= 0:
            return
        claimed = await self._outbox.claim_due(time.time(), lease_seconds, limit=room)
        if claimed and self._client is None:
            self._client = await http_client()
        for notification in claimed:
            task = asyncio.create_task(self._deliver(notification))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _settle(self) -> None:
        outcomes, self._outcomes = self._outcomes, []
        if outcomes:
            try:
                await self._outbox.settle(outcomes, time.time())
            except BaseException:
                self._outcomes[:0] = outcomes  # kept for the next look
                raise

    async def _deliver(self, notification: Notification) -> None:
        target = NotifyTarget.from_json(notification.config)
        assert self._client is not None  # made before the first delivery
        try:
            await deliver(target, notification.id, notification.body, self._client, self._environ)
        except DeliveryFailed as error:
            retry_at: float | None = None
            if notification.attempts + 1 < target.attempts:
                retry_at = time.time() + retry_delay(target, notification.attempts)
            self._outcomes.append((notification, str(error), retry_at))
        else:
            self._outcomes.append((notification, None, None))
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._look()
                wait = LOOK_SECONDS
                full = len(self._in_flight) >= MAX_IN_FLIGHT  # a delivery's end wakes it
                if not full and (due := await self._outbox.next_due(time.time())) is not None:
                    wait = max(0.01, min(wait, due - time.time()))
            except asyncio.CancelledError:
                raise
            except Exception:  # the courier must outlive a transient database error
                wait = LOOK_SECONDS
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
