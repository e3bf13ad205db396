"""The approval-cycle tables of ``bench/engine.py``: five sides per level, each in a fresh
worker process (``bench.cycle``), the order of the sides rotated per repeat; ratios
taken within each repeat (the sides of one repeat ran minutes apart, not hours), then
their median and range, against the issue's targets."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.cycle import (
    CYCLE_LABELS,
    CYCLE_SIDES,
    CycleSide,
    fresh_databases,
    on_postgres,
    postgres_problem,
)
from bench.report import print_table, verdict
from bench.workers import run_worker


@dataclass(frozen=True, slots=True)
class Ratio:
    label: str
    over: tuple[CycleSide, CycleSide]
    """(numerator, denominator) sides."""
    target: float


RATIOS = (
    Ratio("engine SQLite / stock SQLite", ("engine-sqlite", "bare-sqlite"), 1.3),
    Ratio("engine SQLite / InMemory", ("engine-sqlite", "bare-memory"), 0.6),
    Ratio("engine PG / stock PG", ("engine-pg", "bare-pg"), 1.3),
)
TARGET_CPU_MS = 8.0
"""CPU per cycle of the engine on SQLite."""
WORKER_TIMEOUT = 2400.0
"""Seconds a side may take in all (PostgreSQL at 500 threads is slow on a busy machine)."""


@dataclass(slots=True)
class Level:
    """What the repeats of one level measured."""

    tps: dict[CycleSide, list[float]] = field(default_factory=dict)
    cpu: dict[CycleSide, list[float]] = field(default_factory=dict)
    ratios: dict[str, list[float]] = field(default_factory=dict)

    def add(self, got: Mapping[CycleSide, Mapping[str, Any]]) -> None:
        for side, result in got.items():
            self.tps.setdefault(side, []).append(result["tps"])
            self.cpu.setdefault(side, []).append(result["cpu_ms"])
        for ratio in RATIOS:
            top, bottom = ratio.over
            if top in got and bottom in got:
                value = got[top]["tps"] / got[bottom]["tps"]
                self.ratios.setdefault(ratio.label, []).append(value)


def measure_side(
    side: CycleSide, concurrency: int, total: int, server: str | None
) -> dict[str, Any]:
    """One side in a fresh worker; on PostgreSQL, on two fresh databases (warm-up and
    measured) made here and dropped whatever happens to the worker."""
    if not on_postgres(side):
        return run_worker("cycle", WORKER_TIMEOUT, side=side, concurrency=concurrency, total=total)
    assert server is not None
    with fresh_databases(server, 2) as urls:
        return run_worker(
            "cycle", WORKER_TIMEOUT, side=side, concurrency=concurrency, total=total, urls=urls
        )


def spread(values: Sequence[float], digits: int = 2) -> str:
    """Median, and (min-max) when there is more than one."""
    text = f"{statistics.median(values):.{digits}f}"
    if len(values) > 1:
        text += f" ({min(values):.{digits}f}-{max(values):.{digits}f})"
    return text


def measure_cycle(levels: Mapping[int, int], repeats: int, server: str | None) -> None:
    """Measures every level, then prints the tables."""
    problem = postgres_problem(server)
    sides = [side for side in CYCLE_SIDES if problem is None or not on_postgres(side)]
    results: dict[int, Level] = {}
    for concurrency, total in levels.items():
        level = results[concurrency] = Level()
        for rep in range(repeats):
            turn = rep % len(sides)
            order = sides[turn:] + sides[:turn]
            got = {side: measure_side(side, concurrency, total, server) for side in order}
            level.add(got)
            line = ", ".join(f"{side} {got[side]['tps']:.1f}/s" for side in sides)
            print(f"  .. cycle @{concurrency} repeat {rep + 1}: {line}", file=sys.stderr)
    print_cycle(levels, repeats, results, problem)


def print_cycle(
    levels: Mapping[int, int], repeats: int, results: Mapping[int, Level], problem: str | None
) -> None:
    print(
        f"\n## Approval cycle (start -> pause -> approve -> .eml written -> done), "
        f"{repeats} repeat(s), fresh process per side\n"
    )
    absent = f"n/a ({problem})" if problem else ""
    rows = []
    for concurrency, total in levels.items():
        level = results[concurrency]
        for side in CYCLE_SIDES:
            if side not in level.tps:
                rows.append([f"{concurrency} ({total} threads)", CYCLE_LABELS[side], absent, ""])
                continue
            rows.append(
                [
                    f"{concurrency} ({total} threads)",
                    CYCLE_LABELS[side],
                    spread(level.tps[side], 1),
                    spread(level.cpu[side], 1),
                ]
            )
    print_table(["concurrent", "side", "threads/s median (min-max)", "CPU ms per thread"], rows, 2)
    print(
        "\nCPU = user + system time of the benchmark process, all its threads; on "
        "PostgreSQL the server's own CPU is not in it.\n\nRatios of threads/s, taken per "
        "repeat: median (min-max). Targets are the issue's, for 500 concurrent at full "
        "durability.\n"
    )
    header = ["concurrent", *(f"{r.label} (≥ {r.target:g})" for r in RATIOS)]
    header.append(f"engine SQLite CPU ms/cycle (≤ {TARGET_CPU_MS:g})")
    ratio_rows = []
    for concurrency in levels:
        level = results[concurrency]
        row = [str(concurrency)]
        for ratio in RATIOS:
            values = level.ratios.get(ratio.label)
            row.append(
                f"{spread(values)} {verdict(statistics.median(values) >= ratio.target)}"
                if values
                else absent
            )
        cpu = level.cpu["engine-sqlite"]
        row.append(f"{spread(cpu, 1)} {verdict(statistics.median(cpu) <= TARGET_CPU_MS)}")
        ratio_rows.append(row)
    print_table(header, ratio_rows, 1)
    print()
