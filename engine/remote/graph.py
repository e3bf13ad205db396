"""An Agent Server's assistant as a graph the engine's runner can drive.

The runner reads a thread with ``aget_state`` and resumes it with ``astream(Command(
resume={interrupt id: answer}))``. Here a read is the server's thread state and a
resume is ``runs.create(thread, assistant, command={"resume": ...})`` with
``multitask_strategy="reject"``: a thread busy with someone else's run refuses it
(ResumedElsewhere: nothing sent), and an answer keyed by an interrupt that is no longer
waiting is ignored by LangGraph, so no decision is sent twice. The run is joined, so
the runner reads the thread again once it paused or ended there.

The feed primes a thread's state from its ``threads.search`` row (which carries the
values and the open interrupts), so a thread the feed names is read without a request
of its own: 1,000 interrupted threads cost a few pages, not 1,000 reads.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, convert_to_messages
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, Interrupt, PregelTask, StateSnapshot

from engine.foreign.loading import LoadedGraph
from engine.remote.server import AgentServer, ServerRefused

_RUNNING = ("(running on the server)",)
"""``next`` of a thread busy with a run: the runner calls it running."""
_FAILED = ("(failed on the server)",)
"""``next`` of a thread in ``error``, with a task that carries the error: failed."""


class FailedOnServer(Exception):
    """A step of the thread failed on the server: its error, as the server said it."""


class ServerGraph:
    """One assistant of one Agent Server. Built by :func:`connect`."""

    remote = True
    """Cards of a decision the server would not take are closed, not failed."""

    def __init__(
        self, server: AgentServer, client: Any, assistant: Mapping[str, Any], schema: Any
    ) -> None:
        self.server = server
        self.client = client
        self.assistant_id = str(assistant["assistant_id"])
        self.name = str(assistant.get("graph_id") or assistant.get("name") or self.assistant_id)
        self._input_schema = schema if isinstance(schema, dict) else {}
        self._primed: dict[str, StateSnapshot] = {}
        """Rows of the feed's last reads, each until the thread is read once (the
        adopter reads a poll's rows one after the other: 1,000 at start) or a run of it
        starts here. A resume sent on an older row is still safe: answers are keyed by
        interrupt id, and a busy thread refuses it."""

    def __repr__(self) -> str:
        return f"<ServerGraph {self.name} at {self.server.url}>"

    # --- what the engine asks of a graph ------------------------------------------

    def get_input_jsonschema(self, config: Any = None) -> dict[str, Any]:
        """The assistant's input schema, as the server published it."""
        return self._input_schema

    async def open_feed(self) -> Any:
        """The feed of this assistant's threads (the adopter follows it)."""
        from engine.remote.feed import ServerFeed

        return await ServerFeed.open(self)

    @staticmethod
    def new_thread_id() -> str:
        """The server takes only UUIDs as thread ids."""
        return str(uuid.uuid4())

    def prime(self, thread: Mapping[str, Any]) -> None:
        """Keeps a ``threads.search`` row as the thread's state for its next read; not
        one in ``error``: the row does not say what failed, its state does."""
        thread_id = str(thread["thread_id"])
        if thread.get("status") == "error":
            self._primed.pop(thread_id, None)
            return
        self._primed[thread_id] = snapshot_of(thread)

    async def aget_state(self, config: Any, *, subgraphs: bool = False) -> StateSnapshot:
        thread_id = str(config["configurable"]["thread_id"])
        primed = self._primed.pop(thread_id, None)
        if primed is not None:
            return primed
        thread = await self.server.call(self._row(thread_id), "the thread")
        if thread is None:  # deleted on the server: nothing left to decide
            return StateSnapshot({}, (), {"configurable": {}}, None, None, None, (), ())
        return snapshot_of(thread)

    async def _row(self, thread_id: str) -> Mapping[str, Any] | None:
        """The thread's row (``threads.get``: its status, values and open interrupts,
        without the checkpoint reads of ``get_state``, which take the in-memory server
        ~0.2 s with 1,000 threads); its state where the row does not say what failed."""
        from langgraph_sdk import errors

        try:
            row: Mapping[str, Any] = await self.client.threads.get(thread_id)
        except errors.NotFoundError:
            return None
        return await self._thread(thread_id) if row.get("status") == "error" else row

    async def _thread(self, thread_id: str) -> Mapping[str, Any] | None:
        from langgraph_sdk import errors

        try:
            state: Mapping[str, Any] = await self.client.threads.get_state(thread_id)
        except errors.NotFoundError:
            return None
        # A thread's state, in the shape of its ``threads.search`` row: the status the
        # row would carry is read from the state itself (a run's end may not have
        # reached the thread's status yet).
        interrupts = {
            str(task.get("id")): task.get("interrupts") or [] for task in state.get("tasks", [])
        }
        waiting = any(interrupts.values())
        failures = [str(task["error"]) for task in state.get("tasks", []) if task.get("error")]
        status = "busy" if state.get("next") and not waiting else "idle"
        return {
            "thread_id": thread_id,
            "values": state.get("values"),
            "interrupts": interrupts,
            "status": "error" if failures and not waiting else status,
            "error": "; ".join(failures),
            "created_at": state.get("created_at"),
        }

    async def astream(
        self, input: Any, config: Any, *, stream_mode: Any = None, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Creates the run on the server and waits for it to pause or end; yields nothing
        (the server keeps the thread's messages, and they are read from there)."""
        thread_id = str(config["configurable"]["thread_id"])
        self._primed.pop(thread_id, None)
        command = None
        if isinstance(input, Command):
            command, input = {"resume": input.resume}, None
        elif isinstance(input, Mapping):
            input = {k: _plain_messages(v) if k == "messages" else v for k, v in input.items()}
        run = await self.server.call(
            self.client.runs.create(
                thread_id,
                self.assistant_id,
                input=input,
                command=command,
                multitask_strategy="reject",
                if_not_exists="create",
            ),
            "the run",
        )
        await self.server.call(self.client.runs.join(thread_id, run["run_id"]), "the run")
        # Read where the run stopped from its state, not the thread's row: the run's
        # end may not have reached the row's status yet.
        ended = await self.server.call(self._thread(thread_id), "the thread")
        self._primed.pop(thread_id, None)  # read while the run was busy: stale now
        if ended is not None:
            self._primed[thread_id] = snapshot_of(ended)
        return
        yield {}  # an async generator that yields nothing


async def connect(server: AgentServer) -> ServerGraph:
    """The server's assistant, checked: unreachable, a refused key and an unknown
    assistant are each one line naming it."""
    client = server.client()
    await server.call(client.http.get("/ok"), "the health check")
    assistants = await server.call(client.assistants.search(limit=1000), "the assistants")
    wanted = server.assistant
    if wanted is None:
        if len(assistants) != 1:
            names = ", ".join(sorted(str(a.get("graph_id")) for a in assistants)) or "none"
            raise ServerRefused(
                f"server at {server.url} has {len(assistants)} assistants ({names}): "
                "name one with --assistant"
            )
        chosen = assistants[0]
    else:
        matches = [
            a
            for key in ("assistant_id", "graph_id", "name")
            for a in assistants
            if str(a.get(key)) == wanted
        ]
        if not matches:
            names = ", ".join(sorted({str(a.get("graph_id")) for a in assistants})) or "none"
            raise ServerRefused(
                f"no assistant {wanted!r} on server at {server.url} (it has: {names})"
            )
        chosen = matches[0]
    schemas = await server.call(
        client.assistants.get_schemas(chosen["assistant_id"]), "the assistant's schema"
    )
    return ServerGraph(server, client, chosen, schemas.get("input_schema"))


def snapshot_of(thread: Mapping[str, Any]) -> StateSnapshot:
    """A thread row of the server (``threads.get`` or ``threads.search``) as the state
    the runner reads: its values (messages as LangChain messages), its open interrupts,
    and ``next`` non-empty while a run is busy on it."""
    values = thread.get("values")
    if isinstance(values, Mapping) and isinstance(values.get("messages"), list):
        try:
            values = {**values, "messages": convert_to_messages(values["messages"])}
        except Exception:  # messages of a shape LangChain does not know: shown as JSON
            values = dict(values)
    interrupts = tuple(
        Interrupt(
            value=item.get("value"),
            id=str(item.get("id", "")),
            response_schema=item.get("response_schema"),
        )
        for items in (thread.get("interrupts") or {}).values()
        for item in items
        if isinstance(item, Mapping)
    )
    status = thread.get("status")
    next_: tuple[str, ...] = _RUNNING if status == "busy" else ()
    tasks: tuple[PregelTask, ...] = ()
    if status == "error" and not interrupts:  # stopped at the step that failed there
        failed = FailedOnServer(str(thread.get("error") or "a run failed on the server"))
        next_, tasks = _FAILED, (PregelTask("", _FAILED[0], (), error=failed),)
    config: RunnableConfig = {"configurable": {"thread_id": str(thread.get("thread_id", ""))}}
    created = thread.get("created_at")
    return StateSnapshot(
        values if values is not None else {},
        next_,
        config,
        None,
        str(created) if created else None,
        None,
        tasks,
        interrupts,
    )


def _plain_messages(messages: Any) -> Any:
    """LangChain messages as the JSON the server takes."""
    if not isinstance(messages, list):
        return messages
    return [
        {"type": m.type, "content": m.content} if isinstance(m, BaseMessage) else m
        for m in messages
    ]


@dataclass(frozen=True)
class ServedGraph(LoadedGraph):
    """The assistant, as the engine takes its graphs (``Engine.open(graphs=[...])``):
    it runs on the server, so it is not bound to the home's checkpointer. ``served``:
    connected already (in the loop the engine runs in), else connected when built."""

    server: AgentServer | None = field(default=None, repr=False, compare=False)
    served: ServerGraph | None = field(default=None, repr=False, compare=False)

    async def build(self, checkpointer: Any, config: Any = None) -> Any:
        if self.served is not None:
            return self.served
        assert self.server is not None
        return await connect(self.server)


async def served_graph(server: AgentServer, *, connected: bool = True) -> ServedGraph:
    """The server's assistant (checked by :func:`connect`) as one of the engine's graphs,
    named by its graph id. ``connected=False``: for an engine that opens in another
    event loop (the console's), which connects again when it opens."""
    graph = await connect(server)
    return ServedGraph(
        name=graph.name,
        spec=server.url,
        target=f"assistant {graph.assistant_id} at {server.url}",
        cwd=Path.cwd(),
        graph=None,
        server=server,
        served=graph if connected else None,
    )
