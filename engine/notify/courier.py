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

from engine.notify.delivery import DeliveryFailed, deliver
from engine.notify.targets import NotifyTarget
from engine.storage.outbox import Notification, Outbox

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


class Courier:
    def __init__(self, outbox: Outbox, *, environ: Mapping[str, str] = os.environ) -> None:
        self._outbox = outbox
        self._environ = environ
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Stops at once; a delivery cut short is claimed again when its lease ends."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def wake(self) -> None:
        """Something was queued here: look now rather than at the next beat."""
        self._wake.set()

    async def deliver_due(self) -> int:
        """One look: claims and delivers what is due; returns how many were delivered."""
        claimed = await self._outbox.claim_due(time.time(), lease_seconds)
        results = await asyncio.gather(*(self._deliver(n) for n in claimed))
        return sum(results)

    async def _deliver(self, notification: Notification) -> bool:
        target = NotifyTarget.from_json(notification.config)
        try:
            await deliver(target, notification.id, notification.body, self._environ)
        except DeliveryFailed as error:
            retry_at: float | None = None
            if notification.attempts + 1 < target.attempts:
                retry_at = time.time() + retry_delay(target, notification.attempts)
            await self._outbox.failed(notification, str(error), retry_at)
            return False
        await self._outbox.delivered(notification, time.time())
        return True

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.deliver_due()
                wait = LOOK_SECONDS
                if (due := await self._outbox.next_due()) is not None:
                    wait = max(0.01, min(wait, due - time.time()))
            except asyncio.CancelledError:
                raise
            except Exception:  # the courier must outlive a transient database error
                wait = LOOK_SECONDS
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
