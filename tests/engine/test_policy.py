"""The policy file: parsing, errors with lines, CEL rules, deny, four-eyes and expiry."""

from __future__ import annotations

import asyncio

import pytest

from engine import Approve, Home, Tier
from engine.engine import Engine
from engine.errors import FourEyes, PolicyError
from engine.events import ApprovalDecided, ApprovalExpiring
from engine.policy_file import DEFAULT_POLICY_TOML, parse_policy
from engine.tools import CATALOGUE
from tests.engine.processes import Child

POLICY = DEFAULT_POLICY_TOML.replace(
    'transfer_money = "high"', 'transfer_money = "medium"'
).replace("distinct_operators = false", "distinct_operators = true")


def test_the_examples_a_user_writes_decide_the_tier() -> None:
    policy = parse_policy(POLICY, "policy.toml", CATALOGUE)
    assert policy.verdict("transfer_money", {"amount": 5000.0}).tier is Tier.HIGH
    assert policy.verdict("transfer_money", {"amount": 20.0}).tier is Tier.MEDIUM
    outside = policy.verdict("send_email", {"to": "x@rival.com"})
    assert outside.tier is Tier.HIGH
    assert outside.rules == ("email outside company.com",)
    assert policy.verdict("send_email", {"to": "boss@company.com"}).tier is Tier.MEDIUM
    assert policy.verdict("delete_file", {"path": "../etc/passwd"}).tier is Tier.DENY
    assert policy.verdict("delete_file", {"path": "old.txt"}).tier is Tier.MEDIUM
    assert policy.verdict("search", {"query": "x"}).tier is Tier.LOW


def test_the_most_severe_matching_rule_wins_and_rules_never_lower_a_tier() -> None:
    text = """
[tools]
transfer_money = "high"
[[rules]]
name = "small"
tool = "transfer_money"
when = "args.amount < 100.0"
tier = "low"
[[rules]]
name = "huge"
when = "args.amount > 1000000.0"
tier = "deny"
[[rules]]
name = "big"
when = "args.amount > 1000.0"
tier = "high"
"""
    policy = parse_policy(text, "p.toml", CATALOGUE)
    assert policy.verdict("transfer_money", {"amount": 5.0}).tier is Tier.HIGH
    huge = policy.verdict("transfer_money", {"amount": 5e6})
    assert (huge.tier, huge.rules) == (Tier.DENY, ("huge", "big"))
    assert "rule 'huge'" in huge.reason


def test_a_rule_that_cannot_be_evaluated_fails_closed() -> None:
    text = '[[rules]]\nname = "odd"\nwhen = "args.missing > 1"\ntier = "high"\n'
    verdict = parse_policy(text, "p.toml", CATALOGUE).verdict("search", {"query": "x"})
    assert verdict.tier is Tier.HIGH
    assert "treated as matching" in verdict.reason


def test_every_problem_is_reported_with_its_line() -> None:
    text = """default_tier = "meh"
[tools]
launch_rockets = "high"
search = "lowish"
[[rules]]
tool = "transfer_money"
when = "args.amount >> 1000"
tier = "high"
[tiers.high]
approvals = "two"
"""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.toml", CATALOGUE)
    lines = str(caught.value).splitlines()
    assert lines[0] == "policy p.toml has 5 problems:"
    assert "p.toml:1: default_tier: unknown tier 'meh'" in lines[1]
    assert "p.toml:3: tools.launch_rockets: unknown tool" in lines[2]
    assert "p.toml:4: tools.search: unknown tier 'lowish'" in lines[3]
    assert "p.toml:7: rules[0].when: not a valid CEL expression" in lines[4]
    assert "p.toml:10: tiers.high.approvals: must be a whole number" in lines[5]


async def test_an_invalid_policy_stops_start_up(home: Home) -> None:
    home.create()
    home.policy_file.write_text('[tools]\nsearch = "sometimes"\n')
    with pytest.raises(PolicyError, match=r"policy\.toml:2: tools\.search: unknown tier"):
        async with Engine.open(home):
            pass


async def test_a_denied_call_never_runs_and_nobody_is_asked(engine: Engine, home: Home) -> None:
    thread = await engine.start("delete file /etc/hosts")
    await engine.wait(thread.id)
    assert await engine.pending() == []
    [entry] = [e for e in await engine.audit() if e.kind == "call_denied"]
    assert entry.tool == "delete_file"
    assert "path escapes the sandbox" in entry.body["reason"]


async def test_the_rule_that_made_a_call_risky_is_on_the_approval(home: Home) -> None:
    home.create()
    home.policy_file.write_text(POLICY)
    async with Engine.open(home) as engine:
        thread = await engine.start("transfer $5000 to acct-7 for the laptops")
        await engine.wait(thread.id)
        [approval] = await engine.pending()
        assert (approval.tier, approval.required) == ("high", 2)
        assert approval.rules == ("large transfer",)
        assert approval.reason == "rule 'large transfer': args.amount > 1000.0"
        assert approval.distinct_operators


async def test_four_eyes_refuses_the_same_operator_twice_across_processes(home: Home) -> None:
    home.create()
    home.policy_file.write_text(POLICY)
    child = Child(home, "start", "transfer $5000 to acct-7 for the laptops")
    [approval_id] = child.expect(lambda line: line.get("milestone") == "settled")["pending"]
    child.finish()

    first = Child(home, "decide", approval_id, "approve")
    first.expect(lambda line: line.get("milestone") == "ready")
    first.send("go")
    assert first.expect(lambda line: "milestone" in line and line["milestone"] != "ready") == {
        "milestone": "decided",
        "status": "pending",
    }
    first.finish()
    again = Child(home, "decide", approval_id, "approve")
    again.expect(lambda line: line.get("milestone") == "ready")
    again.send("go")
    refused = again.expect(lambda line: line.get("milestone") == "refused")
    again.finish()
    assert "child-decide already approved it" in refused["error"]
    assert "another operator" in refused["error"]

    async with Engine.open(home, operator="alice") as engine:
        with pytest.raises(FourEyes):
            await engine.decide(approval_id, Approve(), operator="child-decide")
        decided = await engine.decide(approval_id, Approve())
        await engine.wait(decided.thread_id)
        assert decided.approvers == ("child-decide", "alice")
        [entry] = await engine.ledger()
        assert entry.body["amount"] == 5000.0


async def test_an_undecided_approval_warns_then_expires_fail_closed(home: Home) -> None:
    home.create()
    home.policy_file.write_text(
        DEFAULT_POLICY_TOML.replace('expires_after = "24h"\nwarn_before = "10m"', "").replace(
            "[tiers.medium]\napprovals = 1",
            "[tiers.medium]\napprovals = 1\nexpires_after = 1.0\nwarn_before = 0.6",
        )
    )
    async with Engine.open(home) as engine:
        with engine.subscribe() as events:
            thread = await engine.start("email the Q3 report to boss@company.com")
            seen = []
            async with asyncio.timeout(10):
                async for event in events:
                    seen.append(event)
                    if isinstance(event, ApprovalDecided):
                        break
        warned = [e for e in seen if isinstance(e, ApprovalExpiring)]
        assert len(warned) == 1
        assert seen.index(warned[0]) < len(seen) - 1
        decided = seen[-1]
        assert isinstance(decided, ApprovalDecided)
        assert (decided.decision, decided.operator) == ("expire", "policy:expiry")
        await engine.wait(thread.id)
        finished = await engine.thread(thread.id)
        assert finished.status == "done"
        assert "Expired: nobody decided within" in (finished.answer or "")
        assert not list(home.outbox.glob("*.eml"))
        assert [e.kind for e in await engine.audit(thread=thread.id)][-1] == "expired"
