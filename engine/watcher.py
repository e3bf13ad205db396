"""What an open engine does on its own, on a beat: the cross-process duties.

Several processes may share a home. Each one's watcher follows the shared journal (so
its subscribers see what the others did), warns before approvals expire, rejects them
when nobody decided in time, and runs threads whose decisions another process recorded
but could not apply. Each duty has its own switch. None is needed for correctness:
a decision checks its deadline itself, and opening a home expires what is overdue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from engine.event_codec import decode
from engine.events import ApprovalDecided, ApprovalExpiring, Event
from engine.judge import EXPIRY_OPERATOR, expire
from engine.policy import Policy
from engine.runner import Publish, Runner
from engine.slots import urgent
from engine.storage.approvals import Approvals
from engine.storage.journal import TailCursor
from engine.storage.store import Store
from engine.views import ApprovalView

WATCH_SECONDS = 0.25
"""How often an engine looks at the shared journal for other processes' changes."""


class Watcher:
    """Expiry, on demand and (``expire_on_time``) on a beat, and the other duties,
    each switched by the flag of its name."""

    def __init__(
        self,
        store: Store,
        policy: Policy,
        runner: Runner,
        publish: Publish,
        fan_out: Callable[[Event], None],
        *,
        follow_journal: bool = True,
        warn_expiring: bool = True,
        expire_on_time: bool = True,
        apply_stranded_decisions: bool = True,
    ) -> None:
        self._store = store
        self._policy = policy
        self._runner = runner
        self._publish = publish
        self._fan_out = fan_out
        self._follow_journal = follow_journal
        self._warn_expiring = warn_expiring
        self._expire_on_time = expire_on_time
        self._apply_stranded = apply_stranded_decisions
        self._journal = TailCursor()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Starts the beat (if any duty is on), following the journal from now on."""
        self._journal = await self._store.journal.head()
        duties = (
            self._follow_journal,
            self._warn_expiring,
            self._expire_on_time,
            self._apply_stranded,
        )
        if any(duties):
            self._task = asyncio.create_task(self._watch())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def expire_overdue(self, *, kick: bool) -> None:
        """Rejects approvals nobody decided in time (fail-closed). ``kick``: run their
        threads now to tell the model; else whoever runs them next does."""
        now = time.time()
        for approval in await self._store.approvals.expired(now):
            await self.expire(approval, now, kick=kick)

    async def expire(self, approval: ApprovalView, now: float, *, kick: bool) -> None:
        outcome = expire(approval, now)
        written = await self._publish(
            ApprovalDecided(outcome.approval, outcome.kind, EXPIRY_OPERATOR, True),
            also=[Approvals.expiry_statement(approval, outcome.approval, now)],
        )
        if written is not None and kick:
            self._runner.kick(approval.thread_id)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                if self._follow_journal:
                    await self._tail_journal()
                if self._warn_expiring:
                    await self._warn_before_expiry()
                if self._expire_on_time:
                    await self.expire_overdue(kick=True)
                if self._apply_stranded:
                    await self._kick_stranded()
            except asyncio.CancelledError:
                raise
            except Exception:  # the watcher must outlive a transient database error
                await asyncio.sleep(1.0)

    async def _tail_journal(self) -> None:
        """Republishes here the events other processes wrote to the journal."""
        self._journal, rows = await self._store.journal.since(self._journal)
        for row in rows:
            if (event := decode(row)) is not None:
                self._fan_out(event)

    async def _warn_before_expiry(self) -> None:
        """Warns, once per approval across processes, before it expires."""
        windows = {
            str(tier): settings.warn_before
            for tier, settings in self._policy.settings.items()
            if settings.warn_before
        }
        for approval in await self._store.approvals.claim_warnings(time.time(), windows):
            await self._publish(ApprovalExpiring(approval))

    async def _kick_stranded(self) -> None:
        """Runs threads with decisions nobody applied: another process's, or one a
        crash left behind."""
        for thread_id in await self._store.approvals.threads_with_unapplied():
            if not self._runner.running(thread_id):
                with urgent():  # another process's decision: as urgent as ours
                    self._runner.kick(thread_id)
