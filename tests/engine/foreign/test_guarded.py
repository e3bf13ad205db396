"""``guarded``: a user's tool run by the engine runs at most once, whatever crashes.

Real parts throughout: the home's database (SQLite file, or PostgreSQL when configured),
LangGraph graphs made with ``create_agent`` or by hand around a ToolNode, and for the
crashes a child process SIGKILLed in the middle of the tool's body, after its effect.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from langchain.tools import ToolRuntime
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.types import Interrupt, interrupt

from engine import Home
from engine.foreign.guarded import GuardedToolError, guarded, is_guarded, use_guard
from engine.foreign.introspect import tool_args_schema
from engine.gate import REQUEST
from engine.storage.approvals import Approvals
from engine.views import ApprovalView
from tests.engine.foreign.guard_engine import Guarded, guarded_engine, killed_mid_pay
from tests.engine.foreign.guard_graphs import KINDS, PAY, Kind, build, last_answer, pay_tool

CHECKED = "I checked: alice was paid."


def _effects(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _tool_result(values: dict[str, Any]) -> ToolMessage:
    [result] = [m for m in values["messages"] if isinstance(m, ToolMessage)]
    return result


def _call(call_id: str = "call-1", amount: int = 5) -> dict[str, Any]:
    return {"name": "pay", "args": {"amount": amount}, "id": call_id, "type": "tool_call"}


async def _kinds(engine: Guarded, thread_id: str = "t1") -> list[str]:
    return [e.kind for e in await engine.audit(thread_id)]


# --- running once ------------------------------------------------------------------


async def test_a_guarded_tool_runs_once_and_its_run_is_recorded(home: Home, tmp_path: Path) -> None:
    effects = tmp_path / "effects.log"
    pay = guarded(pay_tool(effects))
    async with guarded_engine(home) as engine:
        graph = build("agent", [pay], engine.saver)
        assert await engine.start(graph, "t1") == []

        values = await engine.values(graph, "t1")
        result = _tool_result(values)
        plain = await pay_tool(tmp_path / "plain.log").ainvoke(_call(result.tool_call_id))
        assert (result.content, result.status, result.name) == (plain.content, "success", "pay")
        assert last_answer(values).content == "done"
        assert _effects(effects) == ["paid 5"]
        started, executed = await engine.audit("t1")
        assert (started.kind, started.tool) == ("tool_started", "pay")
        assert started.body == {"args": {"amount": 5}, "tool_call_id": result.tool_call_id}
        assert executed.kind == "tool_executed"
        assert (executed.body["result"], executed.body["ok"]) == ("paid 5", True)

        # The same call again (LangGraph re-running its node): the recorded result.
        with use_guard(engine.guard):
            again = await pay.ainvoke(_call(result.tool_call_id), _thread("t1"))
        assert (again.content, again.status, again.tool_call_id) == (
            "paid 5",
            "success",
            result.tool_call_id,
        )
        assert _effects(effects) == ["paid 5"]


def _thread(thread_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id}}


async def test_what_is_recorded_is_what_the_model_sent(home: Home, tmp_path: Path) -> None:
    """Arguments a ToolNode injects (the tool runtime, the graph's state) are neither the
    model's nor storable: the record has the model's arguments only."""
    effects = tmp_path / "effects.log"

    @tool
    async def pay(amount: int, runtime: ToolRuntime) -> str:
        """Pay someone an amount."""
        with effects.open("a") as log:
            log.write(f"paid {amount} in {runtime.tool_call_id}\n")
        return f"paid {amount}"

    async with guarded_engine(home) as engine:
        graph = build("agent", [guarded(pay)], engine.saver)
        await engine.start(graph, "t1")
        result = _tool_result(await engine.values(graph, "t1"))
        assert _effects(effects) == [f"paid 5 in {result.tool_call_id}"]
        started, _ = await engine.audit("t1")
        assert started.body["args"] == {"amount": 5}


async def test_a_sync_tool_is_guarded_too(home: Home, tmp_path: Path) -> None:
    effects = tmp_path / "effects.log"
    async with guarded_engine(home) as engine:
        graph = build("toolnode", [guarded(pay_tool(effects, sync=True))], engine.saver)
        await engine.start(graph, "t1")
        assert _tool_result(await engine.values(graph, "t1")).content == "paid 5"
        assert _effects(effects) == ["paid 5"]
        assert await _kinds(engine) == ["tool_started", "tool_executed"]


async def test_a_sync_node_may_invoke_a_guarded_tool(home: Home, tmp_path: Path) -> None:
    """LangGraph runs a sync node in a worker thread; the record is kept on the loop."""
    effects = tmp_path / "effects.log"
    pay = guarded(pay_tool(effects))

    def paying(state: MessagesState) -> dict[str, Any]:
        return {"messages": [pay.invoke(_call())]}

    builder = StateGraph(MessagesState)
    builder.add_node("paying", paying)
    builder.add_edge(START, "paying")
    async with guarded_engine(home) as engine:
        graph = builder.compile(checkpointer=engine.saver)
        await engine.start(graph, "t1")
        await engine.run(graph, "t2", {"messages": [HumanMessage(PAY)]})
        assert _effects(effects) == ["paid 5", "paid 5"]  # two threads: two calls
        assert await _kinds(engine, "t1") == ["tool_started", "tool_executed"]

        with use_guard(engine.guard), pytest.raises(GuardedToolError, match="ainvoke"):
            pay.invoke(_call("call-2"), _thread("t1"))  # on the loop: it would block it
        assert len(_effects(effects)) == 2


async def test_a_failed_call_is_recorded_and_not_run_again(home: Home, tmp_path: Path) -> None:
    effects = tmp_path / "effects.log"

    @tool
    async def pay(amount: int) -> str:
        """Pay someone an amount."""
        with effects.open("a") as log:
            log.write(f"tried {amount}\n")
        raise RuntimeError("card declined")

    async with guarded_engine(home) as engine:
        graph = build("agent", [guarded(pay)], engine.saver)
        with pytest.raises(RuntimeError, match="card declined"):
            await engine.start(graph, "t1")  # the ToolNode lets it through: the run fails
        assert await engine.run(graph, "t1", None) == []  # the thread carries on

        result = _tool_result(await engine.values(graph, "t1"))
        assert (result.content, result.status) == ("Error: RuntimeError: card declined", "error")
        assert _effects(effects) == ["tried 5"]
        assert await _kinds(engine) == ["tool_started", "tool_executed"]


async def test_a_tool_that_asks_its_own_question_runs_when_answered(
    home: Home, tmp_path: Path
) -> None:
    """An interrupt inside the tool is not a crash: answered, the tool runs from its top
    as LangGraph runs it, and nobody is asked whether it took effect."""
    effects = tmp_path / "effects.log"

    @tool
    async def pay(amount: int) -> str:
        """Pay someone an amount, once the payer confirms."""
        if interrupt({"question": f"pay {amount}?"}) != "yes":
            return "not paid"
        with effects.open("a") as log:
            log.write(f"paid {amount}\n")
        return f"paid {amount}"

    async with guarded_engine(home) as engine:
        graph = build("agent", [guarded(pay)], engine.saver)
        [question] = await engine.start(graph, "t1")
        assert question.value == {"question": "pay 5?"}
        assert await engine.answer(graph, "t1", question, "yes") == []  # type: ignore[arg-type]

        assert _tool_result(await engine.values(graph, "t1")).content == "paid 5"
        assert _effects(effects) == ["paid 5"]
        assert await _kinds(engine) == [
            "tool_started",
            "tool_paused",
            "tool_started",
            "tool_executed",
        ]


# --- after a crash -----------------------------------------------------------------


async def _asked(engine: Guarded, graph: Any, kind: Kind, child: list[dict[str, Any]]) -> Interrupt:
    """Runs the killed thread on; the one interrupt it stops at, which must be the
    engine's outcome-unknown question about the call."""
    interrupts = await engine.run(graph, "t1", None)
    if kind == "hitl":
        # LangChain asks its question again; the person's approval, which the runner
        # still holds (not applied: the run never finished), goes in again by its id.
        [approval] = interrupts
        assert approval.value["type"] == "tool_approval"
        [approving] = [line for line in child if line.get("milestone") == "approving"]
        assert approval.id == approving["interrupt"]
        interrupts = await engine.answer(graph, "t1", approval, {"type": "approve"})
    [asked] = interrupts
    request = REQUEST.validate_python(asked.value)
    assert (request.type, request.name, request.args) == ("outcome_unknown", "pay", {"amount": 5})
    return asked


@pytest.mark.parametrize("kind", KINDS)
async def test_a_call_cut_off_by_a_crash_is_asked_about_not_run_again(
    home: Home, tmp_path: Path, kind: Kind
) -> None:
    effects = tmp_path / "effects.log"
    child = killed_mid_pay(home, kind, "t1", effects)
    assert _effects(effects) == ["paid 5"]

    async with guarded_engine(home) as engine:
        pay = guarded(pay_tool(effects))
        graph = build(kind, [pay], engine.saver)
        asked = await _asked(engine, graph, kind, child)
        request = REQUEST.validate_python(asked.value)
        verdict = engine.engine.policy.verdict("pay", {"amount": 5})
        assert (request.tier, request.approvals_required) == (
            str(verdict.tier),
            verdict.approvals_required,
        )
        assert request.policy_digest == engine.engine.policy_digest
        assert request.args_schema == tool_args_schema(pay)
        assert _effects(effects) == ["paid 5"]

        # Running it again changes nothing: still asking, still one payment.
        assert [i.id for i in await engine.run(graph, "t1", None)] == [asked.id]
        assert _effects(effects) == ["paid 5"]

        respond = {"type": "respond", "message": CHECKED}
        assert await engine.answer(graph, "t1", asked, respond) == []
        values = await engine.values(graph, "t1")
        result = _tool_result(values)
        assert (result.content, result.status, result.name) == (CHECKED, "success", "pay")
        assert last_answer(values).content == "done"
        assert _effects(effects) == ["paid 5"]
        assert await _kinds(engine) == ["tool_started", "outcome_settled"]


@pytest.mark.parametrize("kind", KINDS)
async def test_approving_a_cut_off_call_runs_it_again_once(
    home: Home, tmp_path: Path, kind: Kind
) -> None:
    effects = tmp_path / "effects.log"
    child = killed_mid_pay(home, kind, "t1", effects)

    async with guarded_engine(home) as engine:
        graph = build(kind, [guarded(pay_tool(effects))], engine.saver)
        asked = await _asked(engine, graph, kind, child)
        assert await engine.answer(graph, "t1", asked, {"type": "approve"}) == []

        result = _tool_result(await engine.values(graph, "t1"))
        assert (result.content, result.status) == ("paid 5", "success")
        assert _effects(effects) == ["paid 5", "paid 5"]
        assert await _kinds(engine) == ["tool_started", "tool_started", "tool_executed"]
        assert await engine.run(graph, "t1", None) == []
        assert _effects(effects) == ["paid 5", "paid 5"]


async def test_rejecting_a_cut_off_call_marks_it_not_run(home: Home, tmp_path: Path) -> None:
    effects = tmp_path / "effects.log"
    child = killed_mid_pay(home, "agent", "t1", effects)

    async with guarded_engine(home) as engine:
        graph = build("agent", [guarded(pay_tool(effects))], engine.saver)
        asked = await _asked(engine, graph, "agent", child)
        reject = {"type": "reject", "message": "the bank has no record"}
        assert await engine.answer(graph, "t1", asked, reject) == []

        result = _tool_result(await engine.values(graph, "t1"))
        assert result.status == "error"
        assert result.content == (
            "Not run: a person marked this call as not having taken effect. "
            "Reason: the bank has no record"
        )
        assert _effects(effects) == ["paid 5"]


async def test_running_an_approved_call_again_asks_what_its_approval_asked(
    home: Home, tmp_path: Path
) -> None:
    """The call's approval as decided (an edit may have raised it), not the policy's
    verdict now, sets what running it again asks for."""
    effects = tmp_path / "effects.log"
    child = killed_mid_pay(home, "hitl", "t1", effects)
    [approving] = [line for line in child if line.get("milestone") == "approving"]
    now = time.time()
    approval = ApprovalView(
        id="a1b2c3d4",
        thread_id="t1",
        kind="tool_approval",
        tool_call_id=approving["call"],
        tool="pay",
        args={"amount": 5},
        original_args={"amount": 5},
        description="pay 5",
        tier="high",
        reason="raised by an edit",
        required=2,
        received=2,
        status="approved",
        created_at=now,
        interrupt_id=approving["interrupt"],
        distinct_operators=True,
    )

    async with guarded_engine(home) as engine:
        await engine.engine._store.commit([Approvals.insert_statement(approval)])
        graph = build("hitl", [guarded(pay_tool(effects))], engine.saver)
        asked = await _asked(engine, graph, "hitl", child)
        request = REQUEST.validate_python(asked.value)
        assert (request.tier, request.approvals_required, request.distinct_operators) == (
            "high",
            2,
            True,
        )
        assert request.reason.endswith("raised by an edit")


# --- no guard, and what a guarded tool looks like ------------------------------------


async def test_without_a_guard_a_guarded_tool_is_the_tool_it_wraps(
    home: Home, tmp_path: Path
) -> None:
    """The user's app running its graph by itself: nothing recorded, nothing changed."""
    effects = tmp_path / "effects.log"
    pay = guarded(pay_tool(effects))
    async with guarded_engine(home) as engine:
        graph = build("agent", [pay], engine.saver)
        await graph.ainvoke({"messages": [HumanMessage(PAY)]}, _thread("t1"))
        result = _tool_result(await engine.values(graph, "t1"))
        assert result.content == "paid 5"
        await pay.ainvoke(_call(result.tool_call_id), _thread("t1"))
        assert _effects(effects) == ["paid 5", "paid 5"]
        assert await engine.audit("t1") == []

    sync_graph = build("toolnode", [guarded(pay_tool(effects, sync=True))], InMemorySaver())
    sync_graph.invoke({"messages": [HumanMessage(PAY)]}, _thread("t2"))
    assert len(_effects(effects)) == 3


def _tools(effects: Path) -> list[BaseTool]:
    @tool
    def pay_with_runtime(amount: int, runtime: ToolRuntime) -> str:
        """Pay, knowing the call."""
        return f"paid {amount} in {runtime.tool_call_id}"

    return [pay_tool(effects), pay_tool(effects, sync=True), pay_with_runtime]


def test_a_guarded_tool_looks_the_same_to_the_model_and_to_langchain(tmp_path: Path) -> None:
    for original in _tools(tmp_path / "effects.log"):
        twin = guarded(original)
        assert isinstance(twin, type(original))
        assert (twin.name, twin.description) == (original.name, original.description)
        assert twin.args_schema is original.args_schema
        assert twin.args == original.args
        assert tool_args_schema(twin) == tool_args_schema(original)
        assert convert_to_openai_tool(twin) == convert_to_openai_tool(original)
        assert is_guarded(twin) and not is_guarded(original)
        assert guarded(twin) is twin


def test_functions_and_lists_are_guarded_as_tools() -> None:
    async def send(to: str, body: str) -> str:
        """Send a message."""
        return f"sent to {to}"

    made = guarded(send)
    assert is_guarded(made)
    assert convert_to_openai_tool(made) == convert_to_openai_tool(tool(send))

    @guarded
    def fetch(url: str) -> str:
        """Fetch a page."""
        return url

    assert is_guarded(fetch) and fetch.invoke({"url": "x"}) == "x"

    tools = guarded([made, fetch, tool(send)])
    assert isinstance(tools, list)
    assert [t.name for t in tools] == ["send", "fetch", "send"]
    assert all(is_guarded(t) for t in tools)
    assert tools[0] is made
