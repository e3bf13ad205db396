from typing import Any

from langgraph.graph import START, MessagesState, StateGraph


def make_graph() -> Any:
    builder = StateGraph(MessagesState)
    builder.add_node("echo", lambda state: {})
    builder.add_edge(START, "echo")
    return builder.compile(name="sibling")
