"""The runner runs whatever graph it is handed, not only the demo agent."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph

from engine import Home
from engine.events import Event, MessageAdded, ThreadFinished
from engine.runner import Runner
from engine.storage.database import Statement, Write, open_sqlite
from engine.storage.schema import migrate
from engine.storage.store import Store
from engine.storage.threads import Threads
from engine.views import ThreadView


def _echo_graph() -> Any:
    """Someone else's graph: one node, no tools, no gate."""

    def echo(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(f"you said: {state['messages'][-1].content}")]}

    builder = StateGraph(MessagesState)
    builder.add_node("echo", echo)
    builder.add_edge(START, "echo")
    builder.add_edge("echo", END)
    return builder.compile(checkpointer=InMemorySaver())


async def test_a_runner_drives_a_graph_it_was_handed_to_the_end(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.create()
    published: list[Event] = []
    async with open_sqlite(home.db) as db:
        store = Store(db, "test-runner")
        await migrate(db, str(home.db))

        async def publish(
            *events: Event,
            also: Sequence[Statement | Write] = (),
            when: Sequence[int | None] = (),
        ) -> list[int] | None:
            counts = await store.commit(also)
            published.extend(events)
            return counts

        now = time.time()
        thread = ThreadView("t1-echo", "echo", "hello", "mine", "running", now, now)
        await store.commit([Threads.insert_statement(thread)])
        runner = Runner(store, publish, _echo_graph(), run_slots=1, lease_seconds=30)
        runner.start()
        try:
            runner.kick(thread.id, {"messages": [HumanMessage("hello")]}, thread)
            await runner.wait(thread.id)
        finally:
            await runner.close()
        finished = await store.threads.find(thread.id)
        assert (finished.status, finished.answer) == ("done", "you said: hello")
        assert await store.leases.holder(thread.id) is None  # the lease went with the run
    said = [(e.role, e.content) for e in published if isinstance(e, MessageAdded)]
    assert said == [("assistant", "you said: hello")]
    assert isinstance(published[-1], ThreadFinished)
