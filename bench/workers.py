"""Each measurement runs in a fresh interpreter, in a fresh home: no run inherits another's
heap, caches or database. ``run_worker`` starts one and reads back its result (a line of
JSON); ``bench/engine.py --worker SPEC`` is that interpreter's entry.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bench.cycle import cycle
from bench.probe import LoopLag, Probe
from bench.profiling import profile_worker
from bench.workloads import (
    GATED_TASK,
    Side,
    approve_under_load,
    fresh_home,
    open_engine,
    peak_rss_mb,
    rss_mb,
    run_rounds,
    warm_up,
)

ROOT = Path(__file__).resolve().parent.parent
ENTRY = ROOT / "bench" / "engine.py"
RESULT_PREFIX = "RESULT "


async def throughput(
    side: Side, concurrency: int, total: int, run_slots: int = 0
) -> dict[str, Any]:
    """Threads per second of ``total`` threads, ``concurrency`` at a time.
    ``run_slots``: the engine's ``EngineOptions.run_slots`` (0: its default)."""
    await warm_up(side)
    options = {"run_slots": run_slots} if run_slots else {}
    with fresh_home() as home:
        result = await run_rounds(side, home, concurrency, total, **options)
    return result | {"peak_rss_mb": peak_rss_mb()}


async def memory(side: Side, n: int) -> dict[str, Any]:
    """Peak RSS while ``n`` threads run at once."""
    if side == "engine":
        import engine.engine  # noqa: F401
    else:
        import langgraph.checkpoint.sqlite.aio  # noqa: F401
    with fresh_home() as home:
        base = rss_mb()
        result = await run_rounds(side, home, n, n)
    return result | {"peak_rss_mb": peak_rss_mb(), "rss_after_import_mb": base}


async def latency(
    busy: int,
    gated: int,
    think: float,
    interval: float,
    settle: float,
    probed: bool = False,
    busy_rate: float = 0.0,
) -> dict[str, Any]:
    """Approve -> ToolExecuted under load (``workloads.approve_under_load``; ``busy_rate``
    > 0: the busy load an open loop at that many threads/s); ``probed``: with the probe
    and the loop-lag sampler, and what they found in the window."""
    probe, lag = (Probe(), LoopLag()) if probed else (None, None)
    with fresh_home() as home:
        times = await approve_under_load(
            home,
            busy=busy,
            gated=gated,
            think=think,
            interval=interval,
            settle=settle,
            busy_rate=busy_rate,
            probe=probe,
            lag=lag,
        )
    result = times.summary()
    if probe is not None and lag is not None:
        result |= probe.path_report(times.windows) | lag.report()
        result["hops_all"] = probe.hop_table()
        result["db_busy_share"] = probe.db_busy_seconds() / times.window_s
        result["slots_all"] = probe.slot_table()
    return result


async def make_pending(home: str, n: int) -> dict[str, Any]:
    """Leaves ``n`` gated threads pending in ``home`` (no background duties meanwhile)."""
    t0 = time.perf_counter()
    quiet = {
        "follow_journal": False,
        "warn_expiring": False,
        "expire_on_time": False,
        "apply_stranded_decisions": False,
    }
    async with open_engine(Path(home), **quiet) as engine:
        for _ in range(n):
            await engine.start(GATED_TASK)
        await engine.wait()
        count = len(await engine.pending())
    if count != n:
        raise RuntimeError(f"expected {n} pending approvals, found {count}")
    return {"n": count, "seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}


async def open_pending(home: str) -> dict[str, Any]:
    """``Engine.open`` + ``pending()`` on an existing home, the import timed apart."""
    t0 = time.perf_counter()
    from engine.engine import Engine

    t1 = time.perf_counter()
    async with Engine.open(Path(home), create=False) as engine:
        t2 = time.perf_counter()
        pending = await engine.pending()
        t3 = time.perf_counter()
    return {
        "n": len(pending),
        "import_s": t1 - t0,
        "open_s": t2 - t1,
        "pending_s": t3 - t2,
        "open_pending_s": t3 - t1,
    }


WORKERS: dict[str, Callable[..., Coroutine[Any, Any, dict[str, Any]]]] = {
    "throughput": throughput,
    "memory": memory,
    "latency": latency,
    "cycle": cycle,
    "make_pending": make_pending,
    "open_pending": open_pending,
    "profile": profile_worker,
}


def run_worker(kind: str, timeout: float = 900, **kwargs: Any) -> dict[str, Any]:
    """Runs one measurement in a fresh interpreter; returns its result and wall time."""
    spec = json.dumps({"kind": kind, "kwargs": kwargs})
    cmd = [sys.executable, str(ENTRY), "--worker", spec]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line.removeprefix(RESULT_PREFIX))
            return result | {"wall_s": wall}
    raise RuntimeError(f"worker {kind} {kwargs} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def serve(spec: str) -> int:
    """The worker interpreter: runs the measurement ``spec`` names, prints its result."""
    job = json.loads(spec)
    result = asyncio.run(WORKERS[job["kind"]](**job["kwargs"]))
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0
