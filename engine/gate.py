"""The approval gate: one interrupt per gated tool call, decisions in, tool results out.

The gate runs inside the graph's per-call task (LangGraph ``Send``), so each call of a
turn pauses, is decided and runs on its own. Before a gated tool runs, its intent is
committed to the store; if the node is ever re-entered with that intent unfinished
(the process died mid-call), the gate does not run the tool again but asks a person.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from engine.errors import InvalidArguments
from engine.events import CallDenied, ToolExecuted
from engine.home import Home
from engine.once import OUTCOME_UNKNOWN, AtMostOnce, asked_again, fixed_verdict, interrupt_value
from engine.policy import Policy, Tier
from engine.storage.store import Store
from engine.storage.verdicts import FixedVerdict
from engine.tools import ToolContext, ToolRefused, ToolSpec, validate_args
from engine.tools.ledger import Ledger


def call_digest(tool: str, args: Mapping[str, Any]) -> str:
    """Binds an approval to the exact call it approved: name and arguments."""
    canonical = json.dumps({"name": tool, "args": args}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@functools.cache
def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """A tool's JSON schema, made once: pydantic builds it anew on every call (~2 ms),
    and the gate puts it in every interrupt, twice per approved call (the pause and the
    resume's re-run). Shared, so never changed by whoever reads it."""
    return model.model_json_schema()


class ApprovalRequest(BaseModel):
    """An interrupt value: LangChain's ``ToolApprovalRequest`` plus our fields."""

    model_config = ConfigDict(extra="allow")

    type: Literal["tool_approval", "outcome_unknown"]
    tool_call_id: str
    name: str
    args: dict[str, Any]
    description: str
    tier: str = "medium"
    reason: str = ""
    approvals_required: int = 1
    approvals_received: int = 0
    args_schema: dict[str, Any] = Field(default_factory=dict)
    rules: list[str] = Field(default_factory=list)
    distinct_operators: bool = False
    expires_after: float | None = None
    requested_at: float | None = None
    policy_digest: str = ""


class _Approve(BaseModel):
    type: Literal["approve"]
    call_digest: str | None = None


class _EditedAction(BaseModel):
    name: str
    args: dict[str, Any]


class _Edit(BaseModel):
    type: Literal["edit"]
    edited_action: _EditedAction


class _Reject(BaseModel):
    type: Literal["reject"]
    message: str | None = None


class _Respond(BaseModel):
    type: Literal["respond"]
    message: str


WireDecision = Annotated[_Approve | _Edit | _Reject | _Respond, Field(discriminator="type")]
REQUEST = TypeAdapter(ApprovalRequest)
DECISION: TypeAdapter[_Approve | _Edit | _Reject | _Respond] = TypeAdapter(WireDecision)


def edit_notice(original: Mapping[str, Any], edited: Mapping[str, Any]) -> str:
    """Tells the model what a person changed, so it does not retry its own version."""
    changes = [
        f"{key}: {json.dumps(original.get(key))} -> {json.dumps(edited.get(key))}"
        for key in sorted(set(original) | set(edited))
        if original.get(key) != edited.get(key)
    ]
    return (
        "Note: a human reviewer edited this call before it ran ("
        + "; ".join(changes)
        + "). The result below is of the edited call. Do not re-issue your original call."
    )


@dataclass(frozen=True, slots=True)
class Gate:
    """What the per-call node needs from the engine, injected once per engine."""

    home: Home
    store: Store
    policy: Policy
    policy_digest: str
    tools: Mapping[str, ToolSpec]
    publish: Callable[..., Awaitable[list[int] | None]]
    """The engine's ``_publish``: events, ``also=`` writes and ``audit=`` entries, all in
    one transaction; returns the writes' row counts."""
    ledger: Ledger
    """The demo tools' ledger (``ToolContext.ledger``)."""

    async def __call__(self, task: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        call = task["call"]
        thread_id = str(config["configurable"]["thread_id"])
        name = call["name"]
        if "unparsed" in call:
            return _reply(
                call,
                f"Error: the arguments of this call are not valid JSON ({call['unparsed']}). "
                "Send the call again with a JSON object of arguments.",
                ok=False,
            )
        spec = self.tools.get(name)
        if spec is None:
            return _reply(call, f"Error: there is no tool named {name!r}.", ok=False)
        try:
            args = validate_args(spec, call.get("args") or {})
        except InvalidArguments as error:
            return _reply(call, f"Error: {error}. Fix the arguments and try again.", ok=False)
        fixed = task.get("verdict")
        verdict = (
            FixedVerdict(**{**fixed, "rules": tuple(fixed["rules"])})
            if fixed
            else await self._verdict(thread_id, call["id"], name, args)  # checkpoints of old
        )
        if verdict.tier == Tier.DENY:
            return await self._deny(thread_id, call, args, verdict.reason)
        if verdict.required < 1:
            return await self._run(thread_id, call, spec, args)
        raw = interrupt(self._request(call, spec, args, verdict))
        decision = DECISION.validate_python(raw)
        if isinstance(decision, _Reject):
            return _reply(call, _rejection(name, decision.message), ok=False)
        if isinstance(decision, _Respond):
            return _reply(call, decision.message, ok=True)
        if isinstance(decision, _Edit):
            if decision.edited_action.name != name:
                return _reply(call, "Error: an edit may not switch the tool; not run.", ok=False)
            to_run = validate_args(spec, decision.edited_action.args)
            edited = self.policy.verdict(name, to_run)
            if edited.denied:  # the deciding process judged it; this one checks again
                return await self._deny(thread_id, call, to_run, edited.reason)
        else:
            if decision.call_digest and decision.call_digest != call_digest(name, args):
                return _reply(
                    call, "Error: the approval does not match this call; not run.", ok=False
                )
            to_run = args
        return await self._run_once(thread_id, call, spec, args, to_run, verdict)

    def judge(self, call: Mapping[str, Any]) -> dict[str, Any] | None:
        """The verdict of a call as the model asked for it (None for a call the gate
        refuses anyway: unknown tool, bad arguments).

        Judged once, where the turn's tasks are made: the verdict travels in the task,
        which is checkpointed, so LangGraph's re-runs of the call's node (for a sibling's
        decision, a resume, a crash), possibly in another process with another policy,
        read it back and never judge it again."""
        spec = self.tools.get(call.get("name") or "")
        if spec is None or "unparsed" in call:
            return None
        try:
            args = validate_args(spec, call.get("args") or {})
        except InvalidArguments:
            return None
        return dataclasses.asdict(self._fixed(spec.name, args))

    def _fixed(self, name: str, args: dict[str, Any]) -> FixedVerdict:
        return fixed_verdict(self.policy, self.policy_digest, name, args)

    async def _verdict(
        self, thread_id: str, call_id: str, name: str, args: dict[str, Any]
    ) -> FixedVerdict:
        """For a task made before verdicts travelled with it: stored the first time it
        is judged here, and read back after that."""
        mine = self._fixed(name, args)
        return await self.store.verdicts.fix(
            thread_id, call_id, call_digest(name, args), name, mine
        )

    async def _deny(
        self, thread_id: str, call: Mapping[str, Any], args: dict[str, Any], reason: str
    ) -> dict[str, Any]:
        await self.publish(CallDenied(thread_id, call["id"], call["name"], args, reason))
        return _reply(
            call, f"Denied by policy ({reason}). This call will not run; do not retry it.", ok=False
        )

    def _request(
        self,
        call: Mapping[str, Any],
        spec: ToolSpec,
        args: dict[str, Any],
        verdict: FixedVerdict,
        kind: str = "tool_approval",
    ) -> dict[str, Any]:
        description = (
            OUTCOME_UNKNOWN
            if kind == "outcome_unknown"
            else f"{spec.description} Risk {verdict.tier}: {verdict.reason}."
        )
        return interrupt_value(
            kind,
            call["id"],
            spec.name,
            args,
            verdict,
            description=description,
            args_schema=schema_of(spec.args_model),
        )

    async def _run_once(
        self,
        thread_id: str,
        call: Mapping[str, Any],
        spec: ToolSpec,
        original: dict[str, Any],
        args: dict[str, Any],
        verdict: FixedVerdict,
    ) -> dict[str, Any]:
        """Runs an approved call at most once, whatever crashes happen around it."""

        async def unknown() -> dict[str, Any]:
            again = await asked_again(self.store, thread_id, call["id"], verdict)
            return self._request(call, spec, args, again, "outcome_unknown")

        result, ok = await AtMostOnce(self.store, self.publish).run(
            thread_id,
            call["id"],
            spec.name,
            args,
            lambda: self._execute(thread_id, call, spec, args),
            unknown,
        )
        if args != original:
            result = f"{edit_notice(original, args)}\n\n{result}"
        return _reply(call, result, ok=ok)

    async def _run(
        self, thread_id: str, call: Mapping[str, Any], spec: ToolSpec, args: dict[str, Any]
    ) -> dict[str, Any]:
        """Runs a call nobody had to approve: no execution row, just its event."""
        result, ok = await self._execute(thread_id, call, spec, args)
        await self.publish(ToolExecuted(thread_id, call["id"], spec.name, args, result, ok))
        return _reply(call, result, ok=ok)

    async def _execute(
        self, thread_id: str, call: Mapping[str, Any], spec: ToolSpec, args: dict[str, Any]
    ) -> tuple[str, bool]:
        """The tool's (result, ok); a tool's failure goes to the model, not up the graph."""
        ctx = ToolContext(thread_id, call["id"], self.home.sandbox, self.home.outbox, self.ledger)
        try:
            # In its run's slot: the catalogue's tools are local work in this loop (files,
            # the outbox), which hundreds of busy threads must not do all at once.
            return await spec.run(ctx, spec.args_model.model_validate(args)), True
        except ToolRefused as error:
            return f"Refused: {error}", False
        except Exception as error:
            return f"Error: {type(error).__name__}: {error}", False


def _rejection(tool: str, reason: str | None) -> str:
    if reason:
        return f"User rejected the tool call for `{tool}` with reason: {reason}"
    return (
        f"User rejected the tool call for `{tool}`. The tool was not executed. "
        "Do not retry this tool call unless the user explicitly requests it."
    )


def _reply(call: Mapping[str, Any], content: str, *, ok: bool) -> dict[str, Any]:
    message = ToolMessage(
        content=content,
        name=call["name"],
        tool_call_id=call["id"],
        status="success" if ok else "error",
    )
    return {"messages": [message]}
