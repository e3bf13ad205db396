"""The agent graph: agent -> gate -> tool -> agent, until the model stops calling tools.

Each tool call of a turn becomes its own task (``Send``), so gated calls pause, are
decided and run independently of their siblings.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, NotRequired, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send

from engine.gate import Gate
from engine.slots import waiting
from engine.tools import ToolSpec


class AgentState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


class CallTask(TypedDict):
    call: dict[str, Any]
    verdict: NotRequired[dict[str, Any]]
    """The call's verdict, judged as the model asked for it. The task (with it) is part
    of the checkpoint, so every re-run of the call's node reads the same verdict back."""


def tool_schemas(tools: Mapping[str, ToolSpec]) -> list[dict[str, Any]]:
    """The tools as OpenAI function definitions, which every chat model binds."""
    return [
        {
            "type": "function",
            "function": {
                "name": spec.name,
                "description": spec.description,
                "parameters": spec.args_schema,
            },
        }
        for spec in tools.values()
    ]


def build_graph(
    model: BaseChatModel, gate: Gate, checkpointer: BaseCheckpointSaver[Any]
) -> CompiledStateGraph[Any, Any, Any, Any]:
    bound = model.bind_tools(tool_schemas(gate.tools))
    # A model of the engine's own lends its run slot only while it waits (the endpoint,
    # the demo's thinking): LangChain's work around the call is CPU in this loop, and
    # out of a slot, hundreds of threads' of it would make a person's decision wait.
    lends_itself = bool(getattr(model, "lends_run_slot", False))

    async def agent(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        if lends_itself:
            reply = await bound.ainvoke(state["messages"], config)
        else:
            async with waiting():  # the model may take seconds: let other threads step
                reply = await bound.ainvoke(state["messages"], config)
        if not reply.id:  # the journal de-duplicates replayed messages by id
            reply.id = f"ai-{uuid.uuid4().hex}"
        if isinstance(reply, AIMessage):
            unique_call_ids(reply, state["messages"])
        return {"messages": [reply]}

    def route(state: AgentState) -> Sequence[Send] | str:
        last = state["messages"][-1]
        if not isinstance(last, AIMessage):
            return END
        calls = [dict(c) for c in last.tool_calls]
        # Calls whose arguments did not parse go to the gate too, which tells the model.
        calls += [
            {
                "id": c["id"],
                "name": c["name"] or "",
                "args": {},
                "unparsed": c["error"] or c["args"],
            }
            for c in last.invalid_tool_calls
            if c.get("id")
        ]
        sends = []
        for call in calls:
            task = CallTask(call=call)
            if (verdict := gate.judge(call)) is not None:
                task["verdict"] = verdict
            sends.append(Send("tool", task))
        return sends or END

    async def tool(task: CallTask, config: RunnableConfig) -> dict[str, Any]:
        return await gate(dict(task), config)

    builder = StateGraph(AgentState)
    builder.add_node("agent", agent)
    builder.add_node("tool", tool, input_schema=CallTask)  # type: ignore[arg-type]
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route, ["tool", END])
    builder.add_edge("tool", "agent")
    return builder.compile(checkpointer=checkpointer)


def unique_call_ids(reply: AIMessage, history: Sequence[AnyMessage]) -> None:
    """Gives every tool call of ``reply`` an id no other call of the thread has.

    Approvals, verdicts and the at-most-once record are keyed by the call's id; a model
    (a buggy or hostile endpoint, or one that numbers calls from 0 each turn) that
    repeats an id must not make one call's record stand for another's."""
    seen = {
        call["id"]
        for message in history
        if isinstance(message, AIMessage)
        for call in [*message.tool_calls, *message.invalid_tool_calls]
        if call.get("id")
    }
    for call in [*reply.tool_calls, *reply.invalid_tool_calls]:
        original = call.get("id") or "call"
        if original in seen:
            call["id"] = f"{original}-{uuid.uuid4().hex[:8]}"
        seen.add(str(call["id"]))
