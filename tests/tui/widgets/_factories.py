"""Plain engine values for widget tests (widgets take values, not an engine)."""

from __future__ import annotations

from typing import Any

from engine import ApprovalView, ThreadView


def thread(
    thread_id: str, *, created_at: float, status: str = "running", title: str = ""
) -> ThreadView:
    return ThreadView(
        id=thread_id,
        title=title or thread_id,
        task=title or thread_id,
        model="scripted",
        status=status,  # type: ignore[arg-type]
        created_at=created_at,
        updated_at=created_at,
    )


def approval(
    approval_id: str, *, created_at: float, tier: str = "medium", **changes: Any
) -> ApprovalView:
    args = changes.pop("args", {"to": "boss@company.com", "subject": "Q3"})
    values: dict[str, Any] = {
        "id": approval_id,
        "thread_id": "t-" + approval_id,
        "kind": "tool_approval",
        "tool_call_id": "call_" + approval_id,
        "tool": "send_email",
        "args": args,
        "original_args": args,
        "description": "Send an email.",
        "tier": tier,
        "reason": "",
        "required": 2 if tier == "high" else 1,
        "received": 0,
        "status": "pending",
        "created_at": created_at,
        "interrupt_id": approval_id * 4,
    }
    values.update(changes)
    return ApprovalView(**values)
