"""SIGKILL at a random moment while many decisions are committed in batches: every
decision a caller was told of is there after the restart, and no call runs twice."""

from __future__ import annotations

import collections
import email
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine import Home
from engine.engine import Engine
from tests.engine.processes import ROOT

THREADS = 30
ROUNDS = 3


def killed_while_deciding(home: Home, rng: random.Random) -> set[str]:
    """Runs ``THREADS`` threads deciding at once in a child, kills it after a random
    number of acknowledged decisions (and a random moment more); what was acknowledged."""
    env = {k: v for k, v in os.environ.items() if k not in ("HITL_DATABASE_URL", "HITL_HOME")}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.engine.deciding_child", "--home", str(home.path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    enough, lines = rng.randint(1, THREADS - 1), []
    while len(lines) < enough:
        line = child.stdout.readline()
        assert line, f"the child exited ({child.wait()}): {child.stderr and child.stderr.read()}"
        lines += [line] if '"decided"' in line else []
    time.sleep(rng.uniform(0, 0.05))
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    lines += [line for line in child.stdout.read().splitlines() if '"decided"' in line]
    assert child.returncode == -signal.SIGKILL, "the child finished before it was killed"
    return {json.loads(line)["decided"] for line in lines}


async def test_acknowledged_decisions_survive_sigkill_and_no_call_runs_twice(
    tmp_path: Path,
) -> None:
    seed = random.randrange(2**32)
    print(f"seed {seed}")  # shown by pytest when the test fails: rerun with it
    rng = random.Random(seed)
    for round_ in range(ROUNDS):
        home = Home(tmp_path / f"round{round_}")
        acknowledged = killed_while_deciding(home, rng)
        async with Engine.open(home, operator="alice") as engine:
            for approval_id in acknowledged:
                assert (await engine.approval(approval_id)).status == "approved", (seed, round_)
            await engine.resume()
            await engine.wait()
            threads = await engine.threads()
            done = [t for t in threads if t.status == "done"]
            unknown = [t for t in threads if t.status == "unknown"]
            assert (await engine.verify_audit()).ok
        sent = collections.Counter(
            (message["X-Hitl-Thread"], message["X-Hitl-Tool-Call"])
            for message in map(
                email.message_from_bytes, map(Path.read_bytes, home.outbox.glob("*.eml"))
            )
        )
        assert all(n == 1 for n in sent.values()), (seed, round_, sent)
        assert len(done) <= sum(sent.values()) <= len(done) + len(unknown), (seed, round_)
