"""``hitl notify test``: one made-up notification to every configured target, now.

It goes straight to each target (not through the outbox), so a person setting up a
webhook, a Slack channel or a mail relay sees at once whether it works, and why not.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from engine.notify.delivery import DeliveryFailed, deliver, http_client
from engine.notify.targets import NotifyTarget

TEST_ID = 0
"""The delivery id of a test notification (a queued one's id is never 0)."""


def test_body(target: NotifyTarget) -> dict[str, Any]:
    """A notification like a real one of the first event ``target`` wants."""
    event = target.on[0]
    body: dict[str, Any] = {"event": event, "at": time.time(), "thread_id": "test", "test": True}
    if event == "thread_failed":
        body["thread"] = {"id": "test", "title": "a test from hitl notify test", "error": "none"}
        body["commands"] = ["hitl show test"]
        return body
    body["approval"] = {
        "id": "test",
        "kind": "outcome_unknown" if event == "outcome_unknown" else "tool_approval",
        "tool": "send_email",
        "tier": target.tiers[0] if target.tiers else "medium",
        "args": {"to": "someone@example.com", "subject": "a test from hitl notify test"},
        "reason": "this is a test notification; nothing waits",
        "rules": [],
        "required": 1,
        "received": 0,
        "expires_at": None,
        "status": "pending",
    }
    body["commands"] = ["hitl pending"]
    return body


async def send_tests(
    targets: Sequence[NotifyTarget], environ: Mapping[str, str] = os.environ
) -> list[tuple[NotifyTarget, str | None]]:
    """Each target, with None when it was delivered, else why not."""

    client = await http_client()

    async def one(target: NotifyTarget) -> str | None:
        try:
            await deliver(target, TEST_ID, test_body(target), client, environ)
        except DeliveryFailed as error:
            return str(error)
        return None

    async with client:
        results = await asyncio.gather(*(one(t) for t in targets))
    return list(zip(targets, results, strict=True))
