"""The first paint comes from the home's plain rows, before the engine (and LangGraph) opens."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from engine import Home
from engine.engine import Engine
from tui.launch import home_reader

from .helpers import running_console, wait_until


async def test_approvals_in_the_home_show_before_the_engine_opens(
    engine: Engine, home: Home
) -> None:
    for task in ("email the Q3 report to boss@company.com", "transfer $5000 to acct-991"):
        thread = await engine.start(task)
        await engine.wait(thread.id)
    engine_may_open = asyncio.Event()
    opened = False

    @contextlib.asynccontextmanager
    async def slow_engine() -> AsyncIterator[Engine]:
        nonlocal opened
        await engine_may_open.wait()
        opened = True
        yield engine

    async with running_console(slow_engine, read_home=home_reader(home)) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 2, "the approvals from the rows")
        assert not opened and app.engine is None
        assert [a.tool for a in app.sidebar.rows] == ["send_email", "transfer_money"]
        assert app.header.pending == 2
        assert app.header.state == "opening the engine…"
        assert len(app.thread_list) == 2
        assert app.pane.thread is not None and app.pane.awaiting_history

        engine_may_open.set()
        await wait_until(pilot, lambda: app.engine is not None, "the engine")
        await wait_until(
            pilot, lambda: "waits for approval" in app.pane.story_text, "the story, from the engine"
        )
        assert app.header.state == ""
        assert len(app.sidebar) == 2


async def test_a_home_that_does_not_exist_yet_is_skipped(tmp_path: Path) -> None:
    assert await home_reader(Home(tmp_path / "nowhere"))() is None
