"""Events as Server-Sent Events, resumable from the journal.

Each event's id is its journal seq. A client that reconnects with ``Last-Event-ID``
(or ``?after=``) first gets every journaled event after that id, read from the
journal, then the live ones; an event is never lost across a reconnect. The live
subscription is taken before the replay is read, so nothing falls between the two;
what both see is sent once. When the subscription overflows (a client slower than the
engine) the gap is read back from the journal instead of being dropped.

Written for a hundred subscribers at hundreds of events a second: each event is
encoded once for all of them; each client gets what accumulated for it as one write
(one event when it keeps up, many when it fell behind), from one task per client, never
one per event; a keep-alive comment goes out only after a quiet spell.

On PostgreSQL, transactions may commit out of seq order, so an event can arrive after
one with a higher id: a client that resumes then gets a few events twice, never none.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.sse import format_sse_event
from starlette.types import Receive, Scope, Send

from api.identity import EngineHere, Reading
from engine import Engine, JournalEntry, journal_entry
from engine.events import EventsDropped

router = APIRouter(tags=["events"])

REPLAY_PAGE = 1000
BUFFER = 10_000
"""Events held for one client that reads slower than they come; past it the gap is
read back from the journal."""
PING_SECONDS = 15.0
"""Quiet this long, a client gets a comment line, so proxies keep the stream open."""
PING = b": ping\n\n"

_ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "data": {"type": "string"},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}
"""One event as OpenAPI 3.2 describes a text/event-stream item (what FastAPI's own
EventSourceResponse documents)."""

Batch = list[tuple[int, Callable[[], JournalEntry]]]
"""(seq, the event) pairs: the event is made only when asked for, since another
client's stream may already have encoded it."""


class _Encoded:
    """Each journaled event's SSE bytes, made once however many clients it goes to:
    with a hundred subscribers, encoding per client is most of the server's work."""

    def __init__(self, keep: int = 4096) -> None:
        self._keep = keep
        self._by_seq: OrderedDict[int, bytes] = OrderedDict()

    def __call__(self, seq: int, entry: Callable[[], JournalEntry]) -> bytes:
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


def _sent(entry: JournalEntry) -> bytes:
    data = {
        "seq": entry.seq,
        "at": entry.at,
        "thread_id": entry.thread_id,
        "kind": entry.kind,
        "body": entry.body,
    }
    return format_sse_event(
        data_str=json.dumps(data, ensure_ascii=False, default=str),
        event=entry.kind,
        id=str(entry.seq) if entry.seq else None,
    )


def _given(entry: JournalEntry) -> Callable[[], JournalEntry]:
    return lambda: entry


async def _replay(engine: Engine, after: int, seen: set[int]) -> AsyncIterator[Batch]:
    """Every journaled event after ``after`` not in ``seen``, a page at a time."""
    while True:
        page = await engine.journal_after(after, REPLAY_PAGE)
        fresh = [entry for entry in page if entry.seq not in seen]
        seen.update(entry.seq for entry in fresh)
        if fresh:
            yield [(entry.seq, _given(entry)) for entry in fresh]
        if len(page) < REPLAY_PAGE:
            return
        after = page[-1].seq


async def event_stream(engine: Engine, after: int | None) -> AsyncIterator[JournalEntry]:
    """The events after ``after`` (None: from now on), each journaled one once."""
    async for batch in _stream(engine, after):
        for _, entry in batch:
            yield entry()


async def _stream(engine: Engine, after: int | None) -> AsyncIterator[Batch]:
    """The events after ``after``, as they accumulated: a replay page, or what arrived
    live since the last batch was taken."""
    seen: set[int] = set()
    with engine.subscribe(BUFFER) as live:
        last = after if after is not None else await engine.journal_last_seq()
        if after is not None:
            async for page in _replay(engine, after, seen):
                last = max(last, page[-1][0])
                yield page
        async for events in live.batches():
            batch: Batch = []
            for event in events:
                if isinstance(event, EventsDropped):  # read what the buffer lost back
                    if batch:
                        yield batch
                        batch = []
                    async for page in _replay(engine, last, seen):
                        last = max(last, page[-1][0])
                        yield page
                    continue
                if event.seq:
                    if event.seq in seen:
                        continue
                    seen.add(event.seq)
                    last = max(last, event.seq)
                batch.append((event.seq, functools.partial(journal_entry, event)))
            if batch:
                yield batch
            if len(seen) > 100_000:  # only recent seqs can repeat; keep the set small
                floor = last - 10_000
                seen = {s for s in seen if s > floor}


async def _frames(
    engine: Engine, after: int | None, encoded: _Encoded
) -> AsyncIterator[bytes]:
    """Each batch as the bytes of one write."""
    async for batch in _stream(engine, after):
        yield b"".join([encoded(seq, entry) for seq, entry in batch])


class EventStream(StreamingResponse):
    """``text/event-stream`` from one task per client: the writer sends each batch as
    it comes (waiting on the socket when the client reads slowly, while the engine's
    buffer, then the journal, holds what accumulates); a second task pings after a
    quiet spell; a third notices the client leave (uvicorn's ``send`` to a closed
    connection returns without a word) and ends the other two, closing the
    subscription."""

    media_type = "text/event-stream"

    def __init__(self, frames: AsyncIterator[bytes]) -> None:
        super().__init__(
            frames, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        loop = asyncio.get_running_loop()
        last_write = loop.time()

        async def write() -> None:
            nonlocal last_write
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                last_write = loop.time()
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def ping() -> None:
            nonlocal last_write
            while True:
                await asyncio.sleep(last_write + PING_SECONDS - loop.time())
                if loop.time() - last_write >= PING_SECONDS:
                    await send({"type": "http.response.body", "body": PING, "more_body": True})
                    last_write = loop.time()

        async def left() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        tasks = [asyncio.create_task(job()) for job in (write, ping, left)]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()  # a failure in the stream is the server's error to log


@router.get(
    "/events",
    response_class=EventStream,
    status_code=200,
    responses={
        200: {
            "description": "Successful Response",
            "content": {"text/event-stream": {"itemSchema": _ITEM_SCHEMA}},
        }
    },
)
async def events(
    request: Request,
    engine: EngineHere,
    _: Reading,
    last_event_id: Annotated[str | None, Header(description="resume after this event id")] = None,
    after: Annotated[int | None, Query(ge=0, description="resume after this event id")] = None,
) -> EventStream:
    """Every event as it happens (``text/event-stream``); with ``Last-Event-ID`` or
    ``after``, the journaled ones after it first."""
    start = after
    if last_event_id is not None and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    return EventStream(_frames(engine, start, _encoded_of(request)))
