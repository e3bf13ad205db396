"""How fast the console shows what happens, under the issue's load. Prints a table; never
run by the tests.

The stream: 500 threads and 300 waiting calls (a stand-in engine speaking the public API
and event types, so the numbers are the console's own), 200 events/s: per 20 events one
new waiting call and one decided by another operator (so about 300 keep waiting), two
thread status changes, the rest messages.

1. Event to paint: for each event, from publishing it to the first screen paint after
   the console applied it.
2. Key to paint while the stream runs: ``j`` on the thread list (the first half of
   ``--seconds``), then ``a`` on the queue (the second half): from the key to the first
   paint with the cursor on the next row / the next waiting call.
3. RSS: ``--rss-events`` more events (200,000; ``--hour``: 720,000, an hour at 200/s)
   fed as fast as the console applies them (in chunks of 1,000, none dropped), RSS read
   every 100,000; then ``j`` and ``a`` again, to see what the long run left behind.
4. Start-up to first paint with 1,000 pending approvals in a real home (a fresh process
   running ``hitl console``'s code path headless, until the sidebar shows all 1,000).

    .venv/bin/python bench/console.py [--seconds 20] [--rss-events 200000] [--hour]
    .venv/bin/python bench/console.py --quick   # tiny, in a scratch home: a smoke run (CI)

The paint is seen by wrapping the app's ``_display`` (Textual's, which writes a frame to
the terminal; Textual offers no public hook for it) and ``apply`` (the app's, which
applies a batch of engine events) on the one app instance measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ is on the path, the root is not
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import percentile

ROOT = Path(__file__).resolve().parent.parent
THREADS = 500
RATE = 200.0
APPROVALS = 300
UNPAINTED = 2.0
"""Seconds a key waits for its paint; a key not painted by then counts as this long."""
HOUR = int(RATE * 3600)
"""An hour of the stream: 720,000 events."""


def _ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1000 if values else float("nan")


def freeze_like_the_console() -> None:
    """What ``hitl console`` does once its imports are in (``tui.launch``): without it, the
    collector's full passes over the imports (~100 ms each here) land on a key's paint,
    a pause the console a person runs does not have."""
    from engine.cli import freeze_import_garbage

    gc.collect()
    freeze_import_garbage()


def rss_mb() -> float:
    """This process's resident set now (not its peak), from /proc."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


class StandInEngine:
    """The public surface the console uses, fed by a synthetic stream: 500 threads, and
    300 calls waiting (medium tier, each in its own thread) that ``decide`` settles
    as the engine would, with an ApprovalDecided event."""

    def __init__(self) -> None:
        from engine import ThreadView
        from engine.subscription import EventBus

        now = time.time()
        self.operator = "bench"
        self.policy_digest = ""
        self.graphs: list[str] = []
        self.bus = EventBus()
        self.views = [
            ThreadView(f"t{i:03d}", f"task {i}", f"task {i}", "scripted", "running", now, now)
            for i in range(THREADS)
        ]
        self.waiting: dict[str, Any] = {}
        self.asked = 0
        for _ in range(APPROVALS):
            self.ask(now)

    def ask(self, now: float) -> Any:
        """A new waiting call, in a thread of its own (round the 500)."""
        from engine import ApprovalView

        n = self.asked
        self.asked += 1
        args = {"item": "chairs", "quantity": n + 1, "unit_price": 40}
        approval = ApprovalView(
            id=f"ap{n:07d}",
            thread_id=self.views[n % THREADS].id,
            kind="tool_approval",
            tool_call_id=f"call{n}",
            tool="create_order",
            args=args,
            original_args=args,
            description="Order supplies.",
            tier="medium",
            reason="orders need a look",
            required=1,
            received=0,
            status="pending",
            created_at=now,
            interrupt_id=f"int{n}",
        )
        self.waiting[approval.id] = approval
        return approval

    def settle(self, approval_id: str, operator: str) -> Any:
        approval = self.waiting.pop(approval_id)
        return replace(
            approval,
            status="approved",
            received=1,
            decided_by=operator,
            decided_at=time.time(),
            decision={"type": "approve"},
        )

    def subscribe(self, limit: int = 10_000) -> Any:
        return self.bus.subscribe(limit)

    async def threads(self, status: Any = None) -> list[Any]:
        return list(self.views)

    async def pending(self, thread: Any = None) -> list[Any]:
        return list(self.waiting.values())

    async def history(self, thread: str) -> list[Any]:
        return []

    async def resume(self) -> list[str]:
        return []

    async def notification_counts(self) -> dict[str, int]:
        return {}

    async def decide(self, approval_id: str, decision: Any, operator: str | None = None) -> Any:
        from engine.events import ApprovalDecided

        if approval_id not in self.waiting:
            from engine import HitlError

            raise HitlError(f"approval {approval_id} is not pending")
        decided = self.settle(approval_id, operator or self.operator)
        self.bus.publish(ApprovalDecided(decided, "approve", decided.decided_by, True))
        return decided


class Stream:
    """The issue's workload as events: per 20, one new waiting call and (while 300 or
    more wait) one decided by another operator, two thread status changes, and the
    rest messages."""

    def __init__(self, engine: StandInEngine) -> None:
        self.engine = engine
        self.n = 0
        self.pick = random.Random(13)

    def next(self) -> Any:
        from engine import ThreadStatus
        from engine.events import (
            ApprovalDecided,
            ApprovalRequested,
            MessageAdded,
            ThreadStatusChanged,
        )

        engine, n = self.engine, self.n
        self.n += 1
        if n % 20 == 0:
            return ApprovalRequested(engine.ask(time.time()))
        if n % 20 == 10 and len(engine.waiting) >= APPROVALS:
            key = self.pick.choice(list(engine.waiting))
            return ApprovalDecided(engine.settle(key, "bob"), "approve", "bob", True)
        view = engine.views[n % THREADS]
        if n % 10 == 5:
            status: ThreadStatus = "waiting" if view.status == "running" else "running"
            engine.views[n % THREADS] = view = replace(view, status=status)
            return ThreadStatusChanged(view)
        return MessageAdded(view.id, "assistant", f"step {n}", message_id=f"m{n}")


class Probe:
    """The paints of the one app measured: Textual's ``_display`` (which writes a frame;
    Textual offers no public hook for it) and the app's ``apply`` (a batch of events)
    wrapped on that instance."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.published: dict[int, float] = {}
        self.applied: list[list[int]] = []
        self.applied_count = 0
        self.event_latency: list[float] = []
        self.paints: list[float] = []
        self.painted = asyncio.Event()
        self.batch_applied = asyncio.Event()
        self.watch: Callable[[], bool] | None = None
        self.watched: list[float] = []
        original_apply, original_display = app.apply, app._display

        async def apply(batch: list[Any]) -> None:
            await original_apply(batch)
            self.applied_count += len(batch)
            self.batch_applied.set()
            if self.published:
                self.applied.append([id(e) for e in batch])

        def display(screen: Any, renderable: Any) -> None:
            original_display(screen, renderable)
            if renderable is None:
                return
            now = time.perf_counter()
            self.paints.append(now)
            if self.watch is not None and self.watch():
                self.watched.append(now)
                self.watch = None
            self.painted.set()
            for ids in self.applied:
                for key in ids:
                    if (at := self.published.pop(key, None)) is not None:
                        self.event_latency.append(now - at)
            self.applied.clear()

        app.apply = apply
        app._display = display

    async def key_to_paint(self, pilot: Any, key: str, holds: Callable[[], bool]) -> float | None:
        """From pressing ``key`` to the first paint on which ``holds()``; None when none
        came within ``UNPAINTED`` seconds."""
        self.watched.clear()
        self.watch = holds
        pressed = time.perf_counter()
        await pilot.press(key)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(UNPAINTED):
                while not self.watched:
                    self.painted.clear()
                    await self.painted.wait()
        self.watch = None
        return self.watched[0] - pressed if self.watched else None


async def stream_bench(seconds: float, rss_events: int) -> dict[str, Any]:
    """Event and key latencies while the stream runs at 200/s (the first half of
    ``seconds`` ``j`` on the thread list, the second ``a`` on the queue), then RSS over
    ``rss_events`` more events fed as fast as the console applies them."""
    from tui.app import HitlApp
    from tui.launch import make_app
    from tui.settings import ConsoleSettings

    freeze_like_the_console()
    engine = StandInEngine()
    settings = ConsoleSettings(resume=False, settle_seconds=0.0)
    app: HitlApp = make_app(engine, settings)  # type: ignore[arg-type]
    probe = Probe(app)
    stream = Stream(engine)
    out: dict[str, Any] = {}

    async def produce(stop: float) -> None:
        interval = 1 / RATE
        next_at = time.perf_counter()
        while time.perf_counter() < stop:
            event = stream.next()
            probe.published[id(event)] = time.perf_counter()
            engine.bus.publish(event)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    async with app.run_test(size=(160, 45)) as pilot:
        async with asyncio.timeout(60):
            while len(app.thread_list) < THREADS or app.sidebar.pending_count < APPROVALS:
                await pilot.pause()
        start = time.perf_counter()
        producer = asyncio.create_task(produce(start + seconds))
        j_keys = await presses(pilot, probe, app.thread_list, "j", until=start + seconds / 2)
        a_keys = await presses(pilot, probe, app.sidebar, "a", until=start + seconds)
        await producer
        out.update(
            events=probe.event_latency, j=j_keys, a=a_keys, waiting=app.sidebar.pending_count
        )
        probe.published.clear()
        app.thread_list.focus()  # the pane stays on one thread: its story grows all along
        await pilot.pause()
        out["rss"] = await rss_run(app, pilot, engine, stream, probe, rss_events)
        out["story_lines"] = len(app.pane.query("StoryLine"))
        out["j_after"], out["a_after"] = await keys_after(app, pilot, probe)
    return out


async def keys_after(app: Any, pilot: Any, probe: Probe) -> tuple[list[float], list[float]]:
    """``j`` and ``a`` again once the long stream is through (nothing else running): what
    an hour of events leaves behind, in the pane and in the lists, shows here."""
    j_keys = await presses(pilot, probe, app.thread_list, "j", count=10)
    a_keys = await presses(pilot, probe, app.sidebar, "a", count=10)
    return j_keys, a_keys


async def presses(
    pilot: Any, probe: Probe, widget: Any, key: str, *, until: float = 0.0, count: int = 0
) -> list[float]:
    """``key`` on ``widget`` (focused first) every 0.2 s, until ``until`` (less the last
    0.3 s) or ``count`` times: each one's time from the key to the first paint with the
    cursor moved on."""
    widget.focus()
    await pilot.pause()
    took: list[float] = []
    for n in itertools.count():
        if (until and time.perf_counter() >= until - 0.3) or (count and n >= count):
            break
        await asyncio.sleep(0.2)
        before = widget.cursor

        def moved(before: str | None = before) -> bool:
            return widget.cursor not in (None, before)

        at = await probe.key_to_paint(pilot, key, moved)
        took.append(UNPAINTED if at is None else at)  # a miss is the worst, never dropped
    return took


async def rss_run(
    app: Any, pilot: Any, engine: StandInEngine, stream: Stream, probe: Probe, events: int
) -> list[tuple[int, float]]:
    """RSS after every 100,000 events (and at the end), fed in chunks of 1,000 as fast as
    the console applies them (no events dropped)."""
    gc.collect()
    readings = [(0, rss_mb())]
    fed = 0
    while fed < events:
        chunk = min(1000, events - fed)
        target = probe.applied_count + chunk
        for _ in range(chunk):
            engine.bus.publish(stream.next())
        fed += chunk
        async with asyncio.timeout(60):
            while probe.applied_count < target:
                probe.batch_applied.clear()
                await probe.batch_applied.wait()
        if fed % 100_000 == 0 or fed == events:
            await pilot.pause()
            gc.collect()
            readings.append((fed, rss_mb()))
    return readings


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
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--approvals", type=int, default=1000)
    parser.add_argument("--rss-events", type=int, default=200_000)
    parser.add_argument(
        "--hour", action="store_true", help=f"RSS after an hour's worth: {HOUR:,} events"
    )
    parser.add_argument("--home", default=str(Path(tempfile.gettempdir()) / "hitl-bench-1000"))
    parser.add_argument("--quick", action="store_true", help="tiny, in a scratch home")
    parser.add_argument("--stream-only", action="store_true", help="skip the start-up part")
    args = parser.parse_args()
    if args.hour:
        args.rss_events = HOUR
    scratch = Path(tempfile.mkdtemp(prefix="hitl-bench-console-")) if args.quick else None
    if scratch is not None:
        args.seconds, args.approvals, args.home = 3.0, 10, str(scratch / "home")
        args.rss_events = 2_000
    try:
        report(args, Path(args.home), runs=1 if args.quick else 3)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def report(args: argparse.Namespace, home: Path, runs: int) -> None:
    stream = asyncio.run(stream_bench(args.seconds, args.rss_events))
    starts: list[tuple[float, float]] = []
    if not args.stream_only:
        asyncio.run(seed(home, args.approvals))
        starts = startup_bench(home, args.approvals, runs)
    load = os.getloadavg()[0]
    where = f"{THREADS} threads, {RATE:.0f} events/s, {APPROVALS} waiting"
    print(f"stream: {where}; load {load:.1f} on {os.cpu_count()} cores")
    print(f"{'measure':58} {'p50 ms':>9} {'p99 ms':>9} {'worst':>9} {'n':>6}")

    def line(name: str, values: list[float]) -> None:
        worst = max(values) * 1000 if values else float("nan")
        print(
            f"{name:58} {_ms(values, 0.5):9.1f} {_ms(values, 0.99):9.1f} {worst:9.1f} "
            f"{len(values):6}"
        )

    line("event -> paint", stream["events"])
    line("key (j on the thread list) -> paint (target p99 < 50)", stream["j"])
    line(f"a on a {APPROVALS}-long queue -> next call painted (< 100)", stream["a"])
    if starts:
        frames = [f for f, _ in starts]
        fulls = [f for _, f in starts]
        line(f"start-up -> first frame (process start, {args.approvals:,} pending)", frames)
        line(f"start-up -> all {args.approvals} approvals painted (target < 1500)", fulls)
    line("key j -> paint, after the RSS feed (no stream)", stream["j_after"])
    line("key a -> next call painted, after the RSS feed (no stream)", stream["a_after"])
    readings = stream["rss"]
    (_, first), (fed, last) = readings[0], readings[-1]
    per_100k = (last - first) / fed * 100_000 if fed else 0.0
    print(
        f"RSS (this process, MB) after n more events fed as fast as they are applied, "
        f"{stream['waiting']} waiting, {stream['story_lines']} lines in the thread pane at the end:"
    )
    print("  " + "  ".join(f"{n:,}: {mb:.0f}" for n, mb in readings))
    if fed >= HOUR:
        print(f"  after an hour's worth ({fed:,}): {last:.0f} MB (target < 150)")
    elif fed >= 100_000:
        print(
            f"  growth {per_100k:+.1f} MB per 100k events; an hour ({HOUR:,}) at that rate: "
            f"{first + per_100k * HOUR / 100_000:.0f} MB (target < 150)"
        )


if __name__ == "__main__":
    main()
