"""Your existing app: it runs one of the example agents on its OWN checkpointer and
database, with its own thread id, until the agent pauses, then prints the pending
interrupts as JSON and exits 0. Nothing here knows about hitl.

    python examples/app.py --database app.sqlite --thread order-7 "Email bob@example.com"
    python examples/app.py --database postgresql://... --graph plain --thread r1 \\
        '{"order_id": "A-7", "amount": 120}'

hitl can then adopt that database and resume the paused thread from another process:
``hitl --graph examples/hitl_agent.py:per_call_agent --database app.sqlite``.

``--graph`` picks the agent (per_call, batched, inbox, plain); for the message agents
the task is the user's message, for ``plain`` it is the order as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

GRAPHS = ("per_call", "batched", "inbox", "plain")


@asynccontextmanager
async def open_saver(database: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """The app's checkpointer: SQLite for a file path, PostgreSQL for a URL; set up."""
    if database.startswith(("postgres://", "postgresql://")):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(database) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(database) as saver:
        await saver.setup()
        yield saver


def build(name: str, saver: BaseCheckpointSaver[Any]) -> Any:
    """The agent as the app compiles it: with its own checkpointer."""
    if name in ("per_call", "batched"):
        from hitl_agent import build_agent

        return build_agent(name, checkpointer=saver)  # type: ignore[arg-type]
    if name == "inbox":
        from inbox_agent import build_graph
    else:
        from plain_interrupt import build_graph
    return build_graph(checkpointer=saver)


async def run(database: str, graph: str, thread: str, task: str) -> list[dict[str, Any]]:
    """Runs the thread until it pauses (or ends); returns its pending interrupts."""
    async with open_saver(database) as saver:
        agent = build(graph, saver)
        first = json.loads(task) if graph == "plain" else {"messages": [("user", task)]}
        config = {"configurable": {"thread_id": thread}}
        result = await agent.ainvoke(first, config, version="v2")
        return [{"id": i.id, "value": i.value} for i in result.interrupts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="a SQLite file or a postgresql:// URL")
    parser.add_argument("--thread", required=True, help="the app's own thread id")
    parser.add_argument("--graph", choices=GRAPHS, default="per_call")
    parser.add_argument("task", help="the user's message (for plain: the order as JSON)")
    args = parser.parse_args()
    pending = asyncio.run(run(args.database, args.graph, args.thread, args.task))
    print(json.dumps(pending, indent=2, default=str))


if __name__ == "__main__":
    main()
