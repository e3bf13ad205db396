"""A real LangGraph Agent Server for the tests: ``langgraph dev`` (langgraph-cli with
its in-memory runtime) serving the examples' graphs on a free port of 127.0.0.1,
offline (no tracing, no license or metadata calls, no browser).

The examples are copied to a directory of the server's own, where it keeps its files
(``.langgraph_api``); their tools act in ``<that directory>/outbox``. Each test takes an
assistant of its own (``AgentServer.assistant``), so the threads one test's home adopts
are its own, whatever the others do on the same server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
LANGGRAPH = Path(sys.executable).with_name("langgraph")
START_SECONDS = 90.0

OFFLINE = {
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_CLOUD_LICENSE_KEY": "",
    "LANGSMITH_API_KEY": "",
    "LANGSMITH_CONTROL_PLANE_API_KEY": "",
}
"""What keeps ``langgraph dev`` from calling out: tracing off, the CLI's analytics off,
and no license or control-plane key (without one the metadata loop is skipped)."""


def why_not() -> str | None:
    """Why no server can be started here, or None."""
    if not LANGGRAPH.exists():
        return f"langgraph-cli is not installed beside {sys.executable} (the 'server' extra)"
    try:
        import langgraph_runtime_inmem  # noqa: F401
    except ImportError:
        return "langgraph-cli's in-memory runtime is not installed (langgraph-cli[inmem])"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DevServer:
    """One ``langgraph dev`` process; ``start``/``stop`` may be called again (a test
    stops the server mid-session and starts it again on the same port)."""

    where: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def outbox(self) -> Path:
        return self.where / "outbox"

    @classmethod
    def prepare(cls, where: Path) -> DevServer:
        where.mkdir(parents=True, exist_ok=True)
        for name in [*EXAMPLES.glob("*.py"), EXAMPLES / "langgraph.json"]:
            shutil.copy(name, where / name.name)
        (where / "outbox").mkdir(exist_ok=True)
        return cls(where, free_port())

    def start(self) -> None:
        env = {**os.environ, **OFFLINE, "EXAMPLE_OUTBOX": str(self.outbox)}
        log = (self.where / "server.log").open("ab")
        self.process = subprocess.Popen(
            [str(LANGGRAPH), "dev", "--port", str(self.port), "--no-browser", "--no-reload"],
            cwd=self.where,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"langgraph dev exited: see {self.where / 'server.log'}")
            if self.healthy():
                return
            time.sleep(0.2)  # polling a process that starts: no event to wait on
        self.stop()
        raise RuntimeError(f"langgraph dev did not answer /ok in {START_SECONDS:.0f} s")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ok", timeout=1) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        with_children = self.process.pid  # its own session: the server and its workers
        try:
            os.killpg(with_children, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(with_children, signal.SIGKILL)
            self.process.wait()
        self.process = None

    # --- direct calls to the server, as another client of it would make them ---

    def post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read() or b"null")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=30) as answer:
            return json.loads(answer.read())

    def assistant(self, graph: str) -> str:
        """A new assistant of ``graph``, by a name no other test uses."""
        name = f"{graph}-{uuid.uuid4().hex[:8]}"
        made = self.post("/assistants", {"graph_id": graph, "name": name})
        return str(made["assistant_id"])

    def interrupted_thread(self, assistant: str, task: str) -> str:
        """A thread on ``assistant`` run on ``task`` until it waits at its interrupts."""
        thread = self.post("/threads", {})["thread_id"]
        self.post(
            f"/threads/{thread}/runs/wait",
            {"assistant_id": assistant, "input": {"messages": [{"role": "user", "content": task}]}},
        )
        return str(thread)

    async def interrupted_threads(self, assistant: str, task: str, count: int) -> list[str]:
        """``count`` threads on ``assistant`` waiting at their interrupts, made through
        the SDK ten runs at a time."""
        import asyncio

        from langgraph_sdk import get_client

        client = get_client(url=self.url)
        gate = asyncio.Semaphore(10)

        async def one() -> str:
            async with gate:
                thread = await client.threads.create()
                await client.runs.wait(
                    thread["thread_id"],
                    assistant,
                    input=cast(Any, {"messages": [{"role": "user", "content": task}]}),
                )
                return str(thread["thread_id"])

        return list(await asyncio.gather(*(one() for _ in range(count))))

    def thread(self, thread_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/threads/{thread_id}")
        return found
