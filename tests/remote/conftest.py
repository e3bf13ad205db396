"""One ``langgraph dev`` for the whole session (skipped, saying why, where it cannot
start), and a `hitl` pointed at it for each test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.remote.agent_server import DevServer, why_not

HITL = Path(sys.executable).with_name("hitl")


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    reason = why_not()
    if reason is not None:
        pytest.skip(f"no LangGraph Agent Server: {reason}")
    server = DevServer.prepare(tmp_path_factory.mktemp("agent-server"))
    try:
        server.start()
    except RuntimeError as error:
        pytest.skip(f"langgraph dev cannot start here: {error}")
    yield server
    server.stop()


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
