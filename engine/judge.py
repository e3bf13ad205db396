"""The rules that judge a person's decision: pure, so they can be read and tested alone.

Nothing here reads the database, the clock or a file: the engine loads what a rule
needs (the approval, the policy a call was requested under, the edited call's verdict),
passes ``now``, and writes the outcome in one transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from engine.decisions import Answer, Decision, Edit, Reject, Respond
from engine.durations import span
from engine.errors import (
    AlreadyDecided,
    EditDenied,
    Expired,
    FourEyes,
    HitlError,
    InvalidArguments,
    InvalidDecision,
)
from engine.gate import call_digest
from engine.json_schema import check_schema
from engine.limits import MAX_JSON_DEPTH, nested_deeper
from engine.operators import same_operator
from engine.policy import Verdict
from engine.tools import ToolSpec, validate_args
from engine.views import ApprovalStatus, ApprovalView

EXPIRY_OPERATOR = "policy:expiry"
"""Who rejects an approval nobody decided in time."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """An approval as a decision leaves it, and the word the journal records for it."""

    approval: ApprovalView
    kind: str
    """``approve``, ``edit``, ``reject``, ``respond`` or ``expire``."""

    @property
    def final(self) -> bool:
        """False while the approval still waits for more approvals."""
        return self.approval.status != "pending"


@dataclass(frozen=True, slots=True)
class EditedCall:
    """An edit's arguments as the tool will get them, and the verdict they earn."""

    args: dict[str, Any]
    verdict: Verdict


def judge(
    approval: ApprovalView,
    decision: Decision,
    operator: str,
    now: float,
    edit: EditedCall | None = None,
) -> Outcome:
    """The approval after ``operator``'s decision at ``now``: still pending while it
    needs more approvals. Raises the error a person sees when the decision is not
    allowed (``edit`` is required for an :class:`Edit`, and judged by its verdict)."""
    if (error := refusal(approval, decision, now)) is not None:
        raise error
    kind = type(decision).__name__.lower()
    if isinstance(decision, Reject | Respond | Answer):
        status: ApprovalStatus = _STATUS_OF[kind]
        return Outcome(decided(approval, status, decision.wire(), operator, now), kind)
    if isinstance(decision, Edit):
        if edit is None:
            raise TypeError("an edit is judged with its EditedCall")
        approval = _edited(approval, edit, operator, now)
    elif approval.distinct_operators and any(
        same_operator(operator, earlier) for earlier in approval.approvers
    ):
        raise FourEyes(
            f"approval {approval.id}: {operator} already approved it; the policy wants "
            f"approval {approval.received + 1} of {approval.required} from another operator"
        )
    approvers = (*approval.approvers, operator)
    approval = replace(approval, approvers=approvers, received=len(approvers))
    if len(approvers) < approval.required:
        return Outcome(replace(approval, version=approval.version + 1), kind)
    if approval.args == approval.original_args:
        wire = {"type": "approve", "call_digest": call_digest(approval.tool, approval.args)}
        return Outcome(decided(approval, "approved", wire, operator, now), kind)
    edited = Edit(approval.args).wire(approval.tool)
    return Outcome(decided(approval, "edited", edited, operator, now), kind)


def refusal(approval: ApprovalView, decision: Decision, now: float) -> HitlError | None:
    """Why the decision is refused before its content is looked at, if it is: the
    approval was decided or ran out of time, or the decision does not fit its kind."""
    if approval.status != "pending":
        return already_decided(approval)
    if overdue(approval, now):
        return expired(approval)
    if isinstance(decision, Respond) and not decision.message.strip():
        return InvalidDecision("a response needs a message: it becomes the tool's result")
    choice = type(decision).__name__.lower()
    if approval.tier == "deny" and choice in ("approve", "edit"):
        # A graph's card the policy denies, whose interrupt offers no way to say no.
        return InvalidDecision(
            f"approval {approval.id} ({approval.tool}) is denied by policy "
            f"({approval.reason}); it cannot be approved or edited, only refused"
        )
    if approval.allows(choice):
        return None
    if approval.kind == "outcome_unknown":
        return InvalidDecision(
            f"approval {approval.id} is an outcome-unknown call: re-run it "
            "(approve) or mark it done (respond); it cannot be edited"
        )
    if approval.kind == "interrupt":
        return InvalidDecision(
            f"approval {approval.id} is an unrecognised interrupt: answer it with a JSON "
            "value (`hitl answer ID JSON`)"
        )
    allowed = ", ".join(approval.choices)
    return InvalidDecision(
        f"approval {approval.id} ({approval.tool}) does not allow {choice}: the graph "
        f"accepts {allowed}; nothing changed"
    )


_STATUS_OF: dict[str, ApprovalStatus] = {
    "reject": "rejected",
    "respond": "responded",
    "answer": "answered",
}


def already_decided(approval: ApprovalView) -> AlreadyDecided:
    """The refusal for a decision that came too late: who was first, and when."""
    if approval.decided_by == EXPIRY_OPERATOR:
        return expired(approval)
    if approval.status == "pending":
        return AlreadyDecided(
            f"approval {approval.id} changed while you were deciding "
            f"({approval.outcome} now); look at it again"
        )
    when = time.strftime("%H:%M:%S", time.localtime(approval.decided_at or 0))
    return AlreadyDecided(
        f"approval {approval.id} was already decided at {when}: {approval.outcome}"
    )


def expired(approval: ApprovalView) -> Expired:
    """The refusal for a decision that came after the approval's deadline."""
    when = time.strftime("%H:%M:%S", time.localtime(approval.expires_at or 0))
    return Expired(
        f"approval {approval.id} expired at {when}; it was rejected and the call did not run"
    )


def overdue(approval: ApprovalView, now: float) -> bool:
    return approval.expires_at is not None and now >= approval.expires_at


def expire(approval: ApprovalView, now: float) -> Outcome:
    """The approval rejected for want of a decision (fail-closed); the model is told."""
    waited = span(now - approval.created_at)
    reason = f"Expired: nobody decided within {waited}; the call was not run."
    rejected = decided(approval, "rejected", Reject(reason).wire(), EXPIRY_OPERATOR, now)
    return Outcome(rejected, "expire")


def edited_args(
    tool: ToolSpec | None, args: Mapping[str, Any], limit: int, schema: Mapping[str, Any] = {}
) -> dict[str, Any]:
    """The edited arguments as the tool will get them, or InvalidArguments: more than
    ``limit`` bytes of JSON, nested too deeply, or failing the tool's schema (the
    engine's tool, else ``schema``: the JSON schema the graph gave for the call)."""
    _within_limits(args, limit, "the edited arguments", "are")
    if tool is not None:
        return validate_args(tool, args)
    if schema:
        check_schema(schema, args)
    return dict(args)


def checked_answer(value: Any, limit: int, schema: Mapping[str, Any] = {}) -> Any:
    """An answer to an unrecognised interrupt, held to the limits an edit is, and to the
    schema the graph gave for it (``Interrupt.response_schema``), if any."""
    _within_limits(value, limit, "the answer", "is")
    if schema:
        check_schema(schema, value, "the answer is")
    return value


def _within_limits(value: Any, limit: int, what: str, be: str) -> None:
    if nested_deeper(value):
        raise InvalidArguments(f"{what} {be} nested too deeply (limit {MAX_JSON_DEPTH} levels)")
    try:
        size = len(json.dumps(value, ensure_ascii=False).encode())
    except (TypeError, ValueError) as error:
        raise InvalidArguments(f"{what} {be} not JSON ({error})") from None
    if size > limit:
        raise InvalidArguments(
            f"{what} {be} {_kb(size)}; the limit is {_kb(limit)} "
            "($HITL_MAX_EDIT_KB); nothing changed"
        )


def edit_verdict(now: Verdict, then: Verdict | None, asked: Verdict) -> Verdict:
    """An edit is a new call: judged by the policy in force (``now``) and by the one the
    call was requested under (``then``: another process's laxer policy cannot wave it
    through), and never below what the call ``asked`` for before the edit."""
    verdict = now if then is None else now.stricter(then)
    judged = verdict.stricter(asked)
    if asked.tier.severity > verdict.tier.severity:  # say why, of the arguments shown
        judged = replace(
            judged,
            reason=f"{verdict.reason}; kept at {asked.tier} as first asked ({asked.reason})",
        )
    return judged


def _edited(approval: ApprovalView, edit: EditedCall, operator: str, now: float) -> ApprovalView:
    """The approval of the edited call: its verdict replaces the old one, and earlier
    approvals no longer count (they approved other arguments)."""
    verdict = edit.verdict
    if verdict.denied:
        raise EditDenied(
            f"approval {approval.id}: the edited call is denied by policy "
            f"({verdict.reason}); nothing changed"
        )
    settings = verdict.settings
    expires_at = approval.expires_at
    if expires_at is None and settings.expires_after:
        expires_at = now + settings.expires_after
    return replace(
        approval,
        args=edit.args,
        tier=str(verdict.tier),
        reason=verdict.reason,
        rules=verdict.rules,
        required=verdict.approvals_required,
        distinct_operators=settings.distinct_operators,
        expires_at=expires_at,
        edited_by=operator,
        approvers=(),
    )


def decided(
    approval: ApprovalView, status: ApprovalStatus, wire: dict[str, Any], who: str, now: float
) -> ApprovalView:
    """The approval as ``who``'s final decision (``wire``) leaves it."""
    return replace(
        approval,
        status=status,
        decision=wire,
        decided_by=who,
        decided_at=now,
        version=approval.version + 1,
    )


def _kb(size: int) -> str:
    return f"{size / 1024:,.0f} KB" if size >= 10 * 1024 else f"{size / 1024:.1f} KB"
