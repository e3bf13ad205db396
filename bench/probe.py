"""Where an engine run's time goes: database hops, run-slot waits, the event loop's lag.

``Probe`` is an ``engine.observe.Observer``: an engine opened with ``observer=probe``
tells it of every hop to the database thread (by caller, with its time queued for the
thread, on the thread, and waking the awaiting coroutine afterwards, which is the event
loop's backlog), every run-slot take (by priority) and every run it starts (so hops and
waits are attributed to the thread whose tasks made them).
"""

from __future__ import annotations

import asyncio
import contextvars
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from bench.report import percentile
from engine.observe import Hop

HOP_PLUMBING = frozenset(
    {"run", "fetchone", "execute", "fetchall", "transaction", "returning", "script"}
)
"""Frames between a caller and ``DatabaseThread.run`` that name no purpose of their own."""
HOP_RELAYS = frozenset({"_publish", "append", "commit"})
"""Callers whose own caller is named too (``audit.commit < engine._publish <
runner._set_status``), as is the caller of any function in ``engine/storage/``."""

_thread: contextvars.ContextVar[str | None] = contextvars.ContextVar("probe_thread", default=None)


def _in_storage(frame: FrameType) -> bool:
    return Path(frame.f_code.co_filename).parent.name == "storage"


def caller_label(frame: FrameType | None) -> str:
    """Who asked for a hop, as ``module.function``, through up to three relays."""
    parts: list[str] = []
    while frame is not None and len(parts) < 3:
        name = frame.f_code.co_name
        if name not in HOP_PLUMBING:
            parts.append(f"{Path(frame.f_code.co_filename).stem}.{name}")
            if name not in HOP_RELAYS and not _in_storage(frame):
                break
        frame = frame.f_back
    return " < ".join(parts) or "?"


def union_length(spans: Sequence[tuple[float, float]]) -> float:
    """Total time covered by sorted (start, end) spans; overlapping ones count once."""
    total, reach = 0.0, float("-inf")
    for start, end in spans:
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


class Probe:
    """Counts database hops and run-slot waits; keeps the spans of the ``watch``ed threads."""

    def __init__(self) -> None:
        self.watch: set[str] = set()
        self.clear()

    def clear(self) -> None:
        self.hops: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
        """label -> [count, queued s, on the thread s, waking s]."""
        self.per_thread: dict[str, int] = defaultdict(int)
        self.queued: list[float] = []
        self.running: list[float] = []
        self.wakes: list[float] = []
        self.depths: list[float] = []
        self.slot_waits: dict[int, list[float]] = defaultdict(list)
        self.spans: dict[str, list[tuple[str, float, float, str]]] = defaultdict(list)
        """(kind, start, end, label) per watched thread; kind: slot, queue, db, wake."""

    @staticmethod
    def tag(thread_id: str) -> None:
        """What the current task (and the tasks it starts) does belongs to ``thread_id``."""
        _thread.set(thread_id)

    # --- engine.observe.Observer ------------------------------------------------

    def run_started(self, thread_id: str) -> None:
        self.tag(thread_id)

    def slot_taken(self, priority: int, asked: float, taken: float) -> None:
        self.slot_waits[priority].append(taken - asked)
        thread = _thread.get()
        if thread in self.watch:
            self.spans[thread].append(("slot", asked, taken, f"slot(p{priority})"))

    def hop(self, hop: Hop) -> None:
        label = caller_label(hop.caller)
        stats = self.hops[label]
        stats[0] += 1
        stats[1] += hop.started - hop.queued
        stats[2] += hop.ended - hop.started
        stats[3] += hop.woke - hop.ended
        self.queued.append(hop.started - hop.queued)
        self.running.append(hop.ended - hop.started)
        self.wakes.append(hop.woke - hop.ended)
        self.depths.append(hop.depth)
        thread = _thread.get()
        self.per_thread[thread or ""] += 1
        if thread in self.watch:
            self.spans[thread] += [
                ("queue", hop.queued, hop.started, label),
                ("db", hop.started, hop.ended, label),
                ("wake", hop.ended, hop.woke, label),
            ]

    # --- what it found ----------------------------------------------------------

    def hop_table(self) -> list[list[Any]]:
        """[label, count, queued s, on the thread s, waking s], most frequent first."""
        return [[k, *v] for k, v in sorted(self.hops.items(), key=lambda kv: -kv[1][0])]

    def slot_table(self) -> dict[str, list[float]]:
        """priority -> [count, total wait s, p50 ms, p99 ms, max ms]."""
        return {
            str(p): [
                len(w),
                sum(w),
                percentile(w, 0.5) * 1000,
                percentile(w, 0.99) * 1000,
                max(w) * 1000,
            ]
            for p, w in sorted(self.slot_waits.items())
            if w
        }

    def db_busy_seconds(self) -> float:
        return sum(v[2] for v in self.hops.values())

    def summary(self) -> dict[str, Any]:
        attributed = [c for t, c in self.per_thread.items() if t]

        def ms(values: Sequence[float]) -> list[float]:
            return [percentile(values, q) * 1000 for q in (0.5, 0.99, 1.0)]

        return {
            "hops": self.hop_table(),
            "slots": self.slot_table(),
            "hop_count": len(self.queued),
            "hops_unattributed": self.per_thread.get("", 0),
            "hops_per_thread": [min(attributed), statistics.median(attributed), max(attributed)]
            if attributed
            else [0, 0, 0],
            "queued_ms": ms(self.queued),
            "running_ms": ms(self.running),
            "wake_ms": ms(self.wakes),
            "depth": [percentile(self.depths, q) for q in (0.5, 0.99, 1.0)],
            "totals_s": [sum(self.queued), sum(self.running), sum(self.wakes)],
        }

    def path_report(self, windows: Sequence[tuple[str, float, float]]) -> dict[str, Any]:
        """Splits each (thread, approved, ToolExecuted) window by what the thread's tasks
        waited on."""
        rows: list[dict[str, float]] = []
        paths: list[str] = []
        for thread, t0, t2 in windows:
            seen = [
                (kind, start, min(end, t2), label)
                for kind, start, end, label in self.spans[thread]
                if t0 <= start <= t2
            ]
            row = {"total": (t2 - t0) * 1000}
            for kind in ("slot", "queue", "db", "wake"):
                row[kind] = union_length(sorted((s, e) for k, s, e, _ in seen if k == kind)) * 1000
            row["other"] = row["total"] - union_length(sorted((s, e) for _, s, e, _ in seen)) * 1000
            row["hops"] = sum(1 for k, *_ in seen if k == "db")
            rows.append(row)
            steps = sorted((start, label) for k, start, _, label in seen if k in ("db", "slot"))
            paths.append(" > ".join(label for _, label in steps))
        rows.sort(key=lambda r: r["total"])
        return {"path_rows": rows, "path": statistics.mode(paths) if paths else ""}


class LoopLag:
    """How late the event loop runs a 1 ms timer, and how long its ready queue is then."""

    def __init__(self, period: float = 0.001) -> None:
        self.period = period
        self.lags: list[float] = []
        self.ready: list[float] = []
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    def stop(self) -> None:
        if self.task:
            self.task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lags.append(time.perf_counter() - t - self.period)
            self.ready.append(len(getattr(loop, "_ready", ())))  # asyncio's, read only

    def report(self) -> dict[str, Any]:
        if not self.lags:
            return {}
        return {
            "loop_lag_ms": [percentile(self.lags, q) * 1000 for q in (0.5, 0.9, 0.99, 1.0)],
            "ready_len": [percentile(self.ready, q) for q in (0.5, 0.9, 0.99, 1.0)],
        }
