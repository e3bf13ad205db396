"""Every form a graph attribute may take, and a few that are refused."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from typing_extensions import TypedDict

factory_calls: list[str] = []


class Count(TypedDict):
    count: int


def bump(state: Count) -> dict[str, Any]:
    return {"count": state["count"] + 1}


def make_builder() -> StateGraph[Count]:
    builder = StateGraph(Count)
    builder.add_node("bump", bump)
    builder.add_edge(START, "bump")
    return builder


builder = make_builder()
graph = make_builder().compile(name="counter")
own_saver = make_builder().compile(checkpointer=InMemorySaver())
settings = {"retries": 3}


def make_graph() -> Any:
    factory_calls.append("make_graph")
    return make_builder().compile(name="from_factory")


def make_graph_for(config: RunnableConfig) -> Any:
    factory_calls.append("make_graph_for")
    return make_builder().compile(name=config["configurable"].get("graph_name", "unnamed"))


async def make_graph_async() -> Any:
    factory_calls.append("make_graph_async")
    return make_builder()


def make_graph_with_saver() -> Any:
    return make_builder().compile(checkpointer=InMemorySaver())


def make_nothing() -> Any:
    return {"not": "a graph"}


def make_graph_broken() -> Any:
    raise RuntimeError("the API key is missing")


def combine(left: int, right: int) -> int:
    return left + right
