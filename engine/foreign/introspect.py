"""What a user's compiled graph can call: the tools of its ``ToolNode``s.

The engine shows these on a card (and which of them are not protected against running
again after a crash) without running the graph: it reads the nodes LangGraph compiled.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from langchain_core.runnables import Runnable, RunnableSequence
from langchain_core.tools import BaseTool
from langchain_core.utils.pydantic import model_json_schema
from langgraph.prebuilt import ToolNode
from langgraph.pregel import Pregel


def graph_tools(graph: Any) -> dict[str, BaseTool]:
    """The tools of every ToolNode in a compiled graph, by name: ``create_agent``'s
    "tools" node, a hand-made ToolNode (alone or in a sequence), and those of the
    graphs nested in it as nodes. Empty for a graph without one, or a remote graph."""
    found: dict[str, BaseTool] = {}
    for each in _graphs(graph):
        for node in each.nodes.values():
            for runnable in _steps(node.bound):
                if isinstance(runnable, ToolNode):
                    found.update(runnable.tools_by_name)
    return found


def tool_args_schema(tool: BaseTool) -> dict[str, Any]:
    """The JSON schema of the arguments the model sends (what it is shown: injected
    arguments such as the graph's state or the tool runtime left out)."""
    schema = tool.tool_call_schema
    return dict(schema) if isinstance(schema, dict) else model_json_schema(schema)


def unprotected_tools(graph: Any, tools: Mapping[str, BaseTool] | None = None) -> set[str]:
    """The graph's tools that are not ``guarded``: after a crash mid-call, LangGraph
    runs them again without asking anyone."""
    from engine.foreign.guarded import is_guarded  # guarded builds on this module

    found = graph_tools(graph) if tools is None else tools  # ``tools``: read already
    return {name for name, tool in found.items() if not is_guarded(tool)}


def _graphs(graph: Any) -> Iterator[Pregel[Any, Any, Any, Any]]:
    if not isinstance(graph, Pregel):
        return  # a remote graph: its nodes are not here to read
    yield graph
    for _, nested in graph.get_subgraphs(recurse=True):
        if isinstance(nested, Pregel):
            yield nested


def _steps(runnable: Runnable[Any, Any]) -> Iterator[Runnable[Any, Any]]:
    yield runnable
    if isinstance(runnable, RunnableSequence):
        for step in runnable.steps:
            yield from _steps(step)
