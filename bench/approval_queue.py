"""How fast the console works through a long approval queue. Prints a table; never run by
the tests.

1. ``a`` on a 300-long queue: from the key to the first paint with the next waiting call
   under the cursor (target < 100 ms), repeated ``--presses`` times.
2. 300 bulk approvals: ``*`` marks every card, ctrl+a asks once; from pressing the
   confirm button to the first paint on which every card shows its decision (target
   < 2 s): 300 ``engine.decide`` calls and their ApprovalDecided events painted.

Both on a real engine over a real SQLite home seeded with scripted threads (each waits
on one medium-tier create_order call), in one process, headless at 160x45.

    .venv/bin/python bench/approval_queue.py [--approvals 300] [--presses 20] [--runs 3]
    .venv/bin/python bench/approval_queue.py --quick   # tiny: a smoke run (CI)

The paint is seen by wrapping the app's ``_display`` (Textual's, which writes a frame;
Textual offers no public hook for it) on the one app instance measured.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ is on the path, the root is not
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import percentile


async def seed(home: Path, approvals: int) -> None:
    from engine import Home
    from engine.engine import Engine

    async with Engine.open(Home(home), operator="bench") as engine:
        started = [await engine.start(f"order {i + 1} chairs at $40") for i in range(approvals)]
        for thread in started:
            await engine.wait(thread.id)


async def measure(home: Path, approvals: int, presses: int) -> tuple[list[float], float]:
    """Key-to-paint times of ``a``, then the time to decide and paint a bulk approval of
    what is left (``approvals - presses`` calls)."""
    from bench.console import freeze_like_the_console
    from engine import Home
    from engine.engine import Engine
    from tui.launch import make_app
    from tui.screens.confirm_bulk import ConfirmBulk
    from tui.settings import ConsoleSettings

    freeze_like_the_console()  # as the console does once the engine is imported
    settings = ConsoleSettings(
        resume=False,
        confirm_arm_seconds=0.0,
        settle_seconds=0.0,
        decided_linger_seconds=600.0,
    )
    async with Engine.open(Home(home), operator="bench") as engine:
        app = make_app(engine, settings)
        paints: list[float] = []
        painted = asyncio.Event()
        watch: list[Callable[[], bool]] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None and watch and watch[0]():
                paints.append(time.perf_counter())
                painted.set()

        app._display = display  # type: ignore[method-assign]

        def expect(holds: Callable[[], bool]) -> None:
            """Before the key: the paint may come while the key is still being pressed."""
            paints.clear()
            painted.clear()
            watch[:] = [holds]

        async def until_painted(limit: float = 30.0) -> float:
            async with asyncio.timeout(limit):
                await painted.wait()
            watch.clear()
            return paints[0]

        async with app.run_test(size=(160, 45)) as pilot:
            async with asyncio.timeout(120):
                while app.sidebar.pending_count < approvals or app.engine is None:
                    await pilot.pause()
            app.sidebar.focus()
            await pilot.pause()
            step: list[float] = []
            for _ in range(presses):
                before = app.sidebar.cursor

                def moved(before: str | None = before) -> bool:
                    return app.sidebar.cursor not in (None, before)

                expect(moved)
                pressed = time.perf_counter()
                await pilot.press("a")
                at = await until_painted()
                step.append(at - pressed)
            await pilot.pause()
            await pilot.press("asterisk", "ctrl+a")
            async with asyncio.timeout(30):
                while not isinstance(app.screen, ConfirmBulk) or not app.screen.armed:
                    await pilot.pause()
            marked = list(app.sidebar.marked)
            app.screen.query_one("#confirm").focus()

            def all_decided() -> bool:
                rows = [app.sidebar.get(key) for key in marked]
                return all(row is not None and row.status != "pending" for row in rows)

            expect(all_decided)
            pressed = time.perf_counter()
            await pilot.press("enter")
            at = await until_painted(limit=120.0)
            bulk = at - pressed
    return step, bulk


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--approvals", type=int, default=300)
    parser.add_argument("--presses", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.approvals, args.presses, args.runs = 12, 3, 1
    steps: list[float] = []
    bulks: list[float] = []
    scratch = Path(tempfile.mkdtemp(prefix="hitl-bench-queue-"))
    try:
        for run in range(args.runs):
            home = scratch / f"home{run}"
            asyncio.run(seed(home, args.approvals + args.presses))
            step, bulk = asyncio.run(measure(home, args.approvals + args.presses, args.presses))
            steps += step
            bulks.append(bulk)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    n = args.approvals
    print(f"{'measure':58} {'p50 ms':>9} {'worst ms':>9} {'n':>6}")
    print(
        f"{f'a on a {n}-long queue -> next call painted (target < 100)':58} "
        f"{percentile(steps, 0.5) * 1000:9.1f} {max(steps) * 1000:9.1f} {len(steps):6}"
    )
    print(
        f"{f'{n} bulk approvals decided and painted (target < 2000)':58} "
        f"{percentile(bulks, 0.5) * 1000:9.0f} {max(bulks) * 1000:9.0f} {len(bulks):6}"
    )


if __name__ == "__main__":
    main()
