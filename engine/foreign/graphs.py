"""The users' graphs an engine runs beside its own agent, by the names they were given.

Each is bound once to the engine's checkpointer when the engine opens. What the engine
needs to know of one without running it lives here: how a task becomes its input, and
which of its tools do not record that they started (a crash may run them twice).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

from engine.errors import HitlError
from engine.foreign.introspect import graph_tools, tool_args_schema, unprotected_tools
from engine.foreign.loading import LoadedGraph, takes_messages, validate_input

Built = Any
"""A compiled graph bound to the engine's checkpointer (a LangGraph ``Pregel``)."""


class UnknownGraph(HitlError):
    """A thread names a graph this engine was not given."""


class ForeignGraphs:
    """The configured graphs, in the order given; the first is the default."""

    def __init__(self, loaded: Sequence[LoadedGraph]) -> None:
        self._loaded = {g.name: g for g in loaded}
        self._built: dict[str, Built] = {}
        self._unprotected: set[str] = set()
        self._known_tools: set[str] = set()
        self._schemas: dict[str, dict[str, Any]] = {}

    def __bool__(self) -> bool:
        return bool(self._loaded)

    @property
    def names(self) -> list[str]:
        return list(self._loaded)

    @property
    def default(self) -> str | None:
        return next(iter(self._loaded), None)

    async def bind(self, saver: BaseCheckpointSaver[Any]) -> None:
        """Builds every graph on the engine's checkpointer (factories are called here)."""
        for name, loaded in self._loaded.items():
            graph = await loaded.build(saver)
            self._built[name] = graph
            tools = graph_tools(graph)
            self._known_tools |= set(tools)
            for tool_name, tool in tools.items():
                try:
                    self._schemas.setdefault(tool_name, tool_args_schema(tool))
                except Exception:  # a schema pydantic cannot render: edit as free JSON
                    continue
            self._unprotected |= unprotected_tools(graph, tools)

    def graph(self, name: str) -> Built:
        if name not in self._built:
            known = ", ".join(self.names) or "none"
            raise UnknownGraph(f"no graph named {name!r} here (configured: {known})")
        return self._built[name]

    def unprotected(self, tool: str) -> bool:
        """A tool not known to record that it started: found unguarded in a graph, or
        not found at all (a tool the engine cannot see may run twice after a crash)."""
        return tool in self._unprotected or tool not in self._known_tools

    def takes_messages(self, name: str) -> bool:
        return takes_messages(self.graph(name))

    def args_schema(self, tool: str) -> dict[str, Any] | None:
        """The JSON schema of a tool's arguments, from the graph's tool nodes, if found."""
        return self._schemas.get(tool)

    def new_thread_id(self, name: str | None) -> str | None:
        """The id a new thread on graph ``name`` must have where its graph chooses (an
        Agent Server takes only UUIDs); None: the engine's own kind of id."""
        if not name:
            return None
        made = getattr(self.graph(name), "new_thread_id", None)
        return str(made()) if made is not None else None

    def first_input(self, name: str, task: str, given: Any = None) -> Any:
        """The input a new thread starts with: the task as a message, for a graph whose
        state has messages; else ``given`` (a JSON value), checked against the graph's
        input schema before anything is written."""
        graph = self.graph(name)
        if given is None:
            if not takes_messages(graph):
                raise HitlError(
                    f"graph {name!r} does not take messages: give its input as JSON "
                    "(--input JSON or --input @file)"
                )
            return {"messages": [HumanMessage(task)]}
        if not isinstance(given, Mapping):
            raise HitlError(f"the input of graph {name!r} must be a JSON object")
        return validate_input(graph, dict(given))
