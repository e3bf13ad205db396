"""The console on a real LangGraph Agent Server: a thread that pauses there after the
console opened shows its cards (the feed's poll), and a key decides one, resuming the
thread on the server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
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


@contextlib.asynccontextmanager
async def server_engine(server: DevServer, assistant: str, where: Path) -> AsyncIterator[Engine]:
    """An engine on a home of its own, supervising ``assistant`` on ``server``."""
    policy = where / "policy.toml"
    policy.write_text(POLICY)
    graph = await served_graph(AgentServer(server.url, assistant))
    async with Engine.open(where / "home", policy=policy, graphs=[graph], operator="alice") as e:
        yield e


async def test_a_card_from_the_server_is_approved_with_a_key(
    dev_server: DevServer, tmp_path: Path
) -> None:
    assistant = dev_server.assistant("per_call")
    async with (
        server_engine(dev_server, assistant, tmp_path) as engine,
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
            lambda: (
                any(a.id == delete.id and a.status == "approved" for a in app.sidebar.rows)
                or delete.id not in {a.id for a in app.sidebar.rows}
            ),
            "the approval",
        )
        await engine.wait(thread)
        open_ = dev_server.thread(thread)["interrupts"]
        names = sorted(i["value"]["name"] for items in open_.values() for i in items)
        assert names == ["send_email"]
        assert [e.operator for e in await engine.audit(thread=thread) if e.kind == "decision"] == [
            "alice"
        ]


async def test_a_server_gone_is_a_banner_and_the_cards_stay(
    dev_server: DevServer, tmp_path: Path
) -> None:
    assistant = dev_server.assistant("per_call")
    await asyncio.to_thread(
        dev_server.interrupted_thread, assistant, "Email ann@company.com the notes"
    )
    async with (
        server_engine(dev_server, assistant, tmp_path) as engine,
        running_console(engine) as (app, pilot),
    ):
        await wait_until(pilot, lambda: len(app.sidebar) == 2, "both cards from the server")
        await asyncio.to_thread(dev_server.stop)
        try:
            banner = f"server at {dev_server.url} unreachable, retrying in"
            await wait_until(pilot, lambda: banner in app.header.state, "the banner")
            assert len(app.sidebar) == 2  # what the home has is still there
        finally:
            await asyncio.to_thread(dev_server.start)
        await wait_until(pilot, lambda: app.header.state == "", "the banner gone", limit=30)
        assert len(app.sidebar) == 2
