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
FAILING = Path(__file__).with_name("failing_graph.py")
"""A graph of the tests' own beside the examples: it asks, then fails."""
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


KEYED_AUTH = '''"""A test server's key check: only the key in api-key.txt, read at each request."""

from pathlib import Path

from langgraph_sdk import Auth

auth = Auth()
KEY = Path(__file__).with_name("api-key.txt")


@auth.authenticate
async def authenticate(headers: dict) -> Auth.types.MinimalUserDict:
    given = headers.get(b"x-api-key") or headers.get("x-api-key") or b""
    if isinstance(given, bytes):
        given = given.decode()
    if given != KEY.read_text().strip():
        raise Auth.exceptions.HTTPException(status_code=401, detail="wrong API key")
    return {"identity": "hitl-test"}
'''
"""``langgraph dev``'s custom auth (``"auth"`` in langgraph.json, ``langgraph_sdk.Auth``)."""


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
    api_key: str | None = None
    """The key this server takes (``keyed``), sent by the direct calls below."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def outbox(self) -> Path:
        return self.where / "outbox"

    @classmethod
    def prepare(cls, where: Path, *, api_key: str | None = None) -> DevServer:
        """``api_key``: the server takes only that key (custom auth, ``KEYED_AUTH``),
        read from ``<where>/api-key.txt`` at each request, so a test can change it."""
        where.mkdir(parents=True, exist_ok=True)
        for name in [*EXAMPLES.glob("*.py"), EXAMPLES / "langgraph.json"]:
            shutil.copy(name, where / name.name)
        (where / "outbox").mkdir(exist_ok=True)
        shutil.copy(FAILING, where / FAILING.name)
        config = json.loads((where / "langgraph.json").read_text())
        config["graphs"]["failing"] = f"./{FAILING.name}:graph"
        if api_key is not None:
            (where / "auth.py").write_text(KEYED_AUTH)
            (where / "api-key.txt").write_text(api_key)
            config["auth"] = {"path": "./auth.py:auth"}
        (where / "langgraph.json").write_text(json.dumps(config))
        return cls(where, free_port(), api_key=api_key)

    def take_only(self, api_key: str) -> None:
        """From the next request on, the server takes ``api_key`` alone (a key rotated)."""
        (self.where / "api-key.txt").write_text(api_key)
        self.api_key = api_key

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
            request = urllib.request.Request(f"{self.url}/ok", headers=self._headers())
            with urllib.request.urlopen(request, timeout=1) as answer:
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

    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key} if self.api_key else {}

    def post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **self._headers()},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read() or b"null")

    def get(self, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}{path}", headers=self._headers())
        with urllib.request.urlopen(request, timeout=30) as answer:
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

        client = get_client(url=self.url, api_key=self.api_key)
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
