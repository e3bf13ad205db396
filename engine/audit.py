"""What the engine's events leave in the audit log (``engine.storage.audit``)."""

from __future__ import annotations

from engine.storage.audit import AuditNote


def audit_note(event: object) -> AuditNote | None:
    """The audit entry an engine event makes, if any.

    Only what a reviewer needs after the fact: approvals asked for (with the verdict and
    the policy it came from), every decision (with the original and the edited
    arguments and the reason), every execution and its result, low tier included,
    denials, expiries and resolutions of outcome-unknown calls.
    """
    from engine.events import (
        ApprovalDecided,
        ApprovalRequested,
        ApprovalWithdrawn,
        CallDenied,
        ToolExecuted,
    )

    if isinstance(event, ApprovalRequested):
        a = event.approval
        kind = "outcome_unknown" if a.kind == "outcome_unknown" else "approval_requested"
        body = {
            "args": a.args,
            "tier": a.tier,
            "reason": a.reason,
            "rules": list(a.rules),
            "required": a.required,
            "distinct_operators": a.distinct_operators,
            "expires_at": a.expires_at,
            "policy": a.policy_digest,
            "tool_call_id": a.tool_call_id,
            "format": a.format,
            "allowed": list(a.allowed),
            "protected": a.protected,
            **({"value": a.value} if a.kind == "interrupt" else {}),
        }
        return AuditNote(kind, body, a.thread_id, a.id, a.tool)
    if isinstance(event, ApprovalWithdrawn):
        a = event.approval
        body = {"reason": event.reason, "args": a.args, "tool_call_id": a.tool_call_id}
        return AuditNote("approval_withdrawn", body, a.thread_id, a.id, a.tool)
    if isinstance(event, ApprovalDecided):
        a = event.approval
        if event.decision == "expire":
            kind = "expired"
        elif a.kind == "outcome_unknown":
            kind = "outcome_resolved"
        else:
            kind = "decision"
        wire = a.decision or {}
        body = {
            "decision": event.decision,
            "final": event.final,
            "status": a.status,
            "original_args": a.original_args,
            "args": a.args,
            "edited": a.args != a.original_args,
            "edited_by": a.edited_by,
            "tier": a.tier,
            "rules": list(a.rules),
            "reason": wire.get("message"),
            **({"value": wire.get("value")} if a.status == "answered" else {}),
            "approvals": f"{a.received}/{a.required}",
            "approvers": list(a.approvers),
        }
        return AuditNote(kind, body, a.thread_id, a.id, a.tool, event.operator)
    if isinstance(event, ToolExecuted):
        body = {
            "args": event.args,
            "ok": event.ok,
            "result": event.result,
            "gated": event.gated,
            "tool_call_id": event.tool_call_id,
        }
        return AuditNote("tool_executed", body, event.thread_id, tool=event.tool)
    if isinstance(event, CallDenied):
        body = {"args": event.args, "reason": event.reason, "tool_call_id": event.tool_call_id}
        return AuditNote("call_denied", body, event.thread_id, tool=event.tool)
    return None
