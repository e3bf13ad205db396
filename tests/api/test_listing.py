"""``GET /approvals`` lists what the engine holds, exactly and at once: the fast path
(orjson, both reading the store and writing the answer) changes no value."""

from __future__ import annotations

import math

from engine import Home
from tests.api.served import Served
from tests.conftest import run_sql

EMAIL = "email the Q3 report to boss@company.com"
HUGE = 123456789012345678901234567890
"""Past 64 bits: orjson would read it as a float and refuses to write it."""


async def _paused(served: Served, task: str = EMAIL) -> str:
    async with served.client("alice") as alice:
        thread = (await alice.post("/threads", json={"task": task})).json()["id"]
    await served.engine.wait(thread)
    return str(thread)


async def test_arguments_past_what_orjson_keeps_are_listed_exactly(
    served: Served, home: Home
) -> None:
    await _paused(served)
    run_sql(
        home,
        f"UPDATE hitl_approvals SET original_args = '{{\"count\": {HUGE}, "
        "\"id\": 9007199254740993}', interrupt_value = '{\"ratio\": NaN, \"far\": Infinity}'",
    )
    [card] = await served.engine.pending()
    assert card.original_args["count"] == HUGE and isinstance(card.original_args["count"], int)
    assert card.original_args["id"] == 9007199254740993  # an int a float cannot hold
    assert math.isnan(card.value["ratio"]) and card.value["far"] == math.inf
    async with served.client("watcher") as watcher:
        answer = await watcher.get("/approvals")
    assert answer.status_code == 200, answer.text
    [listed] = answer.json()
    assert listed["original_args"]["count"] == HUGE
    assert listed["original_args"]["id"] == 9007199254740993
    assert listed["id"] == card.id and listed["args"] == card.args


async def test_a_decided_approval_leaves_the_listing_at_once(served: Served) -> None:
    first = await _paused(served)
    second = await _paused(served, "email the Q4 report to boss@company.com")
    async with served.client("alice") as alice:
        listed = (await alice.get("/approvals")).json()
        assert [a["thread_id"] for a in listed] == [first, second]
        assert listed[0]["args_schema"]["properties"]["to"]["type"] == "string"
        decided = await alice.post(f"/approvals/{listed[0]['id']}/decide", json={"type": "reject"})
        assert decided.status_code == 200, decided.text
        assert [a["thread_id"] for a in (await alice.get("/approvals")).json()] == [second]
