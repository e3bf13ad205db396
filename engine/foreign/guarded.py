"""At most once for users' own tools: ``guarded``.

A guarded tool run by the engine (a graph run inside :func:`use_guard`) commits that its
call started before its body runs and closes that record when it ends, as the engine
does for its own tools (``engine.once``). A call found started when the graph runs it
again (the process died mid-call) does not run again: it comes back to a person as an
``outcome_unknown`` interrupt in the engine's format. Approve runs it again, respond
settles it with the message as the tool's result, reject marks it not run. A call that
already finished returns its recorded result (a ToolMessage with that text).

Outside the engine (the user's app running the graph by itself, no guard in context) a
guarded tool is the tool it wraps: same name, description and argument schema, same
results, nothing recorded. The model and LangChain's middleware see no difference
either way: a guarded tool is an instance of the original's own class, with only
``invoke`` and ``ainvoke`` going through the guard.

The guard keys its record on the call's id, so the step that made the call must be saved
before the tool runs: run the graph with ``durability="sync"``. Under LangGraph's default
("async") a crash can lose that step; the model is then asked again, makes a new call,
and that one runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar, cast, overload

from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langchain_core.tools import tool as as_tool
from langgraph.config import get_config

from engine.errors import HitlError
from engine.foreign.introspect import tool_args_schema
from engine.gate import call_digest
from engine.once import AtMostOnce, asked_again, fixed_verdict, outcome_unknown
from engine.policy import Policy


@dataclass(frozen=True)
class Guard:
    """What a guarded tool needs from the engine running its graph."""

    once: AtMostOnce
    policy: Policy
    """Judges a call found started that nobody approved: what running it again asks."""
    policy_digest: str


GUARD: ContextVar[Guard | None] = ContextVar("hitl_guard", default=None)
"""The guard of the graph run in progress; None when the user's app runs it by itself."""

_LOOP: ContextVar[asyncio.AbstractEventLoop | None] = ContextVar("hitl_guard_loop", default=None)
"""The event loop the guard's store lives on, for a tool invoked synchronously."""

_RUNNING: ContextVar[str | None] = ContextVar("hitl_guarded_call", default=None)
"""The call whose body is running: the tool's own ``ainvoke`` may go through ``invoke``
(a sync tool's does, in a worker thread), which must then run it, not guard it again."""


@contextlib.contextmanager
def use_guard(guard: Guard) -> Iterator[None]:
    """Guarded tools called inside (by a graph run started here) run at most once."""
    tokens = (GUARD.set(guard), _LOOP.set(_running_loop()))
    try:
        yield
    finally:
        GUARD.reset(tokens[0])
        _LOOP.reset(tokens[1])


class GuardedToolError(HitlError):
    """A guarded tool was called in a way the guard cannot serve."""


class _Guarded(BaseTool):
    """Put before a tool's own class: its tool calls go through the guard in context.
    Never instantiated itself (see ``guarded``)."""

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        plain = super().ainvoke
        guard = GUARD.get()
        call = _tool_call(input)
        thread_id = _thread_id(config)
        if guard is None or call is None or thread_id is None or _running(call):
            return await plain(input, config, **kwargs)
        call_id = str(call["id"])
        args = _sent_args(self, call.get("args") or {})
        output: list[Any] = []

        async def body() -> tuple[str, bool]:
            token = _RUNNING.set(call_id)
            try:
                output.append(await plain(input, config, **kwargs))
            finally:
                _RUNNING.reset(token)
            return _outcome(output[0])

        async def unknown() -> dict[str, Any]:
            judged = fixed_verdict(guard.policy, guard.policy_digest, self.name, args)
            again = await asked_again(guard.once.store, thread_id, call_id, judged)
            return outcome_unknown(call_id, self.name, args, again, tool_args_schema(self))

        # The record is the call's: its id and what it asks. A model that numbers calls
        # per message repeats ids, and another call under a used id must still run.
        record = f"{call_id}#{call_digest(self.name, args)[:16]}"
        result, ok = await guard.once.run(
            thread_id, call_id, self.name, args, body, unknown, record=record
        )
        if output:
            return output[0]
        status = "success" if ok else "error"
        return ToolMessage(content=result, name=self.name, tool_call_id=call_id, status=status)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Under a guard, the record is kept on the guard's event loop: a synchronous
        call (a sync node, which LangGraph runs in a worker thread) waits for it there."""
        call = _tool_call(input)
        if GUARD.get() is None or call is None or _running(call):
            return super().invoke(input, config, **kwargs)
        loop = _LOOP.get()
        if loop is None or loop is _running_loop():
            raise GuardedToolError(
                f"tool {self.name!r} is guarded and was called with invoke() on the event "
                "loop its record is kept on (it would block it), or outside any; call it "
                "with ainvoke()"
            )
        # The coroutine runs in a copy of this thread's context (run_coroutine_threadsafe
        # schedules it with it), so the guard and LangGraph's run config go along.
        return asyncio.run_coroutine_threadsafe(
            self.ainvoke(input, config, **kwargs), loop
        ).result()


T = TypeVar("T", bound=BaseTool)


@overload
def guarded(tool: T) -> T: ...
@overload
def guarded(tool: Callable[..., Any]) -> BaseTool: ...
@overload
def guarded(tool: Sequence[BaseTool | Callable[..., Any]]) -> list[BaseTool]: ...
def guarded(tool: Any) -> Any:
    """``tool`` protected against running again after a crash: a LangChain tool, a plain
    function or coroutine (made a tool as ``@tool`` would), or a list of them (a list
    back). Usable as a decorator, above or instead of ``@tool``. Guarding twice is
    guarding once."""
    if isinstance(tool, Sequence) and not isinstance(tool, str):
        return [guarded(each) for each in tool]
    made = tool if isinstance(tool, BaseTool) else as_tool(tool)
    if not isinstance(made, BaseTool):
        raise TypeError(f"cannot guard {tool!r}: not a tool, a function or a list of them")
    if is_guarded(made):
        return made
    twin = made.model_copy()
    object.__setattr__(twin, "__class__", _guarded_class(type(made)))  # same fields, same state
    return twin


def is_guarded(tool: Any) -> bool:
    """Whether ``tool`` is protected against running again after a crash."""
    return isinstance(tool, _Guarded)


@functools.cache
def _guarded_class(cls: type[BaseTool]) -> type[BaseTool]:
    """The tool's own class with the guard in front: isinstance checks, fields, schema
    and every other method stay the original's."""
    return cast(
        "type[BaseTool]",
        type(cls.__name__, (_Guarded, cls), {"__module__": cls.__module__, "__doc__": cls.__doc__}),
    )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _tool_call(value: Any) -> dict[str, Any] | None:
    """The ToolCall a ToolNode passes (it carries the call id), or None for plain input."""
    if isinstance(value, dict) and value.get("type") == "tool_call" and value.get("id"):
        return value
    return None


def _running(call: dict[str, Any]) -> bool:
    return _RUNNING.get() == str(call["id"])


def _thread_id(config: RunnableConfig | None) -> str | None:
    """The thread the call belongs to, from the run's config."""
    if config is None or "thread_id" not in config.get("configurable", {}):
        try:
            config = get_config()
        except RuntimeError:  # not inside a graph run
            return None
    found = config.get("configurable", {}).get("thread_id")
    return None if found is None else str(found)


def _sent_args(tool: BaseTool, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments as the model sent them: without the graph state, store or runtime
    a ToolNode injects, which are neither the model's nor storable."""
    shown = tool_args_schema(tool).get("properties")
    return {k: v for k, v in args.items() if shown is None or k in shown}


def _outcome(output: Any) -> tuple[str, bool]:
    """A tool's output as the recorded (result, ok)."""
    if isinstance(output, ToolMessage):
        content = output.content
        text = content if isinstance(content, str) else json.dumps(content, default=str)
        return text, output.status != "error"
    return (output if isinstance(output, str) else str(output)), True
