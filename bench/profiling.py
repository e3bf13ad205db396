"""Where the CPU goes in one round of threads, on either side: the probe's hops, cProfile's
functions by package, pyinstrument's call trees (when it is installed)."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

from bench.probe import Probe
from bench.workloads import (
    BareRunner,
    Side,
    bare_graph,
    engine_round,
    fresh_home,
    open_engine,
    warm_up,
)

Tool = Literal["probe", "cprofile", "pyinstrument"]
BENCH = Path(__file__).resolve().parent


def package_of(filename: str) -> str:
    """The installed package (or ``engine (ours)``, ``bench``, stdlib module) of a file."""
    parts = Path(filename).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        if rest:
            return rest[0].removesuffix(".py")
    if "engine" in parts:
        return "engine (ours)"
    if str(BENCH) in filename:
        return "bench"
    if filename.startswith(("~", "<")):
        return "builtins/C"
    return "stdlib:" + Path(filename).stem


async def profile_run(side: Side, n: int, probe: Probe | None = None) -> dict[str, Any]:
    """One round of ``n`` threads at once, timed; with the probe's summary when given."""
    with fresh_home() as home:
        if side == "engine":
            options = {"observer": probe} if probe is not None else {}
            async with open_engine(home, **options) as engine:
                await engine_round(engine, 1)  # builds the graph before the clock
                if probe is not None:
                    probe.clear()  # opening and setup are not part of the run
                t0 = time.perf_counter()
                await engine_round(engine, n)
                elapsed = time.perf_counter() - t0
            found = probe.summary() if probe is not None else {}
        else:
            async with bare_graph(home) as graph:
                runner = BareRunner(graph)
                await runner.round(1)
                t0 = time.perf_counter()
                await runner.round(n)
                elapsed = time.perf_counter() - t0
            found = {}
    return found | {"seconds": elapsed, "tps": n / elapsed}


def cprofile_summary(prof: cProfile.Profile, side: str, out: Path) -> dict[str, Any]:
    """Own time by package, the top functions, ours by cumulative time; the full listings
    written to ``out``."""
    prof.dump_stats(out / f"{side}.pstats")
    raw: dict[Any, Any] = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    by_package: dict[str, float] = defaultdict(float)
    total = idle = 0.0
    for (filename, _line, name), (_cc, _nc, tt, _ct, _callers) in raw.items():
        if "poll' of 'select.epoll" in name:
            idle += tt  # the loop waiting for the SQLite thread or a timer: not CPU
            continue
        by_package[package_of(filename)] += tt
        total += tt
    for order, lines, suffix in (("tottime", 40, ""), ("cumulative", 80, "-cumulative")):
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats(order).print_stats(lines)
        (out / f"{side}.cprofile{suffix}.txt").write_text(text.getvalue())
    top = sorted(raw.items(), key=lambda kv: -kv[1][2])[:15]
    ours = [
        kv
        for kv in raw.items()
        if f"{os.sep}engine{os.sep}" in kv[0][0]
        or "bare_graph" in kv[0][0]
        or f"checkpoint{os.sep}sqlite" in kv[0][0]
    ]
    ours.sort(key=lambda kv: -kv[1][3])
    return {
        "cpu_total": total,
        "idle": idle,
        "by_package": dict(by_package),
        "top": [
            [f"{package_of(f)}:{Path(f).name}:{line}({name})", nc, tt, ct]
            for (f, line, name), (_cc, nc, tt, ct, _c) in top
        ],
        "ours": [
            [f"{Path(f).parent.name}/{Path(f).name}:{line}({name})", nc, tt, ct]
            for (f, line, name), (_cc, nc, tt, ct, _c) in ours[:22]
        ],
    }


async def profile_worker(side: Side, n: int, tool: Tool, out_dir: str) -> dict[str, Any]:
    """A warmed-up round of ``n`` threads under ``tool``."""
    out = Path(out_dir)
    await warm_up(side)
    if tool == "probe":
        return await profile_run(side, n, Probe())
    if tool == "cprofile":
        prof = cProfile.Profile()
        prof.enable()
        result = await profile_run(side, n)
        prof.disable()
        return result | cprofile_summary(prof, side, out)
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    result = await profile_run(side, n)
    profiler.stop()
    (out / f"{side}.pyinstrument.txt").write_text(
        profiler.output_text(unicode=True, color=False, show_all=False)
    )
    (out / f"{side}.pyinstrument.html").write_text(profiler.output_html())
    return result
