"""Queueing notifications with the events they tell of, in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence

from engine.events import Event
from engine.notify.messages import notification_body, queued_for
from engine.notify.targets import NotifyTarget
from engine.storage.database import Write
from engine.storage.outbox import Outbox


def outbox_writes(
    events: Sequence[Event], targets: Sequence[NotifyTarget], first: int
) -> list[Write]:
    """The outbox rows for ``events``, whose journal rows are the writes from index
    ``first`` on: each row is written only if its event's journal row is (a replayed
    event, already journaled, queues nothing again)."""
    if not targets:
        return []
    writes: list[Write] = []
    for index, event in enumerate(events):
        for target, name, approval in queued_for(event, targets):
            writes.append(
                Outbox.insert_statement(
                    target.name,
                    target.kind,
                    target.to_json(),
                    name,
                    event.thread_id,
                    approval.id if approval is not None else None,
                    notification_body(event, name, approval),
                    event.at,
                    when=first + index,
                )
            )
    return writes
