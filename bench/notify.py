"""Notifications never slow the approval cycle: the cycle with no targets, and with
three webhook targets whose receiver is down (connection refused) or hung (accepts,
never answers).

    .venv/bin/python bench/notify.py           # 100 threads, worst of 3 runs per side
    .venv/bin/python bench/notify.py --quick   # a smoke run (CI), not numbers

Per thread: "email the report to boss@company.com" -> pause for approval -> approve ->
the tool runs -> final answer; all threads at once, each approval decided as soon as
``ApprovalRequested`` is seen. Each notification (one per target per approval) is
queued in the approval's own transaction; the courier's deliveries fail or hang beside
the cycle. Each side runs in a fresh SQLite home.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import Approve
from engine.engine import Engine
from engine.events import ApprovalRequested, ThreadFinished
from engine.policy_file import DEFAULT_POLICY_TOML

TASK = "email the report to boss@company.com"


def targets(url: str, retry_first: float = 5.0) -> str:
    return "".join(
        f'\n[[notify]]\nname = "hook{i}"\nkind = "webhook"\nurl = "{url}"\n'
        'secret_env = "HITL_BENCH_HOOK_KEY"\non = ["approval_requested"]\n'
        f"timeout = 30\nretry_first = {retry_first}\n"
        for i in range(3)
    )


async def cycle(home: Path, policy: Path, threads: int, queued: int, *, send: bool) -> float:
    """Seconds from the first start to the last thread finished."""
    async with Engine.open(
        home, policy=policy, operator="bench", send_notifications=send
    ) as engine:
        finished: set[str] = set()
        deciding: set[asyncio.Task[object]] = set()
        with engine.subscribe() as events:
            began = time.perf_counter()
            for _ in range(threads):
                await engine.start(TASK)
            async for event in events:
                if isinstance(event, ApprovalRequested):
                    task = asyncio.create_task(engine.decide(event.approval.id, Approve()))
                    deciding.add(task)
                    task.add_done_callback(deciding.discard)
                elif isinstance(event, ThreadFinished):
                    finished.add(event.thread_id or "")
                    if len(finished) == threads:
                        break
            elapsed = time.perf_counter() - began
        counts = await engine.notification_counts()
    assert sum(counts.values()) == queued, counts
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    threads, runs = (5, 1) if args.quick else (args.threads, args.runs)
    os.environ["HITL_BENCH_HOOK_KEY"] = "bench"
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    refused_url = f"http://127.0.0.1:{refused.getsockname()[1]}/hook"
    refused.close()  # nothing listens there now: every delivery is refused
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(1024)  # never accepted: every delivery hangs until its timeout
    hung_url = f"http://127.0.0.1:{hung.getsockname()[1]}/hook"
    sides = {
        "no targets": ("", True),
        "3 targets, queued, not sent": (targets(refused_url), False),
        "3 targets, receiver down": (targets(refused_url), True),
        "  the same, retried at 0.2 s": (targets(refused_url, 0.2), True),
        "3 targets, receiver hung": (targets(hung_url), True),
    }
    print(f"approval cycle, {threads} threads at once, worst of {runs} (SQLite)")
    print(f"{'side':<30} {'seconds':>8} {'threads/s':>10}")
    for name, (tables, send) in sides.items():
        worst = 0.0
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as folder:
                policy = Path(folder) / "policy.toml"
                policy.write_text(DEFAULT_POLICY_TOML + tables)
                queued = 3 * threads if tables else 0
                home = Path(folder) / "home"
                seconds = asyncio.run(cycle(home, policy, threads, queued, send=send))
                worst = max(worst, seconds)
        print(f"{name:<30} {worst:>8.2f} {threads / worst:>10.1f}")
    hung.close()


if __name__ == "__main__":
    main()
