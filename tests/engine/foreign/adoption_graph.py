"""The app side of the adoption tests: small LangGraph graphs that pause at
``interrupt()``, as an app of the user's would, on whatever saver the app chose.

Every graph of a thread must be the same graph each time it is run, so a thread's
graph is named by a word: ``ask`` (draft, ask, finish), ``ask_twice`` (one node asks
two questions, so the second interrupt lands on the checkpoint the first did),
``quick`` (no question: runs to the end), ``nested`` (the question is asked inside a
subgraph).
"""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt


class Draft(TypedDict, total=False):
    text: str
    answer: str


def _draft(state: Draft) -> dict[str, Any]:
    return {"text": f"draft of {state.get('text', '')}"}


def _ask(state: Draft) -> dict[str, Any]:
    return {"answer": interrupt({"question": f"send {state['text']}?"})}


def _ask_twice(state: Draft) -> dict[str, Any]:
    first = interrupt({"question": "who to?"})
    second = interrupt({"question": f"send to {first}?"})
    return {"answer": f"{first}/{second}"}


def _finish(state: Draft) -> dict[str, Any]:
    return {"text": f"{state['text']} (sent: {state.get('answer', 'no question')})"}


def _linear(*nodes: tuple[str, Any]) -> StateGraph[Any]:
    builder: StateGraph[Any] = StateGraph(Draft)
    previous = START
    for name, node in nodes:
        builder.add_node(name, node)
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    return builder


def build(kind: str, checkpointer: Any) -> Any:
    """The compiled graph named ``kind``, on ``checkpointer``."""
    if kind == "nested":
        inner = _linear(("draft", _draft), ("ask", _ask)).compile()
        return _linear(("review", inner), ("finish", _finish)).compile(checkpointer=checkpointer)
    nodes = {
        "ask": [("draft", _draft), ("ask", _ask), ("finish", _finish)],
        "ask_twice": [("draft", _draft), ("ask", _ask_twice), ("finish", _finish)],
        "quick": [("draft", _draft), ("finish", _finish)],
    }[kind]
    return _linear(*nodes).compile(checkpointer=checkpointer)


async def run(checkpointer: Any, kind: str, thread_id: str, answer: str | None = None) -> Any:
    """Starts thread ``thread_id`` on graph ``kind`` (or answers its question); runs
    until it pauses or ends. Returns the thread's state."""
    graph = build(kind, checkpointer)
    config = {"configurable": {"thread_id": thread_id}}
    given: Any = {"text": thread_id} if answer is None else Command(resume=answer)
    await graph.ainvoke(given, config)
    return await graph.aget_state(config)


def run_sync(checkpointer: Any, kind: str, thread_id: str, answer: str | None = None) -> Any:
    """``run`` with a sync saver (``SqliteSaver``)."""
    graph = build(kind, checkpointer)
    config = {"configurable": {"thread_id": thread_id}}
    given: Any = {"text": thread_id} if answer is None else Command(resume=answer)
    graph.invoke(given, config)
    return graph.get_state(config)
