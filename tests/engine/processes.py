"""Driving child engine processes from a test: start, read their lines, kill them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import Home

ROOT = Path(__file__).resolve().parents[2]


class Child:
    def __init__(self, home: Home, *args: str, env: dict[str, str] | None = None) -> None:
        env = {**os.environ, **(env or {})}
        env.pop("HITL_DATABASE_URL", None)
        if home.database_url:
            env["HITL_DATABASE_URL"] = home.database_url
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.engine.child", "--home", str(home.path), *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []

    def expect(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        """Reads the child's lines until one matches; fails if it exits or time runs out."""
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            raw = self.proc.stdout.readline()
            if not raw:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"child exited ({self.proc.wait()}) before the line: {err}")
            line = json.loads(raw)
            self.lines.append(line)
            if match(line):
                return line
        raise AssertionError(f"no matching line in {timeout}s; saw {self.lines}")

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, as a crash or an OOM kill."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def finish(self) -> int:
        if self.proc.stdin:
            self.proc.stdin.close()
        return self.proc.wait(timeout=60)


def paused_in_child(home: Home, task: str) -> str:
    """Runs ``task`` in a child engine until it pauses on one approval; its id."""
    child = Child(home, "start", task)
    [approval_id] = child.expect(lambda line: line.get("milestone") == "settled")["pending"]
    child.finish()
    return str(approval_id)


def killed_mid_call(home: Home, approval_id: str, tool: str) -> None:
    """A child approves ``approval_id`` and is SIGKILLed while ``tool`` (made slow) runs:
    nobody knows whether the call took effect."""
    approver = Child(home, "--slow", f"{tool}=60", "decide", approval_id, "approve")
    approver.expect(lambda line: line.get("milestone") == "ready")
    approver.send("go")
    approver.expect(lambda line: line.get("milestone") == "tool-started")
    approver.kill()
