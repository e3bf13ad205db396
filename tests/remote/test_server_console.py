"""The console on a real LangGraph Agent Server: a thread that pauses there after the
console opened shows its cards (the feed's poll), and a key decides one, resuming the
thread on the server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.engine import Engine
from engine.remote.graph import served_graph
from engine.remote.server import AgentServer
from tests.remote.agent_server import DevServer
from tests.tui.helpers import running_console, wait_until

pytestmark = pytest.mark.agent_server

POLICY = """\
default_tier = "medium"

[tools]
send_email = "medium"
delete_file = "medium"
"""


async def test_a_card_from_the_server_is_approved_with_a_key(
    dev_server: DevServer, tmp_path: Path
) -> None:
    assistant = dev_server.assistant("per_call")
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    graph = await served_graph(AgentServer(dev_server.url, assistant))
    async with (
        Engine.open(tmp_path / "home", policy=policy, graphs=[graph], operator="alice") as engine,
        running_console(engine) as (app, pilot),
    ):
        thread = await asyncio.to_thread(
            dev_server.interrupted_thread, assistant, "Email ann@company.com the notes"
        )
        await wait_until(pilot, lambda: len(app.sidebar) == 2, "both cards from the server")
        [delete] = [a for a in app.sidebar.rows if a.tool == "delete_file"]
        app.action_open_approval(delete.id)
        await pilot.pause()
        await pilot.press("a")
        await wait_until(
            pilot,
            lambda: any(a.id == delete.id and a.status == "approved" for a in app.sidebar.rows)
            or delete.id not in {a.id for a in app.sidebar.rows},
            "the approval",
        )
        await engine.wait(thread)
        open_ = dev_server.thread(thread)["interrupts"]
        names = sorted(i["value"]["name"] for items in open_.values() for i in items)
        assert names == ["send_email"]
        assert [e.operator for e in await engine.audit(thread=thread) if e.kind == "decision"] == [
            "alice"
        ]
