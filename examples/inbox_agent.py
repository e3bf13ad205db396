"""An agent in the Agent Inbox style: a message graph whose review node calls
``interrupt([request])`` with one ``HumanInterrupt`` and acts on the reply list.

The request says what the agent wants to do (``action_request``: an action and its
args), which answers it takes (``config``: accept, edit, respond, ignore) and why
(``description``). The reply is ``[{"type": ..., "args": ...}]``:

- ``accept`` (args ``None``): the note is written as proposed;
- ``edit`` (args ``{"action": ..., "args": {...}}``): the note is written with the
  person's arguments (the action itself cannot be switched);
- ``response`` (args: text): nothing is written; the text goes back to the model, which
  answers it;
- ``ignore``: nothing is written and the thread ends.

The effect is real: ``write_note`` writes a file into ``$EXAMPLE_OUTBOX`` (default
``./outbox``). The typed dicts are written out here, as the Agent Inbox documents them,
rather than imported from LangGraph's deprecated ``langgraph.prebuilt.interrupt``.

Run it on its own: ``python examples/inbox_agent.py "Note for standup: ship v2"``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, TypedDict

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import Command, interrupt
from scripted_chat import Reply, ScriptedChat, call, text_of


class ActionRequest(TypedDict):
    action: str
    args: dict[str, Any]


class HumanInterruptConfig(TypedDict):
    allow_ignore: bool
    allow_respond: bool
    allow_edit: bool
    allow_accept: bool


class HumanInterrupt(TypedDict):
    action_request: ActionRequest
    config: HumanInterruptConfig
    description: str | None


class HumanResponse(TypedDict):
    type: Literal["accept", "ignore", "response", "edit"]
    args: str | ActionRequest | None


def outbox() -> Path:
    """Where notes are written, read at each call so a test can move it."""
    return Path(os.environ.get("EXAMPLE_OUTBOX", "outbox")).resolve()


def write_note(filename: str, text: str) -> str:
    """The effect under review: a file in the outbox."""
    target = outbox() / Path(filename).name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text + "\n")
    return f"wrote {target.name}"


def propose(messages: list[BaseMessage]) -> Reply:
    """First turn: a note holding the task's text, named after its first words."""
    task = next((text_of(m) for m in messages if isinstance(m, HumanMessage)), "")
    words = re.findall(r"\w+", task.lower())[:3] or ["note"]
    return [call("write_note", filename="-".join(words) + ".txt", text=task)]


def conclude(messages: list[BaseMessage]) -> Reply:
    """Second turn: answers what came back, the tool's result or the person's words."""
    last = messages[-1]
    if isinstance(last, ToolMessage) and last.status == "error":
        return f"Understood, I did not write it. You said: {text_of(last)}"
    return f"Done: {text_of(last)}"


model = ScriptedChat(script=[propose, conclude])


def agent(state: MessagesState) -> dict[str, Any]:
    return {"messages": [model.invoke(state["messages"])]}


def review(state: MessagesState) -> Command[Literal["agent", "__end__"]]:
    """One Agent Inbox request per proposed call; the reply decides what happens."""
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    proposed = last.tool_calls[0]
    request = HumanInterrupt(
        action_request=ActionRequest(action=proposed["name"], args=proposed["args"]),
        config=HumanInterruptConfig(
            allow_accept=True, allow_edit=True, allow_respond=True, allow_ignore=True
        ),
        description=f"Write the note {proposed['args'].get('filename', '')!r}?",
    )
    reply: HumanResponse = interrupt([request])[0]
    if reply["type"] == "ignore":
        return Command(goto=END)
    if reply["type"] == "response":
        said = ToolMessage(
            content=str(reply["args"]),
            tool_call_id=proposed["id"],
            name=proposed["name"],
            status="error",
        )
        return Command(goto="agent", update={"messages": [said]})
    args = proposed["args"]
    if reply["type"] == "edit":
        edited = reply["args"]
        assert isinstance(edited, dict)
        args = edited["args"]
    result = write_note(**args)
    done = ToolMessage(content=result, tool_call_id=proposed["id"], name=proposed["name"])
    return Command(goto="agent", update={"messages": [done]})


def route(state: MessagesState) -> Literal["review", "__end__"]:
    last = state["messages"][-1]
    return "review" if isinstance(last, AIMessage) and last.tool_calls else END


def build_graph(checkpointer: BaseCheckpointSaver[Any] | None = None) -> Any:
    """The graph; an app passes its own checkpointer, hitl attaches one itself."""
    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("review", review)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route)
    return builder.compile(checkpointer=checkpointer, name="inbox_agent")


graph = build_graph()


if __name__ == "__main__":
    import sys

    from standalone import run_standalone

    task = " ".join(sys.argv[1:]) or "Note for standup: ship v2 on Friday"
    run_standalone(graph, {"messages": [{"role": "user", "content": task}]})
