"""What a notification says: the facts of an event as plain JSON, and the words a person
reads in Slack or an email.

The body is fixed when the notification is queued (the approval as it was then), so a
retry an hour later says what the first try said. A webhook receives the body itself;
Slack and email render it here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from engine.events import (
    ApprovalDecided,
    ApprovalExpiring,
    ApprovalRequested,
    Event,
    ThreadFailed,
)
from engine.listing import one_line
from engine.notify.targets import NotifyTarget
from engine.views import ApprovalView

ARG_CHARS = 200
"""The most characters of one argument's value a message shows (then "…")."""
MAX_ARGS = 12
"""The most arguments a message lists (then "and N more")."""

_TITLES = {
    "approval_requested": "Approval needed",
    "expiring": "Approval expiring soon",
    "expired": "Approval expired (rejected)",
    "outcome_unknown": "Outcome unknown after a crash",
    "thread_failed": "Thread failed",
}


def notify_event(event: Event) -> tuple[str, ApprovalView | None] | None:
    """Which notification event ``event`` is (and its approval), or None for one that
    tells nobody."""
    if isinstance(event, ApprovalRequested):
        kind = (
            "outcome_unknown" if event.approval.kind == "outcome_unknown" else "approval_requested"
        )
        return kind, event.approval
    if isinstance(event, ApprovalExpiring):
        return "expiring", event.approval
    if isinstance(event, ApprovalDecided) and event.decision == "expire":
        return "expired", event.approval
    if isinstance(event, ThreadFailed):
        return "thread_failed", None
    return None


def notification_body(event: Event, name: str, approval: ApprovalView | None) -> dict[str, Any]:
    """The facts a receiver gets, as JSON: what happened, the thread, the call, and the
    commands that decide it."""
    body: dict[str, Any] = {"event": name, "at": event.at, "thread_id": event.thread_id}
    if isinstance(event, ThreadFailed):
        body["thread"] = {
            "id": event.thread.id,
            "title": event.thread.title,
            "error": event.thread.error,
        }
        body["commands"] = [f"hitl show {event.thread.id}", f"hitl retry {event.thread.id}"]
    if approval is not None:
        body["approval"] = {
            "id": approval.id,
            "kind": approval.kind,
            "tool": approval.tool,
            "tier": approval.tier,
            "args": approval.args,
            "reason": approval.reason,
            "rules": list(approval.rules),
            "required": approval.required,
            "received": approval.received,
            "expires_at": approval.expires_at,
            "status": approval.status,
        }
        body["commands"] = _commands(name, approval)
    return body


def _commands(name: str, approval: ApprovalView) -> list[str]:
    if name in ("expired",):
        return [f"hitl show {approval.thread_id}"]
    if approval.kind == "outcome_unknown":
        return [f"hitl rerun {approval.id}", f"hitl mark-done {approval.id}"]
    if approval.kind == "interrupt":
        return [f"hitl answer {approval.id} JSON"]
    return [f"hitl approve {approval.id}", f'hitl reject {approval.id} --reason "..."']


def queued_for(
    event: Event, targets: Sequence[NotifyTarget]
) -> list[tuple[NotifyTarget, str, ApprovalView | None]]:
    """The targets that want ``event``, with its notification event and approval."""
    found = notify_event(event)
    if found is None:
        return []
    name, approval = found
    tier = approval.tier if approval is not None else None
    return [(t, name, approval) for t in targets if t.wants(name, tier)]


def headline(body: dict[str, Any]) -> str:
    """One line: what happened, to which call or thread."""
    title = _TITLES.get(str(body.get("event")), str(body.get("event")))
    if (approval := body.get("approval")) is not None:
        return one_line(
            f"{title} ({approval['tier']}): {approval['tool']} in thread {body['thread_id']}"
        )
    return one_line(f"{title}: thread {body.get('thread_id')}")


def text_lines(body: dict[str, Any]) -> list[str]:
    """The message a person reads, line by line: every hidden character shown as
    ``⟨U+202E⟩`` and every value cut to ``ARG_CHARS``, so a message can neither hide
    what a call does nor grow without bound."""
    lines = [headline(body)]
    if (approval := body.get("approval")) is not None:
        args = approval.get("args") or {}
        for index, (key, value) in enumerate(args.items()):
            if index == MAX_ARGS:
                lines.append(f"  … and {len(args) - MAX_ARGS} more arguments")
                break
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            lines.append(f"  {one_line(str(key), 40)}: {one_line(shown, ARG_CHARS)}")
        lines.append(f"Why: {one_line(str(approval.get('reason', '')), ARG_CHARS)}")
        if approval.get("required", 0) > 1:
            lines.append(f"Needs {approval['required']} approvals ({approval['received']} so far)")
        if approval.get("expires_at"):
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(approval["expires_at"]))
            lines.append(f"Expires: {when}")
    if (thread := body.get("thread")) is not None:
        lines.append(f"Thread: {one_line(str(thread.get('title', '')), ARG_CHARS)}")
        if thread.get("error"):
            lines.append(f"Error: {one_line(str(thread['error']), ARG_CHARS)}")
    if commands := body.get("commands"):
        lines.append("Decide: " + " · ".join(commands))
    return lines


def slack_payload(body: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: the same lines, escaped for Slack's markup
    (``&``, ``<``, ``>``: an argument cannot make a link or a mention), commands as code."""
    lines = [_slack_escape(line) for line in text_lines(body)]
    lines[0] = f"*{lines[0]}*"
    if lines[-1].startswith("Decide: "):
        commands = lines[-1].removeprefix("Decide: ").split(" · ")
        lines[-1] = "Decide: " + " · ".join(f"`{c}`" for c in commands)
    return {"text": "\n".join(lines)}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
