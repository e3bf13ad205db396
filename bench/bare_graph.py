"""The engine's agent graph rebuilt on bare LangGraph, for ``bench/engine.py``.

Same shape as ``engine.graph.build_graph``: an ``agent`` node calling
``ScriptedChatModel().bind_tools(tool_schemas(CATALOGUE))``, a ``Send`` per tool call to
a ``tool`` node, back to ``agent`` until the model stops calling tools. The tool node
is what a plain LangGraph app would have (like the prebuilt ``ToolNode``): it validates
the arguments with the tool's pydantic model and runs the same catalogue
implementation. No gate, policy, journal, leases, execution rows or events.

A module of its own because LangGraph reads the nodes' type hints at build time, so
``AgentState`` and ``CallTask`` must be module globals here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from engine.graph import AgentState, CallTask, tool_schemas
from engine.home import Home
from engine.models.scripted import ScriptedChatModel
from engine.tools import CATALOGUE, Ledger, ToolContext

NO_LEDGER = cast(Ledger, None)
"""The bare side runs the low-tier task only (search, read_file): no tool of it writes
to the ledger, which lives in the engine's database."""


def build_bare_graph(checkpointer: Any, home: Path) -> Any:
    bound = ScriptedChatModel().bind_tools(tool_schemas(CATALOGUE))
    where = Home(home)

    async def agent(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        return {"messages": [await bound.ainvoke(state["messages"], config)]}

    def route(state: AgentState) -> Any:
        last = state["messages"][-1]
        if isinstance(last, AIMessage) and last.tool_calls:
            return [Send("tool", CallTask(call=dict(c))) for c in last.tool_calls]
        return END

    async def tool(task: CallTask, config: RunnableConfig) -> dict[str, Any]:
        call = task["call"]
        spec = CATALOGUE[call["name"]]
        thread_id = config["configurable"]["thread_id"]
        ctx = ToolContext(thread_id, call["id"], where.sandbox, where.outbox, NO_LEDGER)
        try:
            args = spec.args_model.model_validate(call["args"])
            result, status = await spec.run(ctx, args), "success"
        except Exception as error:  # the model is told, as a ToolNode would
            result, status = f"Error: {error}", "error"
        message = ToolMessage(result, name=call["name"], tool_call_id=call["id"], status=status)
        return {"messages": [message]}

    builder = StateGraph(AgentState)
    builder.add_node("agent", agent)
    builder.add_node("tool", tool, input_schema=CallTask)  # type: ignore[arg-type]
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route, ["tool", END])
    builder.add_edge("tool", "agent")
    return builder.compile(checkpointer=checkpointer)
