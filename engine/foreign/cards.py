"""From a paused graph's interrupts to approval cards, and from decisions back to a resume.

The engine's own gate asks in its own format, with its verdict inside. Any other graph
asks in its own (LangChain's HITL middleware, an Agent Inbox list, anything else): each
of its actions becomes a card judged here by the policy, fixed once per call so that
another process with another policy reads the same verdict back. The resume is sent
in the interrupt's own wire format, once every card of the interrupt is decided.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from langgraph.types import Interrupt

from engine.errors import HitlError
from engine.foreign.formats import Card, read_interrupt, resume_value
from engine.gate import REQUEST, call_digest
from engine.once import fixed_verdict
from engine.policy import Policy, Tier
from engine.storage.verdicts import FixedVerdict, Verdicts
from engine.views import ApprovalView

UNRECOGNISED_REASON = "an interrupt the engine does not recognise: a person answers it"
AUTO_OPERATOR = "policy:auto"
"""Who decides a call the policy approves (low) or denies without a person."""


@dataclass(frozen=True, slots=True)
class Asked:
    """One card of one interrupt: the key its approval row is found by."""

    interrupt: Interrupt
    card: Card

    @property
    def key(self) -> str:
        """The interrupt id, or ``id:index`` for one of several actions."""
        if self.card.count == 1:
            return self.interrupt.id
        return f"{self.interrupt.id}:{self.card.index}"

    @property
    def call_id(self) -> str:
        """The call's id where the interrupt names one, else the card's key."""
        return self.card.tool_call_id or self.key


def cards_of(interrupts: Sequence[Interrupt]) -> list[Asked]:
    """Every card of every interrupt, in order."""
    schema = _schema_of
    return [
        Asked(item, card)
        for item in interrupts
        for card in read_interrupt(item.value, schema(item))
    ]


def _schema_of(item: Interrupt) -> dict[str, Any] | None:
    schema = item.response_schema
    return schema if isinstance(schema, dict) else None


@dataclass(frozen=True, slots=True)
class CardJudge:
    """Gives a foreign card its verdict under the policy in force, fixed per call."""

    policy: Policy
    digest: Callable[[], str]
    verdicts: Verdicts
    unprotected: Callable[[str], bool] = lambda _tool: False
    """Whether a tool of the graph runs without recording that it started."""
    schema_of: Callable[[str], dict[str, Any] | None] = lambda _tool: None
    """A tool's argument schema from the graph's tool nodes, for a card whose interrupt
    gives none (a batched review, an inbox request): edits are checked against it."""

    @classmethod
    def default(cls, verdicts: Verdicts) -> CardJudge:
        """Under the built-in default policy, any tool name taken."""
        from engine.policy_file import DEFAULT_POLICY_TOML, parse_policy

        policy = parse_policy(DEFAULT_POLICY_TOML, "built-in default policy", AnyName())
        return cls(policy, lambda: policy.digest, verdicts)

    async def approval(
        self, thread_id: str, asked: Asked, approval_id: str, now: float, *, trusted: bool
    ) -> tuple[ApprovalView, float]:
        """The new card's approval row and when it was first requested. ``trusted``: the
        thread runs the engine's own agent, whose gate states its verdict in the request;
        any other graph's request in that shape is judged by the policy like any card,
        never below it (a graph must not choose how many people it needs)."""
        card = asked.card
        if card.format == "engine":
            approval, requested_at = _engine_approval(thread_id, asked, approval_id, now)
            if trusted:
                return approval, requested_at
            return _at_least(approval, await self._verdict(thread_id, asked)), requested_at
        verdict = await self._verdict(thread_id, asked)
        unrecognised = card.format == "unrecognised"
        approval = ApprovalView(
            id=approval_id,
            thread_id=thread_id,
            kind="interrupt" if unrecognised else "tool_approval",
            tool_call_id=asked.call_id,
            tool=card.tool,
            args=plain(card.args),
            original_args=plain(card.args),
            description=card.description,
            tier=verdict.tier,
            reason=verdict.reason,
            required=max(1, verdict.required),
            received=0,
            status="pending",
            created_at=now,
            interrupt_id=asked.key,
            args_schema=dict(
                card.args_schema or (None if unrecognised else self.schema_of(card.tool)) or {}
            ),
            rules=verdict.rules,
            distinct_operators=verdict.distinct_operators,
            expires_at=verdict.at + verdict.expires_after if verdict.expires_after else None,
            policy_digest=verdict.policy_digest,
            format=card.format,
            action_index=card.index,
            action_count=card.count,
            allowed=tuple(card.allowed),
            protected=unrecognised or not self.unprotected(card.tool),
            value=plain(card.value) if unrecognised else None,
        )
        return approval, verdict.at

    async def _verdict(self, thread_id: str, asked: Asked) -> FixedVerdict:
        card = asked.card
        if card.format == "unrecognised":
            return FixedVerdict(
                "medium", 1, False, None, UNRECOGNISED_REASON, (), self.digest(), time.time()
            )
        args = plain(card.args)
        mine = fixed_verdict(self.policy, self.digest(), card.tool, args)
        return await self.verdicts.fix(
            thread_id, asked.call_id, call_digest(card.tool, args), card.tool, mine
        )


class AnyName(frozenset[str]):
    """The tools a policy may name beside the engine's own (iterated, listed) when it
    judges people's graphs: their tools are known only once built, so any name is taken."""

    def __contains__(self, name: object) -> bool:
        return True


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON can hold it: a graph's interrupt may carry any Python object
    (tuples as keys, dataclasses, messages), which a card shows and stores as text."""
    if depth > 100:
        return "…"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, depth + 1) for v in value]
    return repr(value)


def _at_least(approval: ApprovalView, verdict: FixedVerdict) -> ApprovalView:
    """The approval asking at least what ``verdict`` asks (tier, people, four-eyes)."""
    if Tier(verdict.tier).severity <= Tier(approval.tier).severity:
        tier, reason, rules = approval.tier, approval.reason, approval.rules
    else:
        tier, reason, rules = verdict.tier, verdict.reason, verdict.rules
    return replace(
        approval,
        tier=tier,
        reason=reason,
        rules=rules,
        required=max(approval.required, verdict.required, 1),
        distinct_operators=approval.distinct_operators or verdict.distinct_operators,
        policy_digest=verdict.policy_digest,
    )


def automatic(approval: ApprovalView) -> dict[str, Any] | None:
    """The decision the policy takes alone on a foreign card (low: approve, deny:
    reject with the rule's reason), if the card allows it; None leaves it to a person."""
    if approval.format == "engine" or approval.status != "pending":
        return None
    if approval.tier == Tier.LOW and approval.allows("approve"):
        return {"type": "approve"}
    if approval.tier == Tier.DENY:
        message = f"Denied by policy ({approval.reason}). This call will not run; do not retry it."
        if approval.allows("reject"):
            return {"type": "reject", "message": message}
        if approval.allows("respond"):
            return {"type": "respond", "message": message}
    return None


@dataclass(frozen=True, slots=True)
class Resume:
    """What to send a paused graph: answers by interrupt id, and the cards they settle."""

    answers: dict[str, Any]
    applied: list[str]
    gone: list[ApprovalView]
    """Decided cards whose interrupt is no longer open: the thread went on elsewhere."""
    refused: list[tuple[list[ApprovalView], str]]
    """Decided cards whose interrupt cannot take what was decided (an expiry's rejection
    of a card that cannot be refused), and why; nothing is sent for them."""


def resume_of(interrupts: Sequence[Interrupt], decided: Sequence[ApprovalView]) -> Resume:
    """The answers for every open interrupt whose cards are all decided."""
    open_ = {item.id: item for item in interrupts}
    by_interrupt: dict[str, list[ApprovalView]] = {}
    gone: list[ApprovalView] = []
    for approval in decided:
        if approval.interrupt in open_:
            by_interrupt.setdefault(approval.interrupt, []).append(approval)
        else:
            gone.append(approval)
    answers: dict[str, Any] = {}
    applied: list[str] = []
    refused: list[tuple[list[ApprovalView], str]] = []
    for interrupt_id, approvals in by_interrupt.items():
        approvals.sort(key=lambda a: a.action_index)
        if len(approvals) < approvals[0].action_count:
            continue  # the other actions of this interrupt still wait for a person
        if approvals[0].format == "engine":
            answers[interrupt_id] = approvals[0].decision
        else:
            item = open_[interrupt_id]
            cards = read_interrupt(item.value, _schema_of(item))
            try:
                answers[interrupt_id] = resume_value(cards, [neutral(a) for a in approvals])
            except HitlError as error:
                refused.append((approvals, str(error)))
                continue
        applied += [a.id for a in approvals]
    return Resume(answers, applied, gone, refused)


def neutral(approval: ApprovalView) -> Mapping[str, Any]:
    """The decision as the formats read it (the engine's approval binds a digest that
    other graphs do not know)."""
    decision = dict(approval.decision or {})
    if decision.get("type") == "approve":
        return {"type": "approve"}
    return decision


def _engine_approval(
    thread_id: str, asked: Asked, approval_id: str, now: float
) -> tuple[ApprovalView, float]:
    request = REQUEST.validate_python(asked.interrupt.value)
    requested_at = request.requested_at or now
    args = plain(request.args)
    approval = ApprovalView(
        id=approval_id,
        thread_id=thread_id,
        kind=request.type,
        tool_call_id=request.tool_call_id,
        tool=request.name,
        args=args,
        original_args=args,
        description=request.description,
        tier=request.tier,
        reason=request.reason,
        required=request.approvals_required,
        received=0,
        status="pending",
        created_at=now,
        interrupt_id=asked.key,
        args_schema=request.args_schema,
        rules=tuple(request.rules),
        distinct_operators=request.distinct_operators,
        expires_at=requested_at + request.expires_after if request.expires_after else None,
        policy_digest=request.policy_digest,
    )
    return approval, requested_at
