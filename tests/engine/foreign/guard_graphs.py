"""Users' graphs for the guard's tests: a ``pay`` tool with a side effect a test can
count (a line appended to a file per run of its body), in a ``create_agent`` agent (with
or without LangChain's per-call HITL middleware) or a hand-made ToolNode graph, all
played by the deterministic ``ScriptedChat`` of examples/."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from pathlib import Path
from typing import Any, Literal

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.pregel import Pregel

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))  # not a package

from scripted_chat import ScriptedChat, call

Kind = Literal["agent", "toolnode", "hitl"]
KINDS: tuple[Kind, ...] = ("agent", "toolnode", "hitl")
PAY = "pay 5 to alice"


def pay_tool(effects: Path, *, block: bool = False, sync: bool = False) -> BaseTool:
    """``pay``: appends a line to ``effects`` (its side effect), then answers. ``block``:
    says so on stdout ({"milestone": "entered"}) after the effect, and never returns."""

    def effect(amount: int) -> str:
        with effects.open("a") as log:
            log.write(f"paid {amount}\n")
        if block:
            print(json.dumps({"milestone": "entered"}), flush=True)
        return f"paid {amount}"

    @tool("pay")
    def pay_sync(amount: int) -> str:
        """Pay someone an amount."""
        result = effect(amount)
        if block:
            threading.Event().wait()
        return result

    @tool("pay")
    async def pay_async(amount: int) -> str:
        """Pay someone an amount."""
        result = effect(amount)
        if block:
            await asyncio.Event().wait()
        return result

    return pay_sync if sync else pay_async


def chat() -> ScriptedChat:
    """One call of ``pay``, then "done"."""
    return ScriptedChat(script=[[call("pay", amount=5)], "done"])


def build(
    kind: Kind, tools: list[BaseTool], saver: BaseCheckpointSaver[Any] | None
) -> Pregel[Any, Any, Any, Any]:
    if kind == "agent":
        return create_agent(chat(), tools, checkpointer=saver)
    if kind == "hitl":
        hitl = HumanInTheLoopMiddleware(interrupt_on={"pay": True}, interrupt_mode="per_call")
        return create_agent(chat(), tools, middleware=[hitl], checkpointer=saver)
    return toolnode_graph(tools, saver)


def toolnode_graph(
    tools: list[BaseTool], saver: BaseCheckpointSaver[Any] | None = None
) -> Pregel[Any, Any, Any, Any]:
    """A graph made by hand around a ToolNode: model -> tools -> model."""
    model = chat()

    def think(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", think)
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition, ["tools", END])
    graph.add_edge("tools", "model")
    return graph.compile(checkpointer=saver)


def last_answer(values: dict[str, Any]) -> AIMessage:
    message = values["messages"][-1]
    assert isinstance(message, AIMessage)
    return message
