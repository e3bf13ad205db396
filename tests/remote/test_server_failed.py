"""A thread that fails on the server (its status there ``error``) is listed failed, with
the server's error, by ``hitl threads`` and in the console, not as running."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.engine import Engine
from engine.remote.graph import served_graph
from engine.remote.server import AgentServer
from tests.remote.agent_server import DevServer
from tests.remote.conftest import Console
from tests.tui.helpers import running_console, wait_until

pytestmark = pytest.mark.agent_server


def waiting_job(server: DevServer, assistant: str, job: str) -> str:
    """A thread of the ``failing`` graph, waiting at its question."""
    thread = str(server.post("/threads", {})["thread_id"])
    server.post(f"/threads/{thread}/runs/wait", {"assistant_id": assistant, "input": {"job": job}})
    return thread


def test_a_thread_failed_on_the_server_is_listed_failed(
    on_graph: Callable[[str], Console],
) -> None:
    desk = on_graph("failing")
    thread = waiting_job(desk.server, desk.assistant, "J-1")
    [card] = json.loads(desk.ok("pending", "--json"))

    desk("answer", card["id"], "true")

    assert desk.server.thread(thread)["status"] == "error"
    [row] = [t for t in json.loads(desk.ok("threads", "--json")) if t["id"] == thread]
    assert row["status"] == "failed"
    assert "the payment service is down (job J-1)" in row["error"]
    listed = desk.ok("threads")
    assert "failed" in listed and "running" not in listed


async def test_a_thread_failed_elsewhere_shows_failed_in_the_console(
    dev_server: DevServer, tmp_path: Path
) -> None:
    assistant = dev_server.assistant("failing")
    thread = await asyncio.to_thread(waiting_job, dev_server, assistant, "J-2")
    graph = await served_graph(AgentServer(dev_server.url, assistant))
    async with (
        Engine.open(tmp_path / "home", graphs=[graph], operator="alice") as engine,
        running_console(engine) as (app, pilot),
    ):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the card from the server")
        open_ = dev_server.thread(thread)["interrupts"]
        answers = {i["id"]: True for items in open_.values() for i in items}
        await asyncio.to_thread(
            dev_server.post,
            f"/threads/{thread}/runs/wait",
            {"assistant_id": assistant, "command": {"resume": answers}},
        )  # answered through the API by someone else; the run fails there

        def failed() -> bool:
            shown = app.live.threads.get(thread)
            return shown is not None and shown.status == "failed"

        await wait_until(pilot, failed, "the thread shown failed")
        assert "the payment service is down" in (app.live.threads[thread].error or "")
        await wait_until(
            pilot,
            lambda: all(a.status == "withdrawn" for a in app.sidebar.rows),
            "its card closed: resumed elsewhere",
        )
