"""One ``langgraph dev`` for the whole session (skipped, saying why, where it cannot
start), and a `hitl` pointed at it for each test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.remote.agent_server import DevServer, why_not

HITL = Path(sys.executable).with_name("hitl")


def serving(prefix: str, api_key: str | None = None) -> Iterator[DevServer]:
    """A ``langgraph dev`` in a directory of its own, not pytest's: pytest runs of other
    checkouts on this machine prune old base directories, and the server keeps working
    in its own. Skipped, saying why, where it cannot start."""
    reason = why_not()
    if reason is not None:
        pytest.skip(f"no LangGraph Agent Server: {reason}")
    where = Path(tempfile.mkdtemp(prefix=prefix))
    server = DevServer.prepare(where, api_key=api_key)
    try:
        server.start()
    except RuntimeError as error:
        shutil.rmtree(where, ignore_errors=True)
        pytest.skip(f"langgraph dev cannot start here: {error}")
    yield server
    server.stop()
    shutil.rmtree(where, ignore_errors=True)


@pytest.fixture(scope="session")
def dev_server() -> Iterator[DevServer]:
    yield from serving("hitl-agent-server-")


@dataclass(frozen=True)
class Console:
    """``hitl --home H --server URL --assistant A ...`` as a user types it."""

    home: Path
    server: DevServer
    assistant: str

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
        return subprocess.run(
            [
                str(HITL),
                "--home",
                str(self.home),
                "--server",
                self.server.url,
                "--assistant",
                self.assistant,
                *args,
            ],
            capture_output=True,
            text=True,
            input=stdin,
            env=env,
            timeout=120,
        )

    def ok(self, *args: str) -> str:
        done = self(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture
def per_call(dev_server: DevServer, tmp_path: Path) -> Console:
    return Console(tmp_path / "home", dev_server, dev_server.assistant("per_call"))


@pytest.fixture
def on_graph(dev_server: DevServer, tmp_path: Path) -> Callable[[str], Console]:
    """``on_graph("batched")``: a `hitl` on a new assistant of that example graph."""
    return lambda graph: Console(tmp_path / "home", dev_server, dev_server.assistant(graph))
