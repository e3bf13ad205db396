"""A model endpoint that fails: subscribers are told the thread failed, and why.

The console and every other process learn of a failure from the ``ThreadFailed`` event
(it is what they paint, and what ``hitl show`` tells); the thread's row alone is not
enough. Real chat-completions server over HTTP on 127.0.0.1, real database.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Sequence
from typing import TypeVar

import pytest

from engine import Home
from engine.engine import Engine
from engine.events import Event, ThreadFailed, ThreadFinished, ThreadStatusChanged
from tests.engine.chat_server import ChatServer, PlannedCall

TASK = "find the Q3 revenue"
CALLS = [PlannedCall("search", {"query": "revenue"}, id="call_search")]  # low tier: runs at once


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


ThreadEvent = TypeVar("ThreadEvent", ThreadFailed, ThreadFinished, ThreadStatusChanged)


def _of(events: Sequence[Event], kind: type[ThreadEvent], thread_id: str) -> list[ThreadEvent]:
    """The events of one kind about one thread, in the order they came."""
    return [e for e in events if isinstance(e, kind) and e.thread.id == thread_id]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(500, ["500", "scripted failure: Internal Server Error"], id="http-500"),
        pytest.param(503, ["503", "scripted failure: Service Unavailable"], id="http-503"),
        pytest.param(None, ["ConnectionError: Connection error"], id="connection-refused"),
    ],
)
async def test_a_failing_endpoint_publishes_thread_failed_and_retry_finishes_it(
    home: Home, status: int | None, expected: list[str]
) -> None:
    home.create()
    (home.sandbox / "q3.txt").write_text("Q3 revenue: 4.2M")
    with contextlib.ExitStack() as stack:
        server: ChatServer | None = None
        if status is None:  # nothing listens yet: the connection is refused
            port = _unused_port()
            base_url = f"http://127.0.0.1:{port}/v1"
        else:
            server = stack.enter_context(ChatServer(CALLS))
            server.fail_with = status
            base_url = server.base_url
        async with Engine.open(
            home, model="openai:test-model", base_url=base_url, api_key="test", operator="alice"
        ) as engine:
            with engine.subscribe() as events:
                thread = await engine.start(TASK)
                await engine.wait(thread.id)
                seen = events.drain()

                [failed_event] = _of(seen, ThreadFailed, thread.id)
                assert failed_event.thread.status == "failed"
                for needle in expected:
                    assert needle in (failed_event.thread.error or "")
                assert not _of(seen, ThreadFinished, thread.id)
                failed = await engine.thread(thread.id)
                assert (failed.status, failed.error) == ("failed", failed_event.thread.error)
                assert await engine.pending() == []

                # The endpoint recovers (or comes up late, on the address it was given).
                if server is None:
                    server = stack.enter_context(ChatServer(CALLS, port=port))
                else:
                    server.fail_with = None
                    server.requests.clear()
                await engine.retry(thread.id)
                await engine.wait(thread.id)
                after = events.drain()

            [running] = _of(after, ThreadStatusChanged, thread.id)
            assert (running.thread.status, running.thread.error) == ("running", None)
            [finished_event] = _of(after, ThreadFinished, thread.id)
            assert not _of(after, ThreadFailed, thread.id)
            finished = await engine.thread(thread.id)
            assert (finished.status, finished.error) == ("done", None)
            assert finished_event.thread.answer == finished.answer
            assert "1 document(s) match 'revenue': q3.txt" in (finished.answer or "")
            assert server.requests[0]["messages"] == [{"role": "user", "content": TASK}]
            assert [e.kind for e in await engine.history(thread.id)].count(ThreadFailed.KIND) == 1
