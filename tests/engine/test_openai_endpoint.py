"""Threads on an "openai:<model>" spec, against a real chat-completions server over HTTP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager

import pytest

from engine import Approve, Home, Reject
from engine.engine import Engine
from engine.tools import CATALOGUE
from tests.engine.chat_server import ChatServer, PlannedCall

TASK = "email the Q3 report to boss@company.com"
EMAIL = {
    "to": "boss@company.com",
    "subject": "Q3 report",
    "body": "Hi, the Q3 report is attached.",
    "cc": ["cfo@company.com"],
}


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer([PlannedCall("send_email", EMAIL, id="call_email_1")]) as running:
        yield running


def _open(home: Home, base_url: str) -> AbstractAsyncContextManager[Engine]:
    return Engine.open(
        home, model="openai:test-model", base_url=base_url, api_key="test", operator="alice"
    )


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_approved_call_from_the_endpoint_runs_and_its_result_reaches_the_model(
    server: ChatServer, home: Home
) -> None:
    async with _open(home, server.base_url) as engine:
        thread = await engine.start(TASK)
        await engine.wait(thread.id)

        [approval] = await engine.pending(thread.id)
        assert (approval.tool, approval.tool_call_id, approval.args) == (
            "send_email",
            "call_email_1",
            EMAIL,
        )
        assert (await engine.thread(thread.id)).status == "waiting"
        assert not list(home.outbox.glob("*.eml"))
        [first] = server.requests
        assert first["model"] == "test-model"
        assert first["messages"] == [{"role": "user", "content": TASK}]
        offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
        assert set(offered) == set(CATALOGUE)
        assert offered["send_email"]["parameters"] == CATALOGUE["send_email"].args_schema

        await engine.decide(approval.id, Approve())
        await engine.wait(thread.id)

        [sent] = list(home.outbox.glob("*.eml"))
        text = sent.read_text()
        assert "To: boss@company.com" in text and "Cc: cfo@company.com" in text
        assert "Subject: Q3 report" in text
        _, second = server.requests
        [result] = server.tool_messages(1)
        assert result["tool_call_id"] == "call_email_1"
        assert f"outbox/{sent.name}" in result["content"]
        [call] = second["messages"][1]["tool_calls"]
        assert json.loads(call["function"]["arguments"]) == EMAIL
        finished = await engine.thread(thread.id)
        assert finished.status == "done"
        assert finished.answer == f"All done. The tools said: {result['content']}"
        assert await engine.pending() == []


async def test_rejection_reason_reaches_the_model(server: ChatServer, home: Home) -> None:
    async with _open(home, server.base_url) as engine:
        thread = await engine.start(TASK)
        await engine.wait(thread.id)
        [approval] = await engine.pending(thread.id)

        await engine.decide(approval.id, Reject("the report is not final yet"))
        await engine.wait(thread.id)

        assert not list(home.outbox.glob("*.eml"))
        assert len(server.requests) == 2
        [told] = server.tool_messages(1)
        assert told["tool_call_id"] == "call_email_1"
        assert "rejected" in told["content"]
        assert "the report is not final yet" in told["content"]
        finished = await engine.thread(thread.id)
        assert finished.status == "done"
        assert "the report is not final yet" in (finished.answer or "")


async def test_invalid_arguments_from_the_model_go_back_to_it_without_asking(
    home: Home,
) -> None:
    bad = dict(EMAIL, to="not an address")
    with ChatServer([PlannedCall("send_email", bad, id="call_bad")]) as server:
        async with _open(home, server.base_url) as engine:
            thread = await engine.start(TASK)
            await engine.wait(thread.id)

            assert await engine.pending() == []
            assert not list(home.outbox.glob("*.eml"))
            [told] = server.tool_messages(1)
            assert told["tool_call_id"] == "call_bad"
            assert "invalid" in told["content"] and "to" in told["content"]
            assert (await engine.thread(thread.id)).status == "done"


async def test_parallel_calls_wait_for_every_decision_then_all_results_go_back(
    home: Home,
) -> None:
    order = {"item": "paper", "quantity": 3, "unit_price": 4.5}
    calls = [
        PlannedCall("send_email", EMAIL, id="call_email"),
        PlannedCall("create_order", order, id="call_order"),
    ]
    with ChatServer(calls) as server:
        async with _open(home, server.base_url) as engine:
            thread = await engine.start("email the report and order paper")
            await engine.wait(thread.id)
            approvals = {a.tool_call_id: a for a in await engine.pending(thread.id)}
            assert set(approvals) == {"call_email", "call_order"}

            await engine.decide(approvals["call_order"].id, Approve())
            await engine.wait(thread.id)
            assert len(server.requests) == 1  # the model is not asked with an answer missing
            assert (await engine.thread(thread.id)).status == "waiting"
            [ledger_row] = await engine.ledger()
            assert ledger_row.body["item"] == "paper"

            await engine.decide(approvals["call_email"].id, Reject("not yet"))
            await engine.wait(thread.id)

            assert len(server.requests) == 2  # the server refuses a conversation with a gap
            told = {m["tool_call_id"]: m["content"] for m in server.tool_messages(1)}
            assert set(told) == {"call_email", "call_order"}
            assert "not yet" in told["call_email"]
            assert "Order #" in told["call_order"]
            assert (await engine.thread(thread.id)).status == "done"


async def test_a_thread_waiting_on_the_endpoint_resumes_after_a_restart(
    server: ChatServer, home: Home
) -> None:
    async with _open(home, server.base_url) as engine:
        thread = await engine.start(TASK)
        await engine.wait(thread.id)

    async with _open(home, server.base_url) as engine:
        [approval] = await engine.pending(thread.id)
        assert approval.tool_call_id == "call_email_1"
        await engine.decide(approval.id, Approve())
        await engine.wait(thread.id)

        assert len(list(home.outbox.glob("*.eml"))) == 1
        assert len(server.requests) == 2
        finished = await engine.thread(thread.id)
        assert (finished.status, finished.model) == ("done", "openai:test-model")


async def test_unreachable_endpoint_fails_the_thread_and_retry_continues_it(
    home: Home,
) -> None:
    port = _unused_port()
    async with _open(home, f"http://127.0.0.1:{port}/v1") as engine:
        thread = await engine.start(TASK)
        await engine.wait(thread.id)

        failed = await engine.thread(thread.id)
        assert failed.status == "failed"
        assert "ConnectionError: Connection error" in (failed.error or "")
        # It says where the model was looked for, so a person knows what to bring up.
        assert (failed.error or "").startswith(
            f"ModelUnavailable: model endpoint http://127.0.0.1:{port}/v1 could not be reached"
        )
        assert await engine.pending() == []

        # The local model server comes up late, on the address the engine was given.
        calls = [PlannedCall("send_email", EMAIL, id="call_email_1")]
        with ChatServer(calls, port=port) as server:
            await engine.retry(thread.id)
            await engine.wait(thread.id)

            [approval] = await engine.pending(thread.id)
            assert (approval.tool, approval.args) == ("send_email", EMAIL)
            retried = await engine.thread(thread.id)
            assert (retried.status, retried.error) == ("waiting", None)
            [request] = server.requests
            assert request["messages"] == [{"role": "user", "content": TASK}]


async def test_server_error_fails_the_thread_and_retry_finishes_it(
    server: ChatServer, home: Home
) -> None:
    server.fail_with = 500
    async with _open(home, server.base_url) as engine:
        thread = await engine.start(TASK)
        await engine.wait(thread.id)

        failed = await engine.thread(thread.id)
        assert failed.status == "failed"
        assert "500" in (failed.error or "")
        assert "scripted failure: Internal Server Error" in (failed.error or "")
        assert await engine.pending() == []

        server.fail_with = None
        server.requests.clear()
        await engine.retry(thread.id)
        await engine.wait(thread.id)
        [approval] = await engine.pending(thread.id)
        assert approval.tool_call_id == "call_email_1"

        await engine.decide(approval.id, Approve())
        await engine.wait(thread.id)
        assert len(list(home.outbox.glob("*.eml"))) == 1
        finished = await engine.thread(thread.id)
        assert (finished.status, finished.error) == ("done", None)
        assert "Email sent to boss@company.com" in (finished.answer or "")
        assert [m["role"] for m in server.requests[-1]["messages"]] == [
            "user",
            "assistant",
            "tool",
        ]


async def test_retry_after_the_tool_ran_does_not_run_it_again(
    server: ChatServer, home: Home
) -> None:
    async with _open(home, server.base_url) as engine:
        thread = await engine.start(TASK)
        await engine.wait(thread.id)
        [approval] = await engine.pending(thread.id)

        server.fail_with = 503  # the endpoint goes down while the person decides
        await engine.decide(approval.id, Approve())
        await engine.wait(thread.id)
        failed = await engine.thread(thread.id)
        assert failed.status == "failed"
        assert "503" in (failed.error or "")
        assert len(list(home.outbox.glob("*.eml"))) == 1

        server.fail_with = None
        await engine.retry(thread.id)
        await engine.wait(thread.id)

        [sent] = list(home.outbox.glob("*.eml"))  # still exactly one email
        [result] = server.tool_messages(-1)
        assert f"outbox/{sent.name}" in result["content"]
        finished = await engine.thread(thread.id)
        assert (finished.status, finished.error) == ("done", None)
        assert f"outbox/{sent.name}" in (finished.answer or "")
        assert await engine.pending() == []


async def test_unparseable_tool_arguments_are_reported_to_the_model(home: Home) -> None:
    broken = PlannedCall(
        "send_email", {}, id="call_broken", raw_arguments='{"to": "boss@company.com", "subj'
    )
    with ChatServer([broken]) as server:
        async with _open(home, server.base_url) as engine:
            thread = await engine.start(TASK)
            await engine.wait(thread.id)

            assert await engine.pending() == []
            assert not list(home.outbox.glob("*.eml"))
            assert len(server.requests) == 2, "the model was never told its call was broken"
            [told] = server.tool_messages(1)
            assert told["tool_call_id"] == "call_broken"
            assert "Error" in told["content"]
            finished = await engine.thread(thread.id)
            assert finished.status == "done"
            assert told["content"] in (finished.answer or "")
