"""Waiting on what a person would see, never on the clock."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

from textual.pilot import Pilot

from engine.engine import Engine
from tui.app import HitlApp
from tui.launch import make_app
from tui.settings import ConsoleSettings
from tui.sources import EngineOpener, ReadHome

TEST_SETTINGS = ConsoleSettings(
    frame_seconds=0.0,
    decided_linger_seconds=120.0,
    confirm_arm_seconds=0.2,
    settle_seconds=0.0,
    tick_seconds=60.0,
    resume=False,
)
"""Decided cards stay put (so a test can see them), events apply at once."""

EMAIL = "email the Q3 report to boss@company.com"
TRANSFER = "transfer $5000 to acct-991"


async def paused(engine: Engine, task: str) -> str:
    """Starts ``task`` and returns its thread id once it has paused (or ended)."""
    thread = await engine.start(task)
    await engine.wait(thread.id)
    return thread.id


async def wait_until(
    pilot: Pilot[Any], predicate: Callable[[], object], what: str, limit: float = 15.0
) -> None:
    """Lets the app and the engine run until ``predicate()`` holds; fails naming ``what``."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause()


SIZE = (160, 45)
"""The terminal the console tests and the snapshots run in."""


@contextlib.asynccontextmanager
async def running_console(
    engine: Engine | EngineOpener,
    *,
    notifications: bool = False,
    read_home: ReadHome | None = None,
    size: tuple[int, int] = SIZE,
    **changes: Any,
) -> AsyncIterator[tuple[HitlApp, Pilot[int]]]:
    """The console as the CLI builds it (``make_app``), on ``engine``, with the test
    settings and ``changes`` to them, running in a ``size`` terminal (:data:`SIZE`).
    ``notifications``: show toasts, as a person would see them."""
    app = make_app(engine, replace(TEST_SETTINGS, **changes), read_home=read_home)
    async with app.run_test(size=size, notifications=notifications) as pilot:
        yield app, pilot


async def wait_for_notice(
    pilot: Pilot[Any],
    app: HitlApp,
    what: str,
    *says: str,
    title: str = "",
    severity: str = "",
) -> None:
    """Waits until a toast is shown whose title contains ``title``, whose severity is
    ``severity`` (if given) and whose message contains every phrase of ``says``."""
    await wait_until(
        pilot,
        lambda: any(
            title in n.title
            and severity in ("", n.severity)
            and all(phrase in n.message for phrase in says)
            for n in app._notifications
        ),
        what,
    )
