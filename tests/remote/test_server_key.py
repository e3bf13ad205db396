"""A deployment that takes one API key (``langgraph dev`` with custom auth): a wrong or
missing key is one line naming where the key came from, never the key, and exit 1;
the right key works; a key the server stops taking mid-session is the console's banner."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from engine.engine import Engine
from engine.remote.graph import served_graph
from engine.remote.server import AgentServer
from tests.remote.agent_server import DevServer
from tests.remote.conftest import HITL, serving
from tests.tui.helpers import running_console, wait_until

pytestmark = pytest.mark.agent_server

KEY = "sk-right-4f1c9e"
WRONG = "sk-wrong-77aa01"


@pytest.fixture(scope="module")
def keyed() -> Iterator[DevServer]:
    """A server of its own that takes ``KEY`` alone."""
    yield from serving("hitl-keyed-server-", api_key=KEY)


def hitl(
    home: Path, server: DevServer, *args: str, env_key: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HITL_", "LANGGRAPH_"))}
    if env_key is not None:
        env["LANGGRAPH_API_KEY"] = env_key
    return subprocess.run(
        [str(HITL), "--home", str(home), "--server", server.url, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_a_wrong_key_is_one_line_naming_where_it_came_from(
    keyed: DevServer, tmp_path: Path
) -> None:
    assistant = keyed.assistant("per_call")
    thread = keyed.interrupted_thread(assistant, "Email ann@company.com the notes")
    home = tmp_path / "home"

    flag = hitl(home, keyed, "--api-key", WRONG, "--assistant", assistant, "pending")
    from_env = hitl(home, keyed, "--assistant", assistant, "pending", env_key=WRONG)
    none = hitl(home, keyed, "--assistant", assistant, "pending")

    url = keyed.url
    assert (flag.returncode, flag.stderr) == (
        1,
        f"hitl: server at {url} refused the API key given in --api-key\n",
    )
    assert (from_env.returncode, from_env.stderr) == (
        1,
        f"hitl: server at {url} refused the API key given in $LANGGRAPH_API_KEY\n",
    )
    assert (none.returncode, none.stderr.count("\n")) == (1, 1)
    assert "wants an API key" in none.stderr
    right = hitl(home, keyed, "--api-key", KEY, "--assistant", assistant, "pending")
    assert right.returncode == 0, right.stderr
    assert thread in right.stdout


async def test_a_key_refused_mid_session_is_the_banner(keyed: DevServer, tmp_path: Path) -> None:
    assistant = keyed.assistant("per_call")
    await asyncio.to_thread(keyed.interrupted_thread, assistant, "Email ann@company.com the notes")
    graph = await served_graph(AgentServer(keyed.url, assistant, api_key=SecretStr(KEY)))
    async with (
        Engine.open(tmp_path / "home", graphs=[graph], operator="alice") as engine,
        running_console(engine) as (app, pilot),
    ):
        await wait_until(pilot, lambda: len(app.sidebar) == 2, "both cards from the server")
        keyed.take_only("sk-rotated-0b3d")
        try:
            banner = f"server at {keyed.url} refused the API key given in --api-key"
            await wait_until(pilot, lambda: banner in app.header.state, "the banner")
            assert KEY not in app.header.state
            assert len(app.sidebar) == 2  # what the home has is still there
        finally:
            keyed.take_only(KEY)
        await wait_until(pilot, lambda: app.header.state == "", "the banner gone", limit=30)
