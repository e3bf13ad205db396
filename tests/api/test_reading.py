"""What a read token sees: threads, approvals filtered as `hitl pending`, the policy,
the audit log (JSON Lines too) and its verification."""

from __future__ import annotations

import json

from engine import Home
from tests.api.served import Served
from tests.conftest import run_sql


async def _fleet(served: Served) -> list[str]:
    ids = []
    async with served.client("alice") as alice:
        for task in (
            "email the Q3 report to boss@company.com",
            "transfer $5000 to acct-991",
            "search the web for langgraph",
        ):
            ids.append((await alice.post("/threads", json={"task": task})).json()["id"])
    await served.engine.wait()
    return ids


async def test_threads_and_pending_approvals_are_listed_and_filtered(served: Served) -> None:
    email, transfer, search = await _fleet(served)
    async with served.client("watcher") as watcher:
        listed = (await watcher.get("/threads")).json()
        assert [t["id"] for t in listed] == [email, transfer, search]
        waiting = (await watcher.get("/threads", params={"status": "waiting"})).json()
        assert {t["id"] for t in waiting} == {email, transfer}
        assert (await watcher.get("/threads", params={"status": "bogus"})).status_code == 422
        pending = (await watcher.get("/approvals")).json()
        assert [a["tool"] for a in pending] == ["send_email", "transfer_money"]
        by_tool = await watcher.get("/approvals", params={"tool": "transfer_money"})
        assert [a["thread_id"] for a in by_tool.json()] == [transfer]
        either = await watcher.get("/approvals", params=[("tier", "high"), ("tier", "medium")])
        assert len(either.json()) == 2
        high = await watcher.get("/approvals", params={"tier": "high"})
        assert [a["tool"] for a in high.json()] == ["transfer_money"]
        assert (await watcher.get("/approvals", params={"tier": "huge"})).status_code == 422
        one = (await watcher.get(f"/approvals/{pending[0]['id'][:6]}")).json()
        assert one == pending[0]
        story = (await watcher.get(f"/threads/{search}")).json()
        assert story["thread"]["status"] == "done"
        assert story["history"][0]["kind"] == "ThreadStarted"


async def test_the_policy_is_served_as_the_policy_screen_shows_it(served: Served) -> None:
    async with served.client("watcher") as watcher:
        policy = (await watcher.get("/policy")).json()
    assert policy["digest"] == served.engine.policy_digest
    assert policy["tools"]["transfer_money"] == "high"
    assert "large transfer" in [r["name"] for r in policy["rules"]]
    assert {t["tier"]: t["approvals"] for t in policy["tiers"]}["high"] == 2
    assert policy["default_tier"] == "medium"


async def test_the_audit_log_filters_exports_and_verifies(served: Served, home: Home) -> None:
    email, *_ = await _fleet(served)
    async with served.client("watcher") as watcher:
        everything = (await watcher.get("/audit")).json()
        mine = (await watcher.get("/audit", params={"thread": email})).json()
        assert mine and all(e["thread_id"] == email for e in mine)
        assert len(mine) < len(everything)
        export = await watcher.get("/audit.jsonl", params={"thread": email})
        assert export.headers["content-type"].startswith("application/x-ndjson")
        assert [json.loads(line) for line in export.text.splitlines()] == mine
        future = (await watcher.get("/audit", params={"since": "2999-01-01T00:00:00"})).json()
        assert future == []
        assert (await watcher.get("/audit", params={"since": "yesterday"})).status_code == 422
        verified = (await watcher.get("/audit/verify")).json()
        assert verified["ok"] and verified["entries"] == len(everything)
        run_sql(home, "UPDATE hitl_audit SET operator = 'mallory' WHERE seq = 2")
        broken = (await watcher.get("/audit/verify")).json()
        assert (broken["ok"], broken["seq"]) == (False, 2)


async def test_a_nul_character_anywhere_is_a_clear_refusal_not_a_server_error(
    served: Served,
) -> None:
    # PostgreSQL refuses NUL in text outright; schemathesis found this one.
    async with served.client("alice") as alice:
        assert (await alice.get("/approvals", params={"thread": "ab\x00"})).status_code == 404
        assert (await alice.get("/threads/ab%00cd")).status_code == 404
        assert (await alice.get("/audit", params={"tool": "x\x00", "by": "a\x00"})).json() == []
        started = await alice.post("/threads", json={"task": "search\x00 the web"})
        assert started.status_code == 400 and "NUL" in started.json()["detail"]
        assert await served.engine.threads() == []
