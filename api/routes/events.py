"""Events as Server-Sent Events, resumable from the journal.

Each event's id is its journal seq. A client that reconnects with ``Last-Event-ID``
(or ``?after=``) first gets every journaled event after that id, read from the
journal, then the live ones; an event is never lost across a reconnect. The live
subscription is taken before the replay is read, so nothing falls between the two;
what both see is sent once. When the subscription overflows (a client slower than the
engine) the gap is read back from the journal instead of being dropped.

On PostgreSQL, transactions may commit out of seq order, so an event can arrive after
one with a higher id: a client that resumes then gets a few events twice, never none.
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api.identity import EngineHere, Reading
from engine import Engine, JournalEntry, journal_entry
from engine.events import EventsDropped

router = APIRouter(tags=["events"])

REPLAY_PAGE = 1000
BUFFER = 10_000
"""Events held for one client that reads slower than they come; past it the gap is
read back from the journal."""


class _Encoded:
    """Each journaled event's SSE form, made once however many clients it goes to: with
    a hundred subscribers, encoding per client is most of the server's work."""

    def __init__(self, keep: int = 4096) -> None:
        self._keep = keep
        self._by_seq: OrderedDict[int, ServerSentEvent] = OrderedDict()

    def __call__(self, seq: int, entry: Callable[[], JournalEntry]) -> ServerSentEvent:
        if seq and (known := self._by_seq.get(seq)) is not None:
            return known
        made = _sent(entry())
        if seq:
            self._by_seq[seq] = made
            if len(self._by_seq) > self._keep:
                self._by_seq.popitem(last=False)
        return made


def _encoded_of(request: Request) -> _Encoded:
    """The app's cache: one per served engine, since seqs are one home's."""
    state = request.app.state
    if not hasattr(state, "encoded_events"):
        state.encoded_events = _Encoded()
    cache: _Encoded = state.encoded_events
    return cache


def _sent(entry: JournalEntry) -> ServerSentEvent:
    data = {
        "seq": entry.seq,
        "at": entry.at,
        "thread_id": entry.thread_id,
        "kind": entry.kind,
        "body": entry.body,
    }
    return ServerSentEvent(
        raw_data=json.dumps(data, ensure_ascii=False, default=str),
        event=entry.kind,
        id=str(entry.seq) if entry.seq else None,
    )


def _given(entry: JournalEntry) -> Callable[[], JournalEntry]:
    return lambda: entry


async def _replay(engine: Engine, after: int, seen: set[int]) -> AsyncIterator[JournalEntry]:
    """Every journaled event after ``after`` not in ``seen``, page by page."""
    while True:
        page = await engine.journal_after(after, REPLAY_PAGE)
        for entry in page:
            if entry.seq not in seen:
                seen.add(entry.seq)
                yield entry
        if len(page) < REPLAY_PAGE:
            return
        after = page[-1].seq


async def event_stream(engine: Engine, after: int | None) -> AsyncIterator[JournalEntry]:
    """The events after ``after`` (None: from now on), each journaled one once."""
    async for _, entry in _stream(engine, after):
        yield entry()


async def _stream(
    engine: Engine, after: int | None
) -> AsyncIterator[tuple[int, Callable[[], JournalEntry]]]:
    """(seq, the event) after ``after``: the event is made only when asked for, since
    another client's stream may already have encoded it."""
    seen: set[int] = set()
    with engine.subscribe(BUFFER) as live:
        last = after if after is not None else await engine.journal_last_seq()
        if after is not None:
            async for entry in _replay(engine, after, seen):
                last = max(last, entry.seq)
                yield entry.seq, _given(entry)
        async for batch in live.batches():
            for event in batch:
                if isinstance(event, EventsDropped):  # read what the buffer lost back
                    async for entry in _replay(engine, last, seen):
                        last = max(last, entry.seq)
                        yield entry.seq, _given(entry)
                    continue
                if event.seq and event.seq in seen:
                    continue
                if event.seq:
                    seen.add(event.seq)
                    last = max(last, event.seq)
                yield event.seq, functools.partial(journal_entry, event)
            if len(seen) > 100_000:  # only recent seqs can repeat; keep the set small
                floor = last - 10_000
                seen = {s for s in seen if s > floor}


@router.get("/events", response_class=EventSourceResponse)
async def events(
    request: Request,
    engine: EngineHere,
    _: Reading,
    last_event_id: Annotated[str | None, Header(description="resume after this event id")] = None,
    after: Annotated[int | None, Query(ge=0, description="resume after this event id")] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Every event as it happens (``text/event-stream``); with ``Last-Event-ID`` or
    ``after``, the journaled ones after it first."""
    start = after
    if last_event_id is not None and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    encoded = _encoded_of(request)
    async for seq, entry in _stream(engine, start):
        yield encoded(seq, entry)
