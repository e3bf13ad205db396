"""The engine's agent graph rebuilt on bare LangGraph, for ``bench/engine.py``.

Same shape as ``engine.graph.build_graph``: an ``agent`` node calling
``ScriptedChatModel().bind_tools(tool_schemas(CATALOGUE))``, a ``Send`` per tool call to
a ``tool`` node, back to ``agent`` until the model stops calling tools. The tool node
is what a plain LangGraph app would have (like the prebuilt ``ToolNode``): it validates
the arguments with the tool's pydantic model and runs the same catalogue
implementation. No journal, leases, execution rows or events.

With ``gated``, the tool node pauses where the engine's gate would: after the arguments
validate, a call the built-in default policy does not rate low calls ``interrupt()``,
and runs when resumed with an approval (``Command(resume={"type": "approve"})``);
anything else is told to the model as a refusal.

A module of its own because LangGraph reads the nodes' type hints at build time, so
``AgentState`` and ``CallTask`` must be module globals here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send, interrupt

from engine.graph import AgentState, CallTask, tool_schemas
from engine.home import Home
from engine.models.scripted import ScriptedChatModel
from engine.policy import Tier
from engine.policy_file import DEFAULT_POLICY_TOML, parse_policy
from engine.tools import CATALOGUE, Ledger, ToolContext

NO_LEDGER = cast(Ledger, None)
"""The bare side runs the low-tier task (search, read_file) and the email task: no tool
of them writes to the ledger, which lives in the engine's database."""


def build_bare_graph(checkpointer: Any, home: Path, gated: bool = False) -> Any:
    bound = ScriptedChatModel().bind_tools(tool_schemas(CATALOGUE))
    where = Home(home)
    policy = parse_policy(DEFAULT_POLICY_TOML, "built-in default policy", CATALOGUE)

    def approved(call: dict[str, Any]) -> bool:
        """True where the call may run: low tier, or a person approved it."""
        if not gated or policy.verdict(call["name"], call["args"]).tier == Tier.LOW:
            return True
        answer = interrupt({"tool": call["name"], "args": call["args"], "id": call["id"]})
        return isinstance(answer, dict) and answer.get("type") == "approve"

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
        except Exception as error:  # the model is told, as a ToolNode would
            return reply(call, f"Error: {error}", "error")
        if not approved(call):  # outside any try: interrupt() raises to pause
            return reply(call, f"The person rejected {call['name']}; not run.", "error")
        try:
            result, status = await spec.run(ctx, args), "success"
        except Exception as error:
            result, status = f"Error: {error}", "error"
        return reply(call, result, status)

    def reply(call: dict[str, Any], result: str, status: str) -> dict[str, Any]:
        message = ToolMessage(result, name=call["name"], tool_call_id=call["id"], status=status)
        return {"messages": [message]}

    builder = StateGraph(AgentState)
    builder.add_node("agent", agent)
    builder.add_node("tool", tool, input_schema=CallTask)  # type: ignore[arg-type]
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route, ["tool", END])
    builder.add_edge("tool", "agent")
    return builder.compile(checkpointer=checkpointer)
