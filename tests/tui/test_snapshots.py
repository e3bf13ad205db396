"""Pictures of the main screen, the editor showing an error, and the high-risk confirmation.

Deterministic: the scripted model, tasks run one after another before the console opens,
a FixedClock for ages and times, ids hidden (the engine makes them random), no blinking.
Look at a new snapshot as a picture before accepting it (``--snapshot-update``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from engine import Home
from engine.engine import Engine
from tui.app import HitlApp
from tui.clock import FixedClock
from tui.launch import make_app
from tui.screens.confirm import ConfirmHighRisk
from tui.screens.edit import EditScreen
from tui.screens.thread_view import ThreadViewScreen
from tui.settings import ConsoleSettings
from tui.widgets.json_editor import JsonEditor

from .helpers import SIZE, wait_until

TASKS = (
    "email the Q3 report to boss@company.com",
    "transfer $5000 to acct-991",
    "search for invoices",
    "order 5 laptops at $900",
)


def snapshot_app(tmp_path: Path) -> HitlApp:
    @contextlib.asynccontextmanager
    async def seeded() -> AsyncIterator[Engine]:
        async with Engine.open(Home(tmp_path / "home"), operator="alice") as engine:
            for task in TASKS:
                thread = await engine.start(task)
                await engine.wait(thread.id)
            yield engine

    settings = ConsoleSettings(
        clock=FixedClock(),
        show_ids=False,
        cursor_blink=False,
        resume=False,
        frame_seconds=0.0,
        tick_seconds=3600.0,
        confirm_arm_seconds=3600.0,
        settle_seconds=0.0,
    )
    return make_app(seeded, settings)


def ready(then: Callable[[Pilot[Any]], Any] | None = None) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, HitlApp)
        await wait_until(pilot, lambda: len(app.sidebar) == 3, "three approvals")
        await wait_until(pilot, lambda: not app.pane.awaiting_history, "the story")
        if then is not None:
            await then(pilot)
        await pilot.pause()

    return run_before


def test_main_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(snapshot_app(tmp_path), terminal_size=SIZE, run_before=ready())


def test_editor_with_an_error(snap_compare: Any, tmp_path: Path) -> None:
    async def open_editor(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, HitlApp)
        app.sidebar.focus()
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), "the editor")
        editor = app.screen.query_one(JsonEditor)
        editor.text_area.load_text(
            '{\n  "to": "boss-at-company.com",\n  "subject": "Q3 report",\n  "body": "Hi"\n}'
        )
        await pilot.pause()

    app = snapshot_app(tmp_path)
    assert snap_compare(app, terminal_size=SIZE, run_before=ready(open_editor))


def test_high_risk_confirmation(snap_compare: Any, tmp_path: Path) -> None:
    async def confirm(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, HitlApp)
        app.sidebar.focus()
        await pilot.press("j", "a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmHighRisk), "the dialog")

    app = snapshot_app(tmp_path)
    assert snap_compare(app, terminal_size=SIZE, run_before=ready(confirm))


async def _approvals_tab(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, HitlApp)
    while app.focused is not app.sidebar:  # narrow: tab draws the next region
        await pilot.press("tab")
        await pilot.pause()


@pytest.mark.parametrize(
    ("size", "then"),
    [((80, 24), _approvals_tab), ((120, 35), None), ((200, 50), None)],
    ids=["80x24-approvals", "120x35", "200x50"],
)
def test_main_screen_at(
    snap_compare: Any,
    tmp_path: Path,
    size: tuple[int, int],
    then: Callable[[Pilot[Any]], Any] | None,
) -> None:
    """Below 120 columns one region (here the approvals and the Call panel) with tabs;
    from 120 the three regions, the thread list as wide as its titles need."""
    assert snap_compare(snapshot_app(tmp_path), terminal_size=size, run_before=ready(then))


def test_thread_view_at_80x24(snap_compare: Any, tmp_path: Path) -> None:
    """The full-screen thread view of the waiting email: the header with the call that
    waits, the story, the pager's hint line and its keys."""

    async def open_view(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, HitlApp)
        app.action_view_thread()
        await wait_until(pilot, lambda: isinstance(app.screen, ThreadViewScreen), "the view")
        screen = app.screen
        await wait_until(pilot, lambda: len(screen.entries) >= 3, "the story")  # type: ignore[attr-defined]
        await pilot.pause()

    app = snapshot_app(tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready(open_view))
