"""Run an example graph from a terminal without hitl: on an in-memory checkpointer,
each pause printed as JSON and answered with one line of JSON from stdin (an empty line
takes the answer shown as the default). What a person would do in hitl's console, by
hand, so each example can be tried on its own."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command


def default_answer(value: Any) -> Any:
    """Approve, in whichever shape the interrupt asks for."""
    if isinstance(value, dict) and value.get("type") == "tool_approval":
        return {"type": "approve"}
    if isinstance(value, dict) and "action_requests" in value:
        return {"decisions": [{"type": "approve"} for _ in value["action_requests"]]}
    if isinstance(value, list):  # Agent Inbox: one response per request
        return [{"type": "accept", "args": None} for _ in value]
    return True


def run_standalone(
    graph: Any, graph_input: Any, *, answer: Callable[[Any], Any] = default_answer
) -> Any:
    """Runs ``graph`` to the end, asking stdin at every pause; returns the final state."""
    runnable = graph.copy(update={"checkpointer": InMemorySaver()})
    config = {"configurable": {"thread_id": "standalone"}}
    result = runnable.invoke(graph_input, config, version="v2")
    while result.interrupts:
        answers = {}
        for pause in result.interrupts:
            default = answer(pause.value)
            print(json.dumps({"interrupt": pause.id, "value": pause.value}, indent=2, default=str))
            print(f"answer as JSON [{json.dumps(default)}]: ", end="", flush=True)
            line = sys.stdin.readline().strip()
            answers[pause.id] = json.loads(line) if line else default
        result = runnable.invoke(Command(resume=answers), config, version="v2")
    final = result.value
    messages = final.get("messages") if isinstance(final, dict) else None
    if messages:
        print(messages[-1].content)
    else:
        print(json.dumps(final, indent=2, default=str))
    return final
