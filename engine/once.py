"""At most once: a tool call's intent is committed before its body runs.

If the process dies while a call runs, its execution row stays "started": the next run
of the call does not run it again (it may have taken effect) but asks a person, with an
``outcome_unknown`` interrupt. One implementation for the engine's gate (its own tools)
and for ``engine.foreign.guarded`` (users' tools in their own graphs).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from langgraph.errors import GraphBubbleUp
from langgraph.types import interrupt

from engine.events import ToolExecuted
from engine.policy import Policy
from engine.storage.audit import AuditNote
from engine.storage.database import Statement
from engine.storage.executions import Executions
from engine.storage.store import Store
from engine.storage.verdicts import FixedVerdict
from engine.views import ApprovalView

OUTCOME_UNKNOWN = (
    "The process stopped while this call was running: it may or may not have taken effect. "
    "Approve to run it again, or respond to mark it done."
)

PAUSED = "paused"
"""The status of a call whose body raised an interrupt of its own: it did not finish and
did not crash; LangGraph runs it again from its top when that interrupt is answered."""


def interrupt_value(
    kind: str,
    call_id: str,
    tool: str,
    args: dict[str, Any],
    verdict: FixedVerdict,
    *,
    description: str,
    args_schema: dict[str, Any],
) -> dict[str, Any]:
    """An interrupt in the engine's format (``engine.gate.ApprovalRequest``): LangChain's
    ``ToolApprovalRequest`` plus the verdict, so the runner records it as it stands."""
    reason = (
        verdict.reason
        if kind == "tool_approval"
        else f"outcome unknown after a crash; re-running asks what the call asked: {verdict.reason}"
    )
    return {
        "type": kind,
        "tool_call_id": call_id,
        "name": tool,
        "args": args,
        "description": description,
        "tier": verdict.tier,
        "reason": reason,
        "approvals_required": verdict.required,
        "approvals_received": 0,
        "args_schema": args_schema,
        "rules": list(verdict.rules),
        "distinct_operators": verdict.distinct_operators,
        "expires_after": verdict.expires_after,
        "requested_at": verdict.at,
        "policy_digest": verdict.policy_digest,
    }


def outcome_unknown(
    call_id: str,
    tool: str,
    args: dict[str, Any],
    verdict: FixedVerdict,
    args_schema: dict[str, Any],
) -> dict[str, Any]:
    """The question for a person about a call found started after a crash."""
    return interrupt_value(
        "outcome_unknown",
        call_id,
        tool,
        args,
        verdict,
        description=OUTCOME_UNKNOWN,
        args_schema=args_schema,
    )


def fixed_verdict(
    policy: Policy, policy_digest: str, tool: str, args: Mapping[str, Any]
) -> FixedVerdict:
    """The policy's verdict on a call, as it is recorded: judged now, under this policy."""
    verdict = policy.verdict(tool, args)
    return FixedVerdict(
        tier=str(verdict.tier),
        required=verdict.approvals_required,
        distinct_operators=verdict.settings.distinct_operators,
        expires_after=verdict.settings.expires_after,
        reason=verdict.reason,
        rules=verdict.rules,
        policy_digest=policy_digest,
        at=time.time(),
    )


def asked(approval: ApprovalView) -> FixedVerdict:
    """What an approval asked for, as decided (an edit may have raised it)."""
    return FixedVerdict(
        tier=approval.tier,
        required=approval.required,
        distinct_operators=approval.distinct_operators,
        expires_after=(approval.expires_at - approval.created_at if approval.expires_at else None),
        reason=approval.reason,
        rules=approval.rules,
        policy_digest=approval.policy_digest,
        at=time.time(),
    )


async def asked_again(
    store: Store, thread_id: str, call_id: str, otherwise: FixedVerdict
) -> FixedVerdict:
    """What running an outcome-unknown call again asks for: what its approval asked, as
    decided, or ``otherwise`` for a call nobody approved."""
    decided = await store.approvals.of_call(thread_id, call_id)
    return asked(decided) if decided is not None else otherwise


class _Call(NamedTuple):
    """The call being run, and the records it makes."""

    thread_id: str
    id: str
    tool: str
    args: dict[str, Any]
    record: str
    """The key of its execution record: its id, or the id and what the call asks."""

    def note(self, kind: str, **body: Any) -> AuditNote:
        return AuditNote(kind, {**body, "tool_call_id": self.id}, self.thread_id, tool=self.tool)

    def finish(self, status: str, result: str) -> Statement:
        return Executions.finish_statement(self.thread_id, self.record, status, result)


@dataclass(frozen=True)
class AtMostOnce:
    """Runs tool bodies at most once per (thread, call), whatever crashes happen."""

    store: Store
    publish: Callable[..., Awaitable[list[int] | None]]
    """The engine's ``_publish``: events, ``also=`` writes and ``audit=`` entries, all in
    one transaction; returns the writes' row counts."""

    async def run(
        self,
        thread_id: str,
        call_id: str,
        tool: str,
        args: dict[str, Any],
        body: Callable[[], Awaitable[tuple[str, bool]]],
        unknown_request: Callable[[], Awaitable[dict[str, Any]]],
        record: str | None = None,
    ) -> tuple[str, bool]:
        """The call's (result, ok): from running ``body`` once, from the record of the
        run that already finished, or from a person when a run may have died mid-call
        (``unknown_request`` builds the ``outcome_unknown`` interrupt; approve runs it
        again, respond settles it with the message as result, reject as not run).

        ``body`` returns (result, ok); an exception from it is recorded as the call's
        failed result and raised on. An interrupt raised inside it (a tool that asks its
        own question) leaves the call "paused": it runs from its top when answered.
        ``record``: the execution record's key, when the call id alone may not name one
        call (a model that repeats ids); the audit names the call by its id.
        """
        key = record or call_id
        call = _Call(thread_id, call_id, tool, args, key)
        started = call.note("tool_started", args=args)
        claim = self.store.executions.claim_statement(thread_id, key, tool, args)
        counts = await self.publish(also=[claim], audit=[(0, started)])
        if not (counts and counts[0]):
            prior = await self.store.executions.get(thread_id, key)
            if prior is not None and prior.status not in ("started", PAUSED):
                return prior.result or "", prior.status == "ok"
            if prior is not None and prior.status == "started":
                settled = await self._ask(call, await unknown_request())
                if settled is not None:
                    return settled
            restart = self.store.executions.restart_statement(thread_id, key, tool, args)
            await self.publish(also=[restart], audit=[(None, started)])
        return await self._body(call, body)

    async def _ask(self, call: _Call, request: dict[str, Any]) -> tuple[str, bool] | None:
        """A person's answer about a call that may have run: (result, ok) when they
        settle it, None when they want it run again."""
        from engine.gate import DECISION  # the gate builds on this module

        answer = DECISION.validate_python(interrupt(request))
        if answer.type == "respond":
            status, text, ok = "ok", answer.message, True
        elif answer.type == "reject":
            status, ok = "error", False
            text = "Not run: a person marked this call as not having taken effect."
            if answer.message:
                text += f" Reason: {answer.message}"
        else:
            return None
        settled = call.note("outcome_settled", status=status, result=text)
        await self.publish(also=[call.finish(status, text)], audit=[(0, settled)])
        return text, ok

    async def _body(
        self, call: _Call, body: Callable[[], Awaitable[tuple[str, bool]]]
    ) -> tuple[str, bool]:
        """Runs the body and closes the call's record with how it ended."""
        try:
            result, ok = await body()
        except GraphBubbleUp:
            paused = call.note("tool_paused")
            await self.publish(also=[call.finish(PAUSED, "")], audit=[(0, paused)])
            raise
        except Exception as error:
            await self._finish(call, f"Error: {type(error).__name__}: {error}", ok=False)
            raise
        await self._finish(call, result, ok=ok)
        return result, ok

    async def _finish(self, call: _Call, result: str, *, ok: bool) -> None:
        """Closes the execution row with the event (and audit entry) of the run."""
        await self.publish(
            ToolExecuted(call.thread_id, call.id, call.tool, call.args, result, ok, gated=True),
            also=[call.finish("ok" if ok else "error", result)],
        )
