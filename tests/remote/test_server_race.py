"""A decision racing one sent directly to the server: another client resumes the thread
(its run queued or running: the thread is busy) an instant before hitl sends its own.
The server refuses the second run, the card closes "resumed elsewhere", and the call
runs once, by the other client's resume."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine import Approve
from engine.engine import Engine
from engine.remote.graph import served_graph
from engine.remote.server import AgentServer
from tests.remote.agent_server import DevServer

pytestmark = pytest.mark.agent_server


async def test_a_decision_sent_while_another_client_resumed_the_thread(
    dev_server: DevServer, tmp_path: Path
) -> None:
    assistant = dev_server.assistant("per_call")
    thread = await asyncio.to_thread(
        dev_server.interrupted_thread, assistant, "Email ann@company.com the notes"
    )
    policy = tmp_path / "policy.toml"
    policy.write_text('default_tier = "medium"\n')
    graph = await served_graph(AgentServer(dev_server.url, assistant))
    async with Engine.open(
        tmp_path / "home", policy=policy, graphs=[graph], operator="alice"
    ) as engine:
        [delete] = [a for a in await engine.pending(thread) if a.tool == "delete_file"]
        open_ = dev_server.thread(thread)["interrupts"]
        answers = {i["id"]: {"type": "approve"} for items in open_.values() for i in items}
        other = dev_server.post(  # queued: the thread is busy until it has run
            f"/threads/{thread}/runs",
            {"assistant_id": assistant, "command": {"resume": answers}},
        )
        await engine.decide(delete.id, Approve())
        await engine.wait(thread)
        closed = await engine.approval(delete.id)
        [entry] = [e for e in await engine.audit(thread=thread) if e.kind == "decision"]

    assert closed.status == "withdrawn"  # "resumed elsewhere": nothing was sent
    assert (entry.operator, entry.body["decision"]) == ("alice", "approve")  # still audited
    await asyncio.to_thread(dev_server.get, f"/threads/{thread}/runs/{other['run_id']}/join")
    runs = dev_server.get(f"/threads/{thread}/runs")
    assert len(runs) == 2  # the first run, and the other client's resume: not ours
    messages = dev_server.thread(thread)["values"]["messages"]
    deleted = [m for m in messages if m["type"] == "tool" and m["name"] == "delete_file"]
    assert len(deleted) == 1
