"""How the benchmarks print: percentiles, the machine they ran on, markdown tables."""

from __future__ import annotations

import contextlib
import importlib.metadata
import math
import os
import platform
import sqlite3
import statistics
from collections.abc import Mapping, Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN of nothing."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def verdict(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def machine_info() -> str:
    """CPU, load, Python, SQLite and the LangGraph versions: what a number depends on."""
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for dist in ("langgraph", "langgraph-checkpoint-sqlite", "langchain-core", "aiosqlite"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join(
        [
            f"CPU: {cpu}, {os.cpu_count()} cores; load average at start {load}",
            f"Python {platform.python_version()} ({platform.python_implementation()}), "
            f"SQLite {sqlite3.sqlite_version}, {platform.platform()}",
            ", ".join(versions),
        ]
    )


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric_from: int) -> None:
    """A markdown table; columns from ``numeric_from`` on are right-aligned."""
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i < numeric_from else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def print_hop_table(hops: Sequence[Sequence[Any]], limit: int, per_thread: int = 0) -> None:
    """Hops by caller (``Probe.hop_table``); ``per_thread``: threads run, for a per-thread
    column."""

    def ms(total: float, count: int) -> str:
        return f"{total / count * 1000:.2f}"

    header = ["hop (caller)", "count", "queued ms avg", "on thread ms avg", "wake ms avg"]
    rows = [
        [label, count, ms(queued, count), ms(running, count), ms(waking, count)]
        for label, count, queued, running, waking in hops[:limit]
    ]
    if per_thread:
        header.insert(2, "per thread")
        for row in rows:
            row.insert(2, f"{int(row[1]) / per_thread:.2f}")
    print_table(header, rows, 1)


def print_slot_table(slots: Mapping[str, Sequence[float]]) -> None:
    """Run-slot waits by priority (``Probe.slot_table``)."""
    names = {"0": "0 (decision)", "1": "1 (background)"}
    rows = [
        [
            names.get(prio, prio),
            int(count),
            f"{total:.2f}",
            f"{p50:.2f}",
            f"{p99:.2f}",
            f"{top:.2f}",
        ]
        for prio, (count, total, p50, p99, top) in slots.items()
    ]
    print()
    print_table(
        ["run slot wait, priority", "count", "total s", "p50 ms", "p99 ms", "max ms"], rows, 1
    )
    print()


def print_hops(probed: Mapping[str, Any], n: int) -> None:
    """The probe's account of one run of ``n`` engine threads."""
    lo, mid, hi = probed["hops_per_thread"]
    q, r, w = probed["queued_ms"], probed["running_ms"], probed["wake_ms"]
    queued, running, waking = probed["totals_s"]
    hop_count, seconds = probed["hop_count"], probed["seconds"]
    print(
        f"{hop_count} database hops = {hop_count / n:.1f} per thread; "
        f"attributed to one thread's runner: median {mid}, min {lo}, max {hi} per thread; "
        f"{probed['hops_unattributed']} outside any runner (start(), the watcher).\n"
        f"Per hop, ms (p50 / p99 / max): queued {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f}; on the "
        f"thread {r[0]:.2f} / {r[1]:.2f} / {r[2]:.2f}; waking up {w[0]:.2f} / {w[1]:.2f} / "
        f"{w[2]:.2f}. Queue depth at put (p50 / p99 / max): "
        f"{' / '.join(str(d) for d in probed['depth'])}.\n"
        f"Totals: queued {queued:.2f} s, on the thread {running:.2f} s (database thread busy "
        f"{running / seconds * 100:.0f}% of the {seconds:.2f} s run), waking {waking:.2f} s.\n"
    )
    print_hop_table(probed["hops"], 18, per_thread=n)
    print_slot_table(probed["slots"])


def print_cprofile(side: str, c: Mapping[str, Any], n: int) -> None:
    """One side's cProfile summary (``bench.profiling.cprofile_summary``)."""
    print(
        f"### {side}: cProfile (slows both sides ~2x): {c['tps']:.1f} threads/s; "
        f"main-thread CPU {c['cpu_total']:.2f} s = {c['cpu_total'] / n * 1000:.1f} ms per "
        f"thread, plus {c['idle']:.2f} s idle in epoll; own time by package:\n"
    )
    for pkg, tt in sorted(c["by_package"].items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {pkg:32} {tt:7.3f} s  {tt / c['cpu_total'] * 100:5.1f}%")
    print("top functions by own time (ncalls, tottime s, cumtime s):")
    for name, nc, tt, ct in c["top"]:
        print(f"  {nc:8} {tt:7.3f} {ct:7.3f}  {name}")
    print(
        "engine / graph / checkpointer functions by cumulative time (a coroutine's is "
        "CPU while it runs, not while it awaits):"
    )
    for name, nc, tt, ct in c["ours"]:
        print(f"  {nc:8} {tt:7.3f} {ct:7.3f}  {ct / n * 1000:6.2f} ms/thread  {name}")
    print()


def print_variants(
    n: int, labels: Sequence[str], tps: Sequence[Sequence[float]], cpu: Sequence[Sequence[float]]
) -> None:
    """Threads/s and CPU per thread of each variant, against the first (the engine as is)."""
    base_tps, base_cpu, base_min = statistics.median(tps[0]), statistics.median(cpu[0]), min(cpu[0])
    print(f"### What-if: engine at {n} threads with other run slots (median of {len(tps[0])})\n")
    rows = []
    for label, runs, cpus in zip(labels, tps, cpu, strict=True):
        t, c, low = statistics.median(runs), statistics.median(cpus), min(cpus)
        rows.append(
            [
                label,
                f"{t:.1f}",
                f"{t / base_tps:.2f}x",
                f"{c:.1f}",
                f"{c / base_cpu:.2f}x",
                f"{low:.1f}",
                f"{low / base_min:.2f}x",
            ]
        )
    header = ["variant", "threads/s", "vs engine", "CPU ms/thread", "vs engine", "min CPU"]
    print_table([*header, "vs engine"], rows, 1)
    print(
        "\nCPU = user + system time of the process (all threads) per thread run, less "
        "sensitive than threads/s to a noisy machine; min = least of the repeats.\n"
        "slots=N: EngineOptions.run_slots=N (default 4).\n"
    )


APPROVAL_PARTS = (
    ("total", "approve -> ToolExecuted"),
    ("slot", "waiting for a run slot"),
    ("queue", "hop queued for the database thread"),
    ("db", "hop running on the database thread"),
    ("wake", "hop done, waiting for the loop to resume it"),
    ("other", "other (own CPU, ready queue)"),
    ("hops", "hops on the path (count)"),
)


def print_latency_probe(lat: Mapping[str, Any], busy: int) -> None:
    """The approve path under load, split by what it waited on (``w_latency`` probed)."""
    rows = lat["path_rows"]
    k = max(2, math.ceil(len(rows) * 0.05))
    slow = rows[-k:]
    print(f"### Approve -> ToolExecuted with {busy} busy threads, hops and slots probed\n")
    print(
        f"p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms, max {lat['max_ms']:.0f} ms "
        f"(n={lat['n']}); decide() p50 {lat['decide_p50_ms']:.0f} ms; busy load "
        f"{lat['busy_tps']:.1f} threads/s; database thread busy "
        f"{lat['db_busy_share'] * 100:.0f}% of the window.\n"
        "Each window split by what some task of the approved thread waited on (overlaps "
        "counted once per kind); other = not waiting on a slot or a hop: the path's own "
        "CPU and its turns in the event loop's ready queue.\n"
    )
    grand = sum(r["total"] for r in rows)
    table = []
    for key, name in APPROVAL_PARTS:
        values = [r[key] for r in rows]
        share = "" if key == "hops" else f"{sum(values) / grand * 100:.0f}%"
        mean_slow = statistics.mean(r[key] for r in slow)
        table.append([name, f"{percentile(values, 0.5):.1f}", f"{mean_slow:.1f}", share])
    header = ["component", "p50 ms", f"mean of the slowest {k}", "share of all approvals' time"]
    print_table(header, table, 1)
    print("\nslowest approvals (ms): total, slot, queue, db, wake, other, hops")
    for r in rows[-5:]:
        print(
            f"  {r['total']:7.1f} {r['slot']:7.1f} {r['queue']:7.1f} {r['db']:7.1f} "
            f"{r['wake']:7.1f} {r['other']:7.1f} {r['hops']:4.0f}"
        )
    lag, ready = lat.get("loop_lag_ms", [0] * 4), lat.get("ready_len", [0] * 4)
    print(
        f"\nevent loop: a 1 ms timer ran late by p50 {lag[0]:.1f} / p90 {lag[1]:.1f} / p99 "
        f"{lag[2]:.1f} / max {lag[3]:.1f} ms; ready queue length then p50 {ready[0]} / p90 "
        f"{ready[1]} / p99 {ready[2]} / max {ready[3]}.\n"
        f"\nMost common sequence of hops and slot takes on the path:\n{lat['path']}\n"
    )
    hop_count = sum(row[1] for row in lat["hops_all"])
    print(f"All hops in the approval window ({hop_count}), by caller:\n")
    print_hop_table(lat["hops_all"], 16)
    print_slot_table(lat["slots_all"])
