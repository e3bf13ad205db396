"""The rules that judge a decision, without a database: every branch of ``judge``."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from engine import Approve, Edit, Reject, Respond
from engine.errors import (
    AlreadyDecided,
    EditDenied,
    Expired,
    FourEyes,
    InvalidArguments,
    InvalidDecision,
)
from engine.gate import call_digest
from engine.judge import (
    EXPIRY_OPERATOR,
    EditedCall,
    already_decided,
    edit_verdict,
    edited_args,
    expire,
    judge,
)
from engine.policy import Tier, TierSettings, Verdict
from engine.tools import CATALOGUE
from engine.views import ApprovalView

NOW = 1_700_000_000.0
EMAIL = {"to": "bob@example.com", "subject": "Q3", "body": "numbers attached"}


def _approval(**changes: Any) -> ApprovalView:
    pending = ApprovalView(
        id="a1b2",
        thread_id="t1",
        kind="tool_approval",
        tool_call_id="call-1",
        tool="send_email",
        args=EMAIL,
        original_args=EMAIL,
        description="Send an email.",
        tier="medium",
        reason="tool send_email is medium",
        required=1,
        received=0,
        status="pending",
        created_at=NOW - 60,
        interrupt_id="i1",
        version=3,
    )
    return dataclasses.replace(pending, **changes)


def _verdict(tier: Tier, approvals: int = 1, **settings: Any) -> Verdict:
    return Verdict(tier, TierSettings(approvals, **settings), f"{tier} because")


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


# --- too late ------------------------------------------------------------------


def test_a_decided_approval_refuses_another_decision_naming_who_and_when() -> None:
    decided = _approval(
        status="approved", decided_by="bob", decided_at=NOW - 5, approvers=("bob",), received=1
    )
    with pytest.raises(AlreadyDecided) as refused:
        judge(decided, Approve(), "alice", NOW)
    assert not isinstance(refused.value, Expired)
    assert str(refused.value) == (
        f"approval a1b2 was already decided at {_clock(NOW - 5)}: approved by bob"
    )


def test_an_approval_that_changed_while_deciding_says_to_look_again() -> None:
    changed = _approval(received=1, required=2, approvers=("bob",))
    assert str(already_decided(changed)) == (
        "approval a1b2 changed while you were deciding (1/2 approvals now); look at it again"
    )


def test_an_approval_expired_by_policy_refuses_as_expired() -> None:
    rejected = expire(_approval(expires_at=NOW - 1), NOW).approval
    with pytest.raises(Expired, match=rf"approval a1b2 expired at {_clock(NOW - 1)}"):
        judge(rejected, Reject(), "alice", NOW)


@pytest.mark.parametrize("decision", [Approve(), Reject(), Respond("done"), Edit(EMAIL)])
def test_a_decision_at_or_after_the_deadline_is_refused(decision: Any) -> None:
    with pytest.raises(Expired, match="it was rejected and the call did not run"):
        judge(_approval(expires_at=NOW), decision, "alice", NOW)


def test_a_decision_just_before_the_deadline_counts() -> None:
    outcome = judge(_approval(expires_at=NOW + 0.001), Approve(), "alice", NOW)
    assert outcome.approval.status == "approved"


def test_expiry_rejects_by_policy_and_tells_the_model_how_long_nobody_decided() -> None:
    outcome = expire(_approval(created_at=NOW - 300), NOW)
    assert (outcome.kind, outcome.final) == ("expire", True)
    expired = outcome.approval
    assert (expired.status, expired.decided_by, expired.version) == (
        "rejected",
        EXPIRY_OPERATOR,
        4,
    )
    assert expired.decision == {
        "type": "reject",
        "message": "Expired: nobody decided within 5m; the call was not run.",
    }


# --- reject and respond --------------------------------------------------------


def test_a_rejection_is_final_and_carries_its_reason() -> None:
    outcome = judge(_approval(), Reject("not today"), "alice", NOW)
    assert (outcome.kind, outcome.final) == ("reject", True)
    rejected = outcome.approval
    assert (rejected.status, rejected.decided_by, rejected.decided_at) == (
        "rejected",
        "alice",
        NOW,
    )
    assert rejected.decision == {"type": "reject", "message": "not today"}
    assert rejected.version == 4


def test_a_response_becomes_the_tools_result() -> None:
    outcome = judge(_approval(), Respond("sent it by hand"), "alice", NOW)
    assert (outcome.kind, outcome.approval.status) == ("respond", "responded")
    assert outcome.approval.decision == {"type": "respond", "message": "sent it by hand"}


def test_a_response_without_words_is_refused() -> None:
    with pytest.raises(InvalidDecision, match="a response needs a message"):
        judge(_approval(), Respond("  \n"), "alice", NOW)


# --- approvals counting ---------------------------------------------------------


def test_a_high_tier_call_stays_pending_until_its_second_approval() -> None:
    high = _approval(tier="high", required=2)
    first = judge(high, Approve(), "alice", NOW)
    assert (first.final, first.approval.status, first.approval.received) == (False, "pending", 1)
    assert (first.approval.approvers, first.approval.version) == (("alice",), 4)
    assert first.approval.decided_by is None

    second = judge(first.approval, Approve(), "bob", NOW)
    assert (second.final, second.approval.status, second.approval.received) == (
        True,
        "approved",
        2,
    )
    assert second.approval.approvers == ("alice", "bob")
    assert second.approval.decision == {
        "type": "approve",
        "call_digest": call_digest("send_email", EMAIL),
    }


@pytest.mark.parametrize(
    "again",
    ["alice", "Alice ", "\uff41\uff4c\uff49\uff43\uff45", "\u0430lice", "al\u0456ce"],
    ids=["same", "case and space", "full-width", "cyrillic a", "cyrillic i"],
)
def test_four_eyes_refuses_the_same_operator_however_the_name_is_typed(again: str) -> None:
    first = judge(_approval(required=2, distinct_operators=True), Approve(), "alice", NOW)
    with pytest.raises(FourEyes, match=r"already approved it; .* approval 2 of 2 from another"):
        judge(first.approval, Approve(), again, NOW)


def test_without_four_eyes_one_operator_may_give_both_approvals() -> None:
    first = judge(_approval(required=2), Approve(), "alice", NOW)
    assert judge(first.approval, Approve(), "alice", NOW).approval.status == "approved"


# --- edits ----------------------------------------------------------------------


def test_an_edit_is_the_editors_approval_of_the_new_arguments() -> None:
    changed = {**EMAIL, "to": "carol@example.com"}
    edit = EditedCall(changed, _verdict(Tier.MEDIUM))
    outcome = judge(_approval(), Edit(changed), "alice", NOW, edit)
    assert (outcome.kind, outcome.final, outcome.approval.status) == ("edit", True, "edited")
    assert outcome.approval.args == changed
    assert outcome.approval.original_args == EMAIL
    assert outcome.approval.edited_by == "alice"
    assert outcome.approval.decision == {
        "type": "edit",
        "edited_action": {"name": "send_email", "args": changed},
    }


def test_an_edit_to_a_stricter_tier_takes_its_verdict_and_forgets_earlier_approvals() -> None:
    changed = {**EMAIL, "cc": ["all@example.com"]}
    stricter = _verdict(Tier.HIGH, 2, distinct_operators=True, expires_after=600)
    earlier = _approval(required=3, received=1, approvers=("bob",))
    outcome = judge(earlier, Edit(changed), "alice", NOW, EditedCall(changed, stricter))
    edited = outcome.approval
    assert not outcome.final
    assert (edited.tier, edited.reason, edited.required) == ("high", "high because", 2)
    assert (edited.approvers, edited.received) == (("alice",), 1)  # bob approved other args
    assert edited.distinct_operators
    assert edited.expires_at == NOW + 600  # it had no deadline; the new tier sets one
    with pytest.raises(FourEyes):
        judge(edited, Approve(), "alice", NOW)
    assert judge(edited, Approve(), "bob", NOW).approval.status == "edited"


def test_an_edit_keeps_an_existing_deadline() -> None:
    changed = {**EMAIL, "subject": "Q4"}
    verdict = _verdict(Tier.MEDIUM, expires_after=600)
    outcome = judge(
        _approval(expires_at=NOW + 30), Edit(changed), "alice", NOW, EditedCall(changed, verdict)
    )
    assert outcome.approval.expires_at == NOW + 30


def test_an_edit_back_to_the_original_arguments_is_an_approval() -> None:
    outcome = judge(
        _approval(), Edit(EMAIL), "alice", NOW, EditedCall(EMAIL, _verdict(Tier.MEDIUM))
    )
    assert outcome.approval.status == "approved"


def test_an_edit_into_a_denied_call_is_refused() -> None:
    changed = {**EMAIL, "to": "rival@example.com"}
    denied = Verdict(Tier.DENY, TierSettings(0), "rule no_rivals")
    with pytest.raises(EditDenied, match=r"denied by policy \(rule no_rivals\); nothing changed"):
        judge(_approval(), Edit(changed), "alice", NOW, EditedCall(changed, denied))


def test_an_edit_needs_its_judged_arguments() -> None:
    with pytest.raises(TypeError):
        judge(_approval(), Edit(EMAIL), "alice", NOW)


# --- calls whose outcome is unknown after a crash ---------------------------------


UNKNOWN = {"kind": "outcome_unknown", "tier": "high", "required": 1}


def test_an_unknown_outcome_approved_runs_the_call_again() -> None:
    outcome = judge(_approval(**UNKNOWN), Approve(), "alice", NOW)
    assert outcome.approval.status == "approved"
    assert outcome.approval.outcome == "re-run by alice"


def test_an_unknown_outcome_answered_is_marked_done() -> None:
    outcome = judge(_approval(**UNKNOWN), Respond("it was sent"), "alice", NOW)
    assert outcome.approval.outcome == "marked done by alice"


def test_an_unknown_outcome_rejected_is_marked_not_run() -> None:
    outcome = judge(_approval(**UNKNOWN), Reject(), "alice", NOW)
    assert outcome.approval.outcome == "marked not run by alice"


def test_an_unknown_outcome_cannot_be_edited() -> None:
    edit = EditedCall(EMAIL, _verdict(Tier.MEDIUM))
    with pytest.raises(InvalidDecision, match="outcome-unknown call: re-run it"):
        judge(_approval(**UNKNOWN), Edit(EMAIL), "alice", NOW, edit)


# --- what an edit may be ----------------------------------------------------------


def test_edited_arguments_past_the_limit_are_refused_with_sizes() -> None:
    big = {**EMAIL, "body": "x" * 20_000}
    with pytest.raises(InvalidArguments, match=r"are 20 KB; the limit is 10 KB"):
        edited_args(CATALOGUE["send_email"], big, 10 * 1024)


def test_edited_arguments_nested_too_deeply_are_refused() -> None:
    deep: Any = "bottom"
    for _ in range(150):
        deep = [deep]
    with pytest.raises(InvalidArguments, match="nested too deeply"):
        edited_args(CATALOGUE["send_email"], {**EMAIL, "cc": deep}, 1 << 20)


def test_edited_arguments_must_fit_the_tools_schema() -> None:
    with pytest.raises(InvalidArguments, match="arguments for send_email are invalid: to"):
        edited_args(CATALOGUE["send_email"], {**EMAIL, "to": "a@b.c, d@e.f"}, 1 << 20)


def test_an_edit_is_never_judged_below_what_the_call_first_asked() -> None:
    now = _verdict(Tier.LOW, 0)
    asked = _verdict(Tier.HIGH, 2)
    judged = edit_verdict(now, None, asked)
    assert (judged.tier, judged.approvals_required) == (Tier.HIGH, 2)
    assert judged.reason == "low because; kept at high as first asked (high because)"


def test_an_edit_is_judged_by_the_stricter_of_the_policies_then_and_now() -> None:
    judged = edit_verdict(_verdict(Tier.MEDIUM), _verdict(Tier.DENY, 0), _verdict(Tier.MEDIUM))
    assert judged.denied
