"""One flag, one duty: each of the watcher's duties runs, or not, on its own switch."""

from __future__ import annotations

import asyncio
import time

from engine import Home
from engine.engine import Engine
from engine.events import ApprovalDecided, ApprovalExpiring, Event, ThreadStarted
from engine.policy_file import DEFAULT_POLICY_TOML
from engine.watcher import WATCH_SECONDS

EMAIL = "email the Q3 report to boss@company.com"


def _quick_expiry(home: Home) -> None:
    home.create()
    home.policy_file.write_text(
        DEFAULT_POLICY_TOML.replace('expires_after = "24h"\nwarn_before = "10m"', "").replace(
            "[tiers.medium]\napprovals = 1",
            "[tiers.medium]\napprovals = 1\nexpires_after = 1.0\nwarn_before = 0.6",
        )
    )


async def test_expiry_on_time_runs_with_every_other_duty_off(home: Home) -> None:
    _quick_expiry(home)
    async with Engine.open(
        home, follow_journal=False, warn_expiring=False, apply_stranded_decisions=False
    ) as engine:
        with engine.subscribe() as events:
            thread = await engine.start(EMAIL)
            seen: list[Event] = []
            async with asyncio.timeout(10):
                async for event in events:
                    seen.append(event)
                    if isinstance(event, ApprovalDecided):
                        break
        decided = seen[-1]
        assert isinstance(decided, ApprovalDecided)
        assert (decided.decision, decided.operator) == ("expire", "policy:expiry")
        assert not [e for e in seen if isinstance(e, ApprovalExpiring)]  # warnings were off
        await engine.wait(thread.id)
        assert not list(home.outbox.glob("*.eml"))


async def test_warnings_run_with_expiry_on_time_off(home: Home) -> None:
    _quick_expiry(home)
    async with Engine.open(home, expire_on_time=False) as engine:
        with engine.subscribe() as events:
            thread = await engine.start(EMAIL)
            async with asyncio.timeout(10):
                async for event in events:
                    if isinstance(event, ApprovalExpiring):
                        break
        [approval] = await engine.pending(thread.id)
        assert approval.expires_at is not None
        await asyncio.sleep(approval.expires_at - time.time() + 4 * WATCH_SECONDS)
        assert (await engine.approval(approval.id)).status == "pending"  # nobody expired it


async def test_another_processs_events_arrive_only_where_the_journal_is_followed(
    home: Home,
) -> None:
    async with (
        Engine.open(
            home, warn_expiring=False, expire_on_time=False, apply_stranded_decisions=False
        ) as follower,
        Engine.open(home, follow_journal=False) as deaf,
        Engine.open(home, follow_journal=False) as starter,
    ):
        with follower.subscribe() as followed, deaf.subscribe() as unfollowed:
            thread = await starter.start(EMAIL)
            async with asyncio.timeout(10):
                async for event in followed:
                    if isinstance(event, ThreadStarted) and event.thread.id == thread.id:
                        break
            await asyncio.sleep(4 * WATCH_SECONDS)  # beats enough for the deaf one to look
            assert not unfollowed.drain()
        await starter.wait(thread.id)
