"""What a compiled graph's tools are, read from the graph without running it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from langchain.agents import create_agent
from langchain.tools import ToolRuntime
from langchain_core.tools import BaseTool, tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import InjectedState, ToolNode

from engine.foreign.guarded import guarded
from engine.foreign.introspect import graph_tools, tool_args_schema, unprotected_tools
from tests.engine.foreign.guard_graphs import build, chat, pay_tool


@tool
def search(query: str) -> str:
    """Search the web."""
    return query


def test_the_tools_of_an_agent(tmp_path: Path) -> None:
    pay = guarded(pay_tool(tmp_path / "effects.log"))
    for kind in ("agent", "hitl"):
        agent = build(kind, [pay, search], None)
        found = graph_tools(agent)
        assert set(found) == {"pay", "search"}
        assert found["pay"] is pay
        assert unprotected_tools(agent) == {"search"}


def test_the_tools_of_a_hand_made_tool_node(tmp_path: Path) -> None:
    pay = pay_tool(tmp_path / "effects.log")
    graph = build("toolnode", [pay], None)
    assert graph_tools(graph) == {"pay": pay}
    assert unprotected_tools(graph) == {"pay"}
    assert unprotected_tools(build("toolnode", guarded([pay]), None)) == set()


def test_the_tools_of_a_graph_nested_as_a_node(tmp_path: Path) -> None:
    inner = create_agent(chat(), [guarded(pay_tool(tmp_path / "effects.log"))])
    outer = StateGraph(MessagesState)
    outer.add_node("assistant", inner)
    outer.add_node("searching", ToolNode([search]))
    outer.add_edge(START, "assistant")
    graph = outer.compile()
    assert set(graph_tools(graph)) == {"pay", "search"}
    assert unprotected_tools(graph) == {"search"}


def test_a_graph_without_tools_has_none() -> None:
    def answer(state: MessagesState) -> dict[str, Any]:
        return {"messages": []}

    graph = StateGraph(MessagesState)
    graph.add_node("answer", answer)
    graph.add_edge(START, "answer")
    assert graph_tools(graph.compile()) == {}
    assert unprotected_tools(graph.compile()) == set()
    assert graph_tools(object()) == {}  # not a compiled graph (a remote one): nothing to read


def test_the_args_schema_is_what_the_model_sends() -> None:
    @tool
    def pay(
        amount: int,
        memo: str,
        runtime: ToolRuntime,
        messages: Annotated[list[Any], InjectedState("messages")],
    ) -> str:
        """Pay someone an amount."""
        return memo

    schema = tool_args_schema(pay)
    assert set(schema["properties"]) == {"amount", "memo"}
    assert schema["required"] == ["amount", "memo"]
    sent = convert_to_openai_tool(pay)["function"]["parameters"]
    assert set(sent["properties"]) == set(schema["properties"])

    by_json: BaseTool = tool(
        "lookup",
        description="Look a name up.",
        args_schema={"type": "object", "properties": {"name": {"type": "string"}}},
    )(lambda name: name)
    assert tool_args_schema(by_json)["properties"] == {"name": {"type": "string"}}
