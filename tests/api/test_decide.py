"""Deciding over HTTP: the engine's own checks and results, as statuses a client can
act on, and the token (never the request) naming who decided."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from engine import Home
from tests.api.served import Served, served_home
from tests.conftest import run_sql

EMAIL = "email the Q3 report to boss@company.com"
TRANSFER = "transfer $5000 to acct-991"

FOUR_EYES = """\
default_tier = "medium"
[tools]
send_email = "medium"
transfer_money = "high"
[tiers.high]
approvals = 2
distinct_operators = true
"""


async def _paused(served: Served, client: httpx.AsyncClient, task: str) -> dict[str, Any]:
    """Starts ``task`` over HTTP; its one pending approval, once the thread has paused."""
    started = await client.post("/threads", json={"task": task})
    assert started.status_code == 201, started.text
    thread = started.json()["id"]
    await served.engine.wait(thread)
    listed = await client.get("/approvals", params={"thread": thread})
    [approval] = listed.json()
    return dict(approval)


async def test_an_approval_decided_over_http_runs_the_call_and_names_the_token(
    served: Served,
) -> None:
    async with served.client("alice") as alice:
        approval = await _paused(served, alice, EMAIL)
        decided = await alice.post(f"/approvals/{approval['id']}/decide", json={"type": "approve"})
        assert decided.status_code == 200, decided.text
        assert (decided.json()["status"], decided.json()["decided_by"]) == ("approved", "alice")
        await served.engine.wait(approval["thread_id"])
        story = (await alice.get(f"/threads/{approval['thread_id'][:6]}")).json()
        assert story["thread"]["status"] == "done"
        assert "ToolExecuted" in [h["kind"] for h in story["history"]]
        by_alice = (await alice.get("/audit", params={"by": "alice"})).json()
        decisions = [e["approval_id"] for e in by_alice if e["kind"] == "decision"]
        assert decisions == [approval["id"]]


async def test_the_second_decision_is_a_409_naming_who_was_first(served: Served) -> None:
    async with served.client("alice") as alice, served.client("bob") as bob:
        approval = await _paused(served, alice, EMAIL)
        url = f"/approvals/{approval['id']}/decide"
        assert (await alice.post(url, json={"type": "reject", "message": "no"})).status_code == 200
        late = await bob.post(url, json={"type": "approve"})
        assert late.status_code == 409
        assert "rejected by alice" in late.json()["detail"]
        assert (await served.engine.approval(approval["id"])).status == "rejected"


async def test_racing_decisions_one_wins_the_other_is_told(served: Served) -> None:
    async with served.client("alice") as alice, served.client("bob") as bob:
        approval = await _paused(served, alice, EMAIL)
        url = f"/approvals/{approval['id']}/decide"
        answers = await asyncio.gather(
            alice.post(url, json={"type": "approve"}),
            bob.post(url, json={"type": "reject", "message": "stop"}),
        )
        assert sorted(a.status_code for a in answers) == [200, 409]
        [won] = [a for a in answers if a.status_code == 200]
        [lost] = [a for a in answers if a.status_code == 409]
        assert f"by {won.json()['decided_by']}" in lost.json()["detail"]


async def test_unknown_approval_is_404_and_unknown_thread_is_404(served: Served) -> None:
    async with served.client("alice") as alice:
        missing = await alice.post("/approvals/ffffffff/decide", json={"type": "approve"})
        assert missing.status_code == 404
        assert "ffffffff" in missing.json()["detail"]
        assert (await alice.get("/approvals/ffffffff")).status_code == 404
        assert (await alice.get("/threads/nope")).status_code == 404
        assert (await alice.get("/approvals", params={"thread": "nope"})).status_code == 404


async def test_edited_arguments_failing_the_schema_are_422_with_each_error(
    served: Served,
) -> None:
    async with served.client("alice") as alice:
        approval = await _paused(served, alice, EMAIL)
        bad = {"to": 7, "subject": "Q3", "body": "x", "cc": "not a list"}
        refused = await alice.post(
            f"/approvals/{approval['id']}/decide", json={"type": "edit", "args": bad}
        )
        assert refused.status_code == 422, refused.text
        assert len(refused.json()["errors"]) == 2
        assert any(e.startswith("to:") for e in refused.json()["errors"])
        assert (await served.engine.approval(approval["id"])).status == "pending"


async def test_an_edit_over_http_is_judged_again(served: Served) -> None:
    async with served.client("alice") as alice:
        approval = await _paused(served, alice, EMAIL)
        args = dict(approval["args"], to="someone@elsewhere.com")
        edited = await alice.post(
            f"/approvals/{approval['id']}/decide", json={"type": "edit", "args": args}
        )
        assert edited.status_code == 200, edited.text
        assert (edited.json()["status"], edited.json()["tier"]) == ("pending", "high")
        assert edited.json()["edited_by"] == "alice"


async def test_an_expired_approval_is_410(served: Served, home: Home) -> None:
    async with served.client("alice") as alice:
        approval = await _paused(served, alice, EMAIL)
        run_sql(home, f"UPDATE hitl_approvals SET expires_at = 1 WHERE id = '{approval['id']}'")
        gone = await alice.post(f"/approvals/{approval['id']}/decide", json={"type": "approve"})
        assert gone.status_code == 410, gone.text
        assert "expired" in gone.json()["detail"]
        after = await served.engine.approval(approval["id"])
        assert (after.status, after.decided_by) == ("rejected", "policy:expiry")


async def test_bad_decision_bodies_are_422_and_change_nothing(served: Served) -> None:
    async with served.client("alice") as alice:
        approval = await _paused(served, alice, EMAIL)
        url = f"/approvals/{approval['id']}/decide"
        for body in (
            {"type": "approve", "operator": "bob"},  # who decides is the token's
            {"type": "launch"},
            {"type": "respond"},
            {"type": "edit", "args": []},
            {"type": "answer", "value": 1},  # the engine's card takes no answer
            [],
        ):
            answer = await alice.post(url, json=body)
            assert answer.status_code == 422, (body, answer.text)
        as_json = {"content-type": "application/json"}
        not_json = await alice.post(url, content=b"\xff{", headers=as_json)
        assert not_json.status_code == 400
        deep: Any = {}
        for _ in range(200):
            deep = {"a": deep}
        nested = await alice.post(url, json={"type": "edit", "args": deep})
        assert nested.status_code == 422
        assert "nested too deeply" in nested.json()["detail"]
        abyss = b'{"type": "edit", "args": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001
        refused = await alice.post(url, content=abyss, headers=as_json)
        assert 400 <= refused.status_code < 500, refused.text[:200]
        huge = b'{"type": "respond", "message": "' + b"x" * (8 << 20) + b'"}'
        too_big = await alice.post(url, content=huge, headers=as_json)
        assert too_big.status_code == 413
        assert (await served.engine.approval(approval["id"])).status == "pending"


async def test_four_eyes_is_enforced_by_token_identity(home: Home) -> None:
    home.path.mkdir(parents=True)
    home.policy_file.write_text(FOUR_EYES)
    async with served_home(home) as served:
        async with served.client("alice") as alice, served.client("bob") as bob:
            approval = await _paused(served, alice, TRANSFER)
            assert (approval["tier"], approval["required"]) == ("high", 2)
            url = f"/approvals/{approval['id']}/decide"
            first = await alice.post(url, json={"type": "approve"})
            assert (first.status_code, first.json()["received"]) == (200, 1)
            again = await alice.post(url, json={"type": "approve"})
            assert again.status_code == 403, again.text
            assert "alice" in again.json()["detail"]
            second = await bob.post(url, json={"type": "approve"})
            assert (second.status_code, second.json()["status"]) == (200, "approved")
            assert set(second.json()["approvers"]) == {"alice", "bob"}
