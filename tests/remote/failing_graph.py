"""A graph that asks a person, then fails: once answered, its thread ends in the
server's ``error`` status. Served by the tests' ``langgraph dev`` as ``failing``."""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class Job(TypedDict, total=False):
    job: str
    answer: Any


def ask(state: Job) -> dict[str, Any]:
    return {"answer": interrupt({"question": f"Run job {state['job']}?"})}


def run(state: Job) -> dict[str, Any]:
    raise RuntimeError(f"the payment service is down (job {state['job']})")


graph = (
    StateGraph(Job)
    .add_node("ask", ask)
    .add_node("run", run)
    .add_edge(START, "ask")
    .add_edge("ask", "run")
    .add_edge("run", END)
    .compile()
)
