"""Events as Server-Sent Events: the journal's seq is each event's id, and a client
that reconnects with Last-Event-ID misses nothing that happened meanwhile."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.routes import events as event_routes
from tests.api.served import Served

EMAIL = "email the Q3 report to boss@company.com"


async def sse(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The events of a text/event-stream, each as {"id", "event", "data"}."""
    event: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line:
            if "data" in event:
                event["data"] = json.loads(event["data"])
                yield event
            event = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            event[field] = value.removeprefix(" ")


async def _until(
    client: httpx.AsyncClient, wanted: set[int], headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Reads /events until every id in ``wanted`` has arrived; all it read."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(60), client.stream("GET", "/events", headers=headers) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        async for event in sse(stream):
            seen.append(event)
            if wanted <= {int(e["id"]) for e in seen if "id" in e}:
                return seen
    raise AssertionError("the stream ended")


async def test_live_events_carry_their_journal_seq(served: Served) -> None:
    async with served.client("alice") as alice:
        async with asyncio.timeout(60), alice.stream("GET", "/events") as stream:
            events = sse(stream)
            thread = (await alice.post("/threads", json={"task": EMAIL})).json()["id"]
            got: list[dict[str, Any]] = []
            async for event in events:
                got.append(event)
                if event["event"] == "ApprovalRequested":
                    break
        journal = [e for e in await served.engine.journal_after(0) if e.thread_id == thread]
        ours = [e for e in got if e["data"]["thread_id"] == thread]
        assert [int(e["id"]) for e in ours] == [e.seq for e in journal][: len(ours)]
        assert ours[0]["event"] == "ThreadStarted"
        assert ours[-1]["data"]["body"]["approval"]["tool"] == "send_email"
        assert ours[-1]["data"] == {
            "seq": journal[len(ours) - 1].seq,
            "at": journal[len(ours) - 1].at,
            "thread_id": thread,
            "kind": "ApprovalRequested",
            "body": journal[len(ours) - 1].body,
        }


async def test_a_client_that_reconnects_misses_nothing(served: Served) -> None:
    async with served.client("alice") as alice, served.client("watcher") as watcher:
        thread = (await alice.post("/threads", json={"task": EMAIL})).json()["id"]
        await served.engine.wait(thread)
        last = await served.engine.journal_last_seq()
        before = await _until(watcher, {last}, {"Last-Event-ID": "0"})  # a replay, then drop
        assert int(before[-1]["id"]) == last
        # While the watcher is away: a decision, its thread running on, and more threads,
        # some still starting as it reconnects.
        [approval] = await served.engine.pending(thread)
        decided = await alice.post(f"/approvals/{approval.id}/decide", json={"type": "approve"})
        assert decided.status_code == 200
        more = asyncio.create_task(_start_many(alice, 5))
        # It reconnects while those start; it reads until a marker thread started last.
        reconnected = asyncio.create_task(_until_marker(watcher, {"Last-Event-ID": str(last)}))
        await more
        await served.engine.wait()
        wanted = {e.seq for e in await served.engine.journal_after(last, 100_000)}
        await alice.post("/threads", json={"task": "search the web for the end marker"})
        after = await reconnected
        ids = [int(e["id"]) for e in after if "id" in e]
        assert set(ids) >= wanted, f"lost {sorted(wanted - set(ids))}"
        assert min(ids) > last  # nothing from before the id it gave
        if served.engine.home.database_url is None:  # SQLite: seq order is commit order
            assert ids[: len(wanted)] == sorted(wanted)
            assert len(ids) == len(set(ids)), "an event was sent twice"
        kinds = {e["event"] for e in after}
        assert {"ApprovalDecided", "ToolExecuted", "ThreadFinished"} <= kinds


async def _until_marker(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Reads /events until the thread whose task names the end marker has started."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(60), client.stream("GET", "/events", headers=headers) as stream:
        async for event in sse(stream):
            seen.append(event)
            if event["event"] == "ThreadStarted" and "end marker" in str(event["data"]):
                return seen
    raise AssertionError("the stream ended")


async def _start_many(client: httpx.AsyncClient, count: int) -> None:
    for n in range(count):
        answer = await client.post("/threads", json={"task": f"search the web for topic {n}"})
        assert answer.status_code == 201


async def test_a_resume_id_that_is_not_a_number_starts_from_now(served: Served) -> None:
    async with served.client("alice") as alice:
        await alice.post("/threads", json={"task": EMAIL})
        await served.engine.wait()
        last = await served.engine.journal_last_seq()
        async with (
            asyncio.timeout(60),
            alice.stream("GET", "/events", headers={"Last-Event-ID": "banana"}) as stream,
        ):
            events = sse(stream)
            await alice.post("/threads", json={"task": "search the web for hitl"})
            first = await anext(events)
        assert int(first["id"]) > last
        assert (await alice.get("/events", params={"after": -1})).status_code == 422


async def test_a_client_slower_than_the_events_is_caught_up_not_dropped(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_routes, "BUFFER", 3)
    before = await served.engine.journal_last_seq()
    stream = event_routes.event_stream(served.engine, None)
    first = asyncio.create_task(anext(stream))  # subscribed, waiting for the first event
    async with served.client("alice") as alice:
        await _start_many(alice, 4)  # while the reader holds one event, dozens more come
    await served.engine.wait()
    wanted = {e.seq for e in await served.engine.journal_after(before, 100_000)}
    got = {(await first).seq}
    async with asyncio.timeout(60):
        while not wanted <= got:
            got.add((await anext(stream)).seq)
    await stream.aclose()
    assert min(got) > before


async def test_a_quiet_stream_gets_a_keep_alive_comment(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_routes, "PING_SECONDS", 0.2)
    async with served.client("watcher") as watcher:
        async with asyncio.timeout(30), watcher.stream("GET", "/events") as stream:
            async for line in stream.aiter_lines():
                if line == ": ping":
                    break


async def test_a_client_that_leaves_is_unsubscribed(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[Any] = []
    subscribe = served.engine.subscribe

    def recorded(limit: int = 10_000) -> Any:
        taken.append(subscribe(limit))
        return taken[-1]

    monkeypatch.setattr(served.engine, "subscribe", recorded)
    async with served.client("alice") as alice:
        async with asyncio.timeout(60), alice.stream("GET", "/events") as stream:
            events = sse(stream)
            await alice.post("/threads", json={"task": EMAIL})
            await anext(events)
        [subscription] = taken
        async with asyncio.timeout(30):
            # No event marks a subscription's close: its state is looked at until then.
            while not subscription._closed:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
