"""How fast the console shows what happens. Prints a table; never run by the tests.

1. Event to paint: 500 threads produce 200 events/s (a stand-in engine speaking the public
   API and event types, so the numbers are the console's own); for each event, the time
   from publishing it to the first screen paint after the console applied it.
2. Key to paint: ``j`` on the thread list while that stream runs.
3. Start-up to first paint with 1,000 pending approvals in a real home (a fresh process
   running ``hitl console``'s code path headless, until the sidebar shows all 1,000).

    .venv/bin/python bench/console.py [--seconds 10] [--approvals 1000]
    .venv/bin/python bench/console.py --quick   # tiny, in a scratch home: a smoke run (CI)

The paint is seen by wrapping the app's ``_display`` (Textual's, which writes a frame to
the terminal; Textual offers no public hook for it) and ``apply`` (the app's, which
applies a batch of engine events) on the one app instance measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ is on the path, the root is not
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import percentile

ROOT = Path(__file__).resolve().parent.parent
THREADS = 500
RATE = 200.0


def _ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1000


class StandInEngine:
    """The public surface the console uses, fed by a synthetic stream."""

    def __init__(self) -> None:
        from engine import ThreadView
        from engine.subscription import EventBus

        now = time.time()
        self.operator = "bench"
        self.bus = EventBus()
        self.views = [
            ThreadView(f"t{i:03d}", f"task {i}", f"task {i}", "scripted", "running", now, now)
            for i in range(THREADS)
        ]

    def subscribe(self, limit: int = 10_000) -> Any:
        return self.bus.subscribe(limit)

    async def threads(self, status: Any = None) -> list[Any]:
        return list(self.views)

    async def pending(self, thread: Any = None) -> list[Any]:
        return []

    async def history(self, thread: str) -> list[Any]:
        return []

    async def resume(self) -> list[str]:
        return []


async def stream_bench(seconds: float) -> tuple[list[float], list[float]]:
    from textual.pilot import Pilot

    from engine.events import MessageAdded, ThreadStatusChanged
    from tui.app import HitlApp
    from tui.launch import make_app
    from tui.settings import ConsoleSettings

    engine = StandInEngine()
    app: HitlApp = make_app(engine, ConsoleSettings(resume=False))  # type: ignore[arg-type]
    published: dict[int, float] = {}
    applied: list[tuple[float, list[int]]] = []
    event_latency: list[float] = []
    paints: list[float] = []
    painted = asyncio.Event()

    original_apply = app.apply

    async def apply(batch: list[Any]) -> None:
        await original_apply(batch)
        applied.append((time.perf_counter(), [id(e) for e in batch]))

    app.apply = apply  # type: ignore[method-assign]
    original_display = app._display

    def display(screen: Any, renderable: Any) -> None:
        original_display(screen, renderable)
        if renderable is None:
            return
        now = time.perf_counter()
        paints.append(now)
        painted.set()
        while applied:
            _, ids = applied.pop(0)
            for key in ids:
                if key in published:
                    event_latency.append(now - published.pop(key))

    app._display = display  # type: ignore[method-assign]

    async def produce(stop: float) -> None:
        interval, n = 1 / RATE, 0
        next_at = time.perf_counter()
        while time.perf_counter() < stop:
            view = engine.views[n % THREADS]
            if n % 10 == 0:
                status = "waiting" if view.status == "running" else "running"
                engine.views[n % THREADS] = view = replace(view, status=status)  # type: ignore[arg-type]
                event: Any = ThreadStatusChanged(view)
            else:
                event = MessageAdded(view.id, "assistant", f"step {n}", message_id=f"m{n}")
            published[id(event)] = time.perf_counter()
            engine.bus.publish(event)
            n += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    key_latency: list[float] = []
    async with app.run_test(size=(160, 45)) as pilot:
        pilot_: Pilot[Any] = pilot
        while len(app.thread_list) < THREADS:
            await pilot_.pause()
        app.thread_list.focus()
        stop = time.perf_counter() + seconds
        producer = asyncio.create_task(produce(stop))
        while time.perf_counter() < stop - 0.5:
            await asyncio.sleep(0.2)
            before = len(paints)
            pressed = time.perf_counter()
            painted.clear()
            await pilot_.press("j")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    while len(paints) == before:
                        await painted.wait()
                        painted.clear()
            if len(paints) > before:
                key_latency.append(paints[before] - pressed)
        await producer
    return event_latency, key_latency


async def seed(home: Path, approvals: int) -> None:
    from engine import Home
    from engine.engine import Engine

    async with Engine.open(Home(home), operator="bench") as engine:
        have = len(await engine.pending())
        started = [
            await engine.start(f"order {i + 1} chairs at $40") for i in range(have, approvals)
        ]
        for thread in started:
            await engine.wait(thread.id)


STARTUP_CHILD = """
import sys, time
t0 = float(sys.argv[2])
from tui.launch import console_app
from tui.settings import ConsoleSettings
from engine import Home
app = console_app(Home.resolve(sys.argv[1]), ConsoleSettings(resume=False), operator="bench")
want = int(sys.argv[3])
first = {}
original = app._display
def display(screen, renderable):
    original(screen, renderable)
    if renderable is None:
        return
    now = time.time()
    first.setdefault("frame", now)
    if "full" not in first and app.is_running and len(app.sidebar) >= want:
        first["full"] = now
        app.exit()
app._display = display
app.run(headless=True, size=(160, 45))
print(first["frame"] - t0, first["full"] - t0)
"""


def startup_bench(home: Path, approvals: int, runs: int = 3) -> list[tuple[float, float]]:
    results = []
    for _ in range(runs):
        t0 = time.time()
        done = subprocess.run(
            [sys.executable, "-c", STARTUP_CHILD, str(home), str(t0), str(approvals)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        frame, full = map(float, done.stdout.split()[-2:])
        results.append((frame, full))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--approvals", type=int, default=1000)
    parser.add_argument("--home", default=str(Path(tempfile.gettempdir()) / "hitl-bench-1000"))
    parser.add_argument("--quick", action="store_true", help="tiny, in a scratch home")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="hitl-bench-console-")) if args.quick else None
    if scratch is not None:
        args.seconds, args.approvals, args.home = 1.5, 10, str(scratch / "home")
    try:
        report(args.seconds, args.approvals, Path(args.home), runs=1 if args.quick else 3)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def report(seconds: float, approvals: int, home: Path, runs: int) -> None:
    event_latency, key_latency = asyncio.run(stream_bench(seconds))
    asyncio.run(seed(home, approvals))
    starts = startup_bench(home, approvals, runs)

    print(f"{'measure':58} {'p50 ms':>9} {'p99 ms':>9} {'n':>6}")
    print(
        f"{'event -> paint (500 threads, 200 events/s)':58} "
        f"{_ms(event_latency, 0.5):9.1f} {_ms(event_latency, 0.99):9.1f} {len(event_latency):6}"
    )
    print(
        f"{'key (j on thread list) -> paint, during the stream':58} "
        f"{_ms(key_latency, 0.5):9.1f} {_ms(key_latency, 0.99):9.1f} {len(key_latency):6}"
    )
    frames = [f for f, _ in starts]
    fulls = [f for _, f in starts]
    print(
        f"{f'start-up -> first frame (process start, {approvals:,} pending)':58} "
        f"{statistics.median(frames) * 1000:9.0f} {max(frames) * 1000:9.0f} {len(frames):6}"
    )
    print(
        f"{f'start-up -> all {approvals} approvals painted (target < 1500)':58} "
        f"{statistics.median(fulls) * 1000:9.0f} {max(fulls) * 1000:9.0f} {len(fulls):6}"
    )


if __name__ == "__main__":
    main()
