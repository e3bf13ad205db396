"""Events to journal rows and back.

A row holds an event's kind, a body of its own fields as JSON, and (in columns of their
own) its thread, seq and time. The body's shape is the one every version since the
journal's first release writes, so older and newer versions on one home read each
other's rows.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from engine.events import EVENT_TYPES, CallDenied, Event, MessageAdded
from engine.views import ApprovalView, HistoryEntry, JournalEntry, ThreadView

_IN_COLUMNS = frozenset({"seq", "at"})
"""Base fields the row keeps in columns; ``thread_id`` is a column too, and in the body
only of the events that always carried it there."""

_BODY_FIELDS: dict[type[Event], tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls) if f.init and f.name not in _IN_COLUMNS)
    for cls in EVENT_TYPES.values()
}
_NESTED: dict[str, type[Any]] = {"thread": ThreadView, "approval": ApprovalView}


class EventRecord(NamedTuple):
    """An event as its journal row stores it."""

    kind: str
    key: str | None
    """Unique per thread when set: a replayed step that repeats the event writes no row."""
    body: dict[str, Any]


def encode(event: Event) -> EventRecord:
    """The journal row of ``event``.

    Every ToolExecuted is kept, even for a call that ran before: a low-tier call re-run
    after a crash, or an outcome-unknown call re-run on purpose, did run again."""
    key = None
    if isinstance(event, MessageAdded) and event.message_id:
        key = f"message:{event.message_id}"
    elif isinstance(event, CallDenied):  # a re-run of the node denies it again: once
        key = f"denied:{event.tool_call_id}"
    body = {name: _plain(getattr(event, name)) for name in _BODY_FIELDS[type(event)]}
    return EventRecord(event.KIND, key, body)


def journal_entry(event: Event) -> JournalEntry:
    """``event`` as its journal row reads back (``Reader.journal_after``): a live event
    and a replayed one look the same to whoever receives them."""
    record = encode(event)
    return JournalEntry(event.seq, event.at, event.thread_id, record.kind, record.body)


_LATER_FIELDS = frozenset(
    {"graph", "format", "action_index", "action_count", "allowed", "protected", "value"}
)
"""Fields threads and approvals gained with graphs of one's own: written only when they
differ from their defaults, so the built-in agent's rows stay as every release reads them
(an older release refuses fields it does not know)."""


def _plain(value: Any) -> Any:
    """A dataclass as JSON-able dicts; shallow where ``dataclasses.asdict`` deep-copies
    (events are frozen and serialised at once, so nothing can change underneath)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        body: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            current = getattr(value, f.name)
            if f.name in _LATER_FIELDS and current == _default(f):
                continue
            body[f.name] = _plain(current)
        return body
    return value


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def decode(entry: HistoryEntry) -> Event | None:
    """The event a journal row holds; None for kinds this version does not know."""
    cls = EVENT_TYPES.get(entry.kind)
    if cls is None:
        return None
    values = dict(entry.body)
    for name, nested in _NESTED.items():
        if isinstance(values.get(name), dict):
            inner = dict(values[name])
            if nested is ApprovalView:
                inner["approvers"] = tuple(inner.get("approvers", ()))
                inner["rules"] = tuple(inner.get("rules", ()))
                inner["allowed"] = tuple(inner.get("allowed", ()))
            values[name] = nested(**inner)
    if "tool_calls" in values:
        values["tool_calls"] = tuple(values["tool_calls"])
    return cls(**values, seq=entry.seq, at=entry.at)
