"""Every path to a tool run honours the policy: edits, other processes' policies,
outcome-unknown re-runs, expiry, look-alike operators, lease renewal, id clashes."""

from __future__ import annotations

import asyncio
import time

import pytest

from engine import (
    AlreadyDecided,
    Approve,
    Edit,
    EditDenied,
    Expired,
    FourEyes,
    Home,
    InvalidArguments,
    InvalidOperator,
    Policy,
    Respond,
    Tier,
    UnknownApproval,
)
from engine.engine import Engine
from engine.events import ApprovalDecided, MessageAdded, ToolExecuted
from engine.policy_file import DEFAULT_POLICY_TOML
from tests.conftest import run_sql
from tests.engine.chat_server import ChatServer, PlannedCall
from tests.engine.processes import Child, killed_mid_call, paused_in_child
from tests.engine.quiet import NO_WATCHER

EMAIL = "email the Q3 report to boss@company.com"
TWO_CALLS = "email the Q3 report to boss@company.com and transfer $5000 to acct-991"
FOUR_EYES = DEFAULT_POLICY_TOML.replace("distinct_operators = false", "distinct_operators = true")
NO_HUGE_TRANSFERS = (
    DEFAULT_POLICY_TOML
    + """
[[rules]]
name = "huge transfer"
tool = "transfer_money"
when = "args.amount > 10000.0"
tier = "deny"
"""
)
LAX = 'default_tier = "low"\n[tools]\nsend_email = "medium"\n'
"""Another process's policy: the transfer runs at once, any email needs one approval."""


async def _paused(engine: Engine, task: str) -> tuple[str, dict[str, object]]:
    thread = await engine.start(task)
    await engine.wait(thread.id)
    return thread.id, {a.tool: a for a in await engine.pending(thread.id)}


def _with_policy(home: Home, text: str) -> None:
    home.create()
    home.policy_file.write_text(text)


# --- 1. an edit is a new call to judge ----------------------------------------


async def test_an_edit_to_an_outside_address_needs_the_high_tier(
    engine: Engine, home: Home
) -> None:
    thread_id, calls = await _paused(engine, EMAIL)
    email = calls["send_email"]
    assert (email.tier, email.required) == ("medium", 1)

    edited = await engine.decide(email.id, Edit(dict(email.args, to="eve@evil.example")))
    assert edited.status == "pending"
    assert (edited.tier, edited.required, edited.received) == ("high", 2, 1)
    assert "email outside company.com" in edited.reason
    assert edited.rules == ("email outside company.com",)
    assert edited.edited_by == "alice"
    await engine.wait(thread_id)
    assert not list(home.outbox.glob("*.eml")), "one approval sent a high-risk call"
    [still] = await engine.pending(thread_id)
    assert (still.args["to"], still.tier, still.received) == ("eve@evil.example", "high", 1)

    done = await engine.decide(email.id, Approve(), operator="bob")
    await engine.wait(thread_id)
    assert done.outcome == "edited by alice, approved by bob"
    [sent] = list(home.outbox.glob("*.eml"))
    assert "To: eve@evil.example" in sent.read_text()


async def test_an_edit_adding_an_outside_cc_needs_the_high_tier(engine: Engine) -> None:
    _, calls = await _paused(engine, EMAIL)
    email = calls["send_email"]
    edited = await engine.decide(email.id, Edit(dict(email.args, cc=["leak@rival.example"])))
    assert (edited.status, edited.tier, edited.required) == ("pending", "high", 2)


async def test_an_edit_into_a_deny_rule_is_refused_and_audited(home: Home) -> None:
    _with_policy(home, NO_HUGE_TRANSFERS)
    async with Engine.open(home, operator="alice") as engine:
        thread_id, calls = await _paused(engine, "transfer $500 to acct-991")
        transfer = calls["transfer_money"]
        with pytest.raises(EditDenied, match=r"denied by policy \(rule 'huge transfer'"):
            await engine.decide(transfer.id, Edit(dict(transfer.args, amount=5_000_000)))
        assert await engine.pending(thread_id) == [transfer]
        refused = [e for e in await engine.audit(thread=thread_id) if e.kind == "edit_refused"]
        assert [(e.operator, e.body["args"]["amount"]) for e in refused] == [("alice", 5_000_000)]
        assert "huge transfer" in refused[0].body["reason"]
        assert not await engine.ledger()


async def test_an_edit_of_a_path_out_of_the_sandbox_is_refused(engine: Engine, home: Home) -> None:
    home.sandbox.mkdir(parents=True, exist_ok=True)
    (home.sandbox / "old.txt").write_text("x")
    (home.path / "outside.txt").write_text("keep me")
    thread_id, calls = await _paused(engine, "delete file old.txt")
    delete = calls["delete_file"]
    with pytest.raises(EditDenied, match=r"path escapes the sandbox"):
        await engine.decide(delete.id, Edit({"path": "../outside.txt"}))
    assert await engine.pending(thread_id) == [delete]
    assert (home.path / "outside.txt").read_text() == "keep me"


async def test_the_edit_preview_is_the_verdict_the_edit_gets(engine: Engine) -> None:
    _, calls = await _paused(engine, EMAIL)
    email = calls["send_email"]
    outside = await engine.edit_verdict(email.id, dict(email.args, to="eve@evil.example"))
    assert (outside.tier, outside.approvals_required) == (Tier.HIGH, 2)
    inside = await engine.edit_verdict(email.id, dict(email.args, to="cfo@company.com"))
    assert (inside.tier, inside.rules) == (Tier.MEDIUM, ())


async def test_a_high_call_edited_to_a_benign_one_keeps_its_tier_and_says_why(
    engine: Engine,
) -> None:
    _, calls = await _paused(engine, "email the Q3 report to eve@evil.example")
    email = calls["send_email"]
    assert email.tier == "high"
    edited = await engine.decide(email.id, Edit(dict(email.args, to="cfo@company.com")))
    assert (edited.status, edited.tier, edited.required, edited.received) == (
        "pending",
        "high",
        2,
        1,
    )
    assert edited.reason.startswith("tool send_email is medium; kept at high as first asked")


async def test_an_edit_by_one_operator_then_approval_by_another_says_who_did_what(
    engine: Engine,
) -> None:
    _, calls = await _paused(engine, "transfer $5000 to acct-991")
    transfer = calls["transfer_money"]
    await engine.decide(transfer.id, Edit(dict(transfer.args, amount=4000)), operator="root")
    done = await engine.decide(transfer.id, Approve(), operator="alice")
    assert done.status == "edited"
    assert done.outcome == "edited by root, approved by alice"
    with pytest.raises(AlreadyDecided, match=r"edited by root, approved by alice$"):
        await engine.decide(transfer.id, Approve(), operator="bob")


# --- 2. a verdict is fixed when the approval is requested ------------------------


async def test_a_sibling_decided_under_a_lax_policy_does_not_run_the_other_call(
    home: Home,
) -> None:
    async with Engine.open(home, operator="alice") as strict:
        thread_id, calls = await _paused(strict, TWO_CALLS)
    assert (calls["transfer_money"].tier, calls["transfer_money"].required) == ("high", 2)
    lax_file = home.path / "lax.toml"
    lax_file.write_text(LAX)
    async with Engine.open(home, operator="mallory", policy=lax_file) as lax:
        assert lax.policy.verdict("transfer_money", {"amount": 5000.0}).tier is Tier.LOW
        await lax.decide(calls["send_email"].id, Approve())
        await lax.wait(thread_id)
        assert len(list(home.outbox.glob("*.eml"))) == 1
        assert not await lax.ledger(), "the transfer ran with 0 of 2 approvals"
        [transfer] = await lax.pending(thread_id)
        assert (transfer.id, transfer.tier, transfer.received) == (
            calls["transfer_money"].id,
            "high",
            0,
        )
        assert (await lax.thread(thread_id)).status == "waiting"


async def test_an_edit_under_a_lax_policy_is_judged_by_the_policy_it_was_asked_under(
    home: Home,
) -> None:
    async with Engine.open(home, operator="alice") as strict:
        thread_id, calls = await _paused(strict, EMAIL)
    lax_file = home.path / "lax.toml"
    lax_file.write_text(LAX)
    async with Engine.open(home, operator="mallory", policy=lax_file) as lax:
        email = calls["send_email"]
        edited = await lax.decide(email.id, Edit(dict(email.args, to="eve@evil.example")))
        assert (edited.status, edited.tier, edited.required) == ("pending", "high", 2)
        await lax.wait(thread_id)
        assert not list(home.outbox.glob("*.eml"))


async def test_policy_check_says_pending_calls_were_asked_under_another_policy(
    engine: Engine, home: Home
) -> None:
    from tests.cli.test_cli import hitl

    await _paused(engine, EMAIL)
    same = hitl(home, "policy", "check")
    assert "requested under another policy" not in same.stdout
    home.policy_file.write_text(LAX)
    changed = hitl(home, "policy", "check")
    assert "1 pending call was requested under another policy" in changed.stdout


# --- 3. outcome unknown asks for what the call asked ----------------------------


async def test_rerunning_an_outcome_unknown_call_needs_its_four_eyes(home: Home) -> None:
    _with_policy(home, FOUR_EYES)
    approval_id = paused_in_child(home, "transfer $9000 to acct-991")
    async with Engine.open(home, operator="alice") as engine:
        await engine.decide(approval_id, Approve())
    killed_mid_call(home, approval_id, "transfer_money")

    async with Engine.open(home, operator="alice") as engine:
        await engine.resume()
        await engine.wait()
        [unknown] = await engine.pending()
        assert unknown.kind == "outcome_unknown"
        assert (unknown.tier, unknown.required, unknown.distinct_operators) == ("high", 2, True)
        assert unknown.expires_at is not None
        first = await engine.decide(unknown.id, Approve())
        assert first.status == "pending"
        with pytest.raises(FourEyes):
            await engine.decide(unknown.id, Approve())
        await engine.wait(unknown.thread_id)
        assert not await engine.ledger(), "one operator re-ran a four-eyes transfer"
        await engine.decide(unknown.id, Approve(), operator="bob")
        await engine.wait(unknown.thread_id)
        assert len(await engine.ledger()) == 1


async def test_marking_an_outcome_unknown_call_done_needs_one_person(home: Home) -> None:
    _with_policy(home, FOUR_EYES)
    approval_id = await _outcome_unknown_email(home)
    async with Engine.open(home, operator="alice") as engine:
        [unknown] = await engine.pending()
        assert unknown.id != approval_id and unknown.kind == "outcome_unknown"
        done = await engine.decide(unknown.id, Respond("it went out"))
        assert done.outcome == "marked done by alice"
        await engine.wait(unknown.thread_id)
        assert (await engine.thread(unknown.thread_id)).status == "done"
        assert not list(home.outbox.glob("*.eml"))


async def _outcome_unknown_email(home: Home) -> str:
    approval_id = paused_in_child(home, EMAIL)
    killed_mid_call(home, approval_id, "send_email")
    async with Engine.open(home, operator="alice") as engine:
        await engine.resume()
        await engine.wait()
    return str(approval_id)


# --- 4. expiry is enforced where decisions are made ----------------------------

SHORT_EXPIRY = DEFAULT_POLICY_TOML.replace(
    '[tiers.medium]\napprovals = 1\nexpires_after = "24h"\nwarn_before = "10m"',
    '[tiers.medium]\napprovals = 1\nexpires_after = "1s"',
)


async def test_a_decision_after_the_deadline_is_refused_without_a_watcher(home: Home) -> None:
    _with_policy(home, SHORT_EXPIRY)
    async with Engine.open(home, operator="alice", **NO_WATCHER) as engine:
        thread_id, calls = await _paused(engine, EMAIL)
        email = calls["send_email"]
        assert email.expires_at is not None
        await asyncio.sleep(max(0.0, email.expires_at - time.time()) + 0.05)  # the deadline
        with pytest.raises(Expired, match=rf"approval {email.id} expired at \d\d:\d\d:\d\d"):
            await engine.decide(email.id, Approve())
        expired = await engine.approval(email.id)
        assert (expired.status, expired.decided_by) == ("rejected", "policy:expiry")
        with pytest.raises(Expired):
            await engine.decide(email.id, Approve(), operator="bob")
        await engine.wait(thread_id)
        assert not list(home.outbox.glob("*.eml"))
        assert "expired" in [e.kind for e in await engine.audit(thread=thread_id)]


async def test_a_deadline_passing_during_a_decision_still_refuses_it(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_policy(home, SHORT_EXPIRY)
    async with Engine.open(home, operator="alice", **NO_WATCHER) as engine:
        thread_id, calls = await _paused(engine, EMAIL)
        email = calls["send_email"]
        await asyncio.sleep(max(0.0, (email.expires_at or 0) - time.time()) + 0.05)
        checks = iter([False])  # the check before the write saw the deadline ahead
        monkeypatch.setattr(
            "engine.judge.overdue", lambda a, now: next(checks, a.expires_at <= now)
        )
        with pytest.raises(Expired):
            await engine.decide(email.id, Approve())
        await engine.wait(thread_id)
        assert not list(home.outbox.glob("*.eml"))
        assert (await engine.approval(email.id)).decided_by == "policy:expiry"


async def test_opening_a_home_expires_overdue_approvals(home: Home) -> None:
    _with_policy(home, SHORT_EXPIRY)
    async with Engine.open(home, operator="alice", **NO_WATCHER) as engine:
        _, calls = await _paused(engine, EMAIL)
    run_sql(home, "UPDATE hitl_approvals SET expires_at = expires_at - 3600")
    async with Engine.open(home, operator="bob", **NO_WATCHER) as engine:
        expired = await engine.approval(calls["send_email"].id)
        assert (expired.status, expired.decided_by) == ("rejected", "policy:expiry")
        await engine.resume()
        await engine.wait()
        assert not list(home.outbox.glob("*.eml"))


# --- 5. operators are people, not byte strings ------------------------------------


@pytest.mark.parametrize("lookalike", ["Alice", "alice ", " alice", "ALICE", "\uff41lice"])
async def test_four_eyes_sees_through_lookalike_names(home: Home, lookalike: str) -> None:
    _with_policy(home, FOUR_EYES)
    async with Engine.open(home, operator="alice") as engine:
        _, calls = await _paused(engine, "transfer $5000 to acct-991")
        transfer = calls["transfer_money"]
        await engine.decide(transfer.id, Approve())
        with pytest.raises(FourEyes):
            await engine.decide(transfer.id, Approve(), operator=lookalike)
        assert (await engine.approval(transfer.id)).received == 1


@pytest.mark.parametrize(
    "name", ["alice\u200b", "ali\u202ece", "bob\u2066", "\u200d", "  ", "x\ny", "policy:expiry"]
)
async def test_invisible_or_reserved_operator_names_are_refused(engine: Engine, name: str) -> None:
    _, calls = await _paused(engine, EMAIL)
    with pytest.raises(InvalidOperator):
        await engine.decide(calls["send_email"].id, Approve(), operator=name)
    assert (await engine.approval(calls["send_email"].id)).received == 0


async def test_an_engine_refuses_to_open_as_an_invisible_name(home: Home) -> None:
    with pytest.raises(InvalidOperator, match=r"U\+200B"):
        async with Engine.open(home, operator="alice\u200b"):
            pass
    assert not home.db.exists() or home.database_url


# --- 7. whoever runs a thread renews its lease ----------------------------------


async def test_a_model_turn_longer_than_the_lease_keeps_the_thread(home: Home) -> None:
    async with (
        Engine.open(
            home, operator="alice", **NO_WATCHER, think_seconds=1.5, lease_seconds=0.6
        ) as runner,
        Engine.open(home, operator="bob", **NO_WATCHER, lease_seconds=0.6) as other,
    ):
        with other.subscribe() as seen_by_other:
            thread = await runner.start("search for invoices")
            await asyncio.sleep(1.0)  # well past the lease, inside the model's turn
            assert await other.resume() == [thread.id]
            await other.wait()
            await runner.wait(thread.id)
        assert not [e for e in seen_by_other.drain() if isinstance(e, MessageAdded)], (
            "another process took the thread while its model turn ran"
        )
        replies = [
            h
            for h in await runner.history(thread.id)
            if h.kind == MessageAdded.KIND and h.body["role"] == "assistant"
        ]
        assert len(replies) == 2  # the call, and the answer: each once
        assert (await runner.thread(thread.id)).status == "done"


# --- 8. approval ids never clash silently ---------------------------------------


async def test_approval_ids_that_clash_get_longer_ones(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("engine.storage.approvals.SHORT_ID_LENGTHS", (1, 2, 3))
    threads = [await engine.start(TWO_CALLS) for _ in range(10)]
    for thread in threads:
        await engine.wait(thread.id)
    pending = await engine.pending()
    assert len(pending) == 20, "an approval was lost to an id clash"
    assert len({a.id for a in pending}) == 20
    assert all(a.interrupt_id.startswith(a.id) for a in pending)
    assert {len(a.id) for a in pending} != {1}
    longest = max(pending, key=lambda a: len(a.id))
    assert (await engine.approval(longest.id)).interrupt_id == longest.interrupt_id
    assert {(await engine.thread(t.id)).status for t in threads} == {"waiting"}


# --- the gate checks what it is handed -------------------------------------------


async def test_an_approval_tampered_to_another_call_does_not_run(
    engine: Engine, home: Home
) -> None:
    thread_id, calls = await _paused(engine, EMAIL)
    email = calls["send_email"]
    run_sql(
        home,
        "UPDATE hitl_approvals SET status = 'approved', received = 1, decided_by = 'mallory', "
        'decision = \'{"type": "approve", "call_digest": "' + "0" * 64 + "\"}' "
        f"WHERE id = '{email.id}'",
    )
    with engine.subscribe() as events:
        await engine.resume()
        await engine.wait(thread_id)
        seen = events.drain()
    assert not list(home.outbox.glob("*.eml"))
    assert not [e for e in seen if isinstance(e, ToolExecuted)]
    said = [e.content for e in seen if isinstance(e, MessageAdded) and e.role == "tool"]
    assert said == ["Error: the approval does not match this call; not run."]


# --- 6. low-tier runs are on the record too --------------------------------------


async def test_low_tier_executions_are_audited(engine: Engine) -> None:
    thread = await engine.start("search for invoices")
    await engine.wait(thread.id)
    [ran] = [e for e in await engine.audit(thread=thread.id) if e.kind == "tool_executed"]
    assert (ran.tool, ran.body["gated"]) == ("search", False)
    assert (await engine.verify_audit()).ok


async def test_a_verdict_is_recorded_with_the_policy_it_came_from(engine: Engine) -> None:
    _, calls = await _paused(engine, EMAIL)
    email = calls["send_email"]
    assert email.policy_digest == engine.policy.digest
    [asked] = [e for e in await engine.audit() if e.kind == "approval_requested"]
    assert asked.body["policy"] == engine.policy.digest
    assert Policy.from_canonical(engine.policy.canonical(), "x").digest == engine.policy.digest


async def test_the_decision_event_tells_what_each_operator_did(engine: Engine) -> None:
    _, calls = await _paused(engine, "transfer $5000 to acct-991")
    transfer = calls["transfer_money"]
    with engine.subscribe() as events:
        await engine.decide(transfer.id, Edit(dict(transfer.args, amount=4500)), operator="root")
        await engine.decide(transfer.id, Approve(), operator="alice")
        decided = [e for e in events.drain() if isinstance(e, ApprovalDecided)]
    assert [(e.decision, e.operator, e.final) for e in decided] == [
        ("edit", "root", False),
        ("approve", "alice", True),
    ]
    assert decided[-1].approval.edited_by == "root"


# --- 10. the default email rule reads cc too --------------------------------------


async def test_the_default_policy_raises_email_with_an_outside_cc(engine: Engine) -> None:
    call = {"to": "boss@company.com", "subject": "Q3", "body": "attached"}
    assert engine.explain("send_email", call).tier is Tier.MEDIUM
    inside = engine.explain("send_email", {**call, "cc": ["cfo@company.com"]})
    assert inside.tier is Tier.MEDIUM
    outside = engine.explain("send_email", {**call, "cc": ["cfo@company.com", "x@rival.example"]})
    assert (outside.tier, outside.rules) == (Tier.HIGH, ("cc outside company.com",))


# --- found by attacking the above ---------------------------------------------------


@pytest.mark.parametrize("name", ["alice\ufe0f", "alice\u034f", "\u3164alice", "alice\u2800"])
async def test_names_padded_with_fillers_or_selectors_are_refused(home: Home, name: str) -> None:
    _with_policy(home, FOUR_EYES)
    async with Engine.open(home, operator="alice") as engine:
        _, calls = await _paused(engine, "transfer $5000 to acct-991")
        transfer = calls["transfer_money"]
        await engine.decide(transfer.id, Approve())
        with pytest.raises(InvalidOperator):
            await engine.decide(transfer.id, Approve(), operator=name)
        assert not await engine.ledger()


async def test_a_cc_entry_holding_two_addresses_is_refused(engine: Engine, home: Home) -> None:
    thread_id, calls = await _paused(engine, EMAIL)
    email = calls["send_email"]
    with pytest.raises(InvalidArguments, match=r"cc\.0: String should match pattern"):
        await engine.decide(email.id, Edit(dict(email.args, cc=["spy@evil.com, boss@company.com"])))
    assert await engine.pending(thread_id) == [email]


async def test_an_infinite_amount_is_refused(engine: Engine) -> None:
    _, calls = await _paused(engine, "transfer $500 to acct-991")
    transfer = calls["transfer_money"]
    with pytest.raises(InvalidArguments, match=r"amount: Input should be a finite number"):
        await engine.decide(transfer.id, Edit(dict(transfer.args, amount=float("inf"))))


async def test_an_empty_approval_id_matches_nothing(engine: Engine) -> None:
    _, calls = await _paused(engine, EMAIL)
    with pytest.raises(UnknownApproval, match="an approval id is needed"):
        await engine.decide(" ", Approve())
    assert (await engine.approval(calls["send_email"].id)).status == "pending"


async def test_a_model_that_repeats_a_call_id_cannot_make_one_call_stand_for_another(
    home: Home,
) -> None:
    email = {"to": "boss@company.com", "subject": "Q3", "body": "attached"}
    transfer = {"amount": 5000, "to_account": "acct-991"}
    planned = [
        PlannedCall("send_email", email, id="x"),
        PlannedCall("transfer_money", transfer, id="x"),
    ]
    with ChatServer(planned) as server:
        async with Engine.open(
            home, model="openai:test-model", base_url=server.base_url, api_key="t", operator="alice"
        ) as engine:
            thread_id, calls = await _paused(engine, "go")
            assert calls["send_email"].tool_call_id != calls["transfer_money"].tool_call_id
            await engine.decide(calls["send_email"].id, Approve())
            await engine.wait(thread_id)
            assert len(list(home.outbox.glob("*.eml"))) == 1
            assert (await engine.approval(calls["transfer_money"].id)).status == "pending"
            await engine.decide(calls["transfer_money"].id, Approve())
            await engine.decide(calls["transfer_money"].id, Approve(), operator="bob")
            await engine.wait(thread_id)
            [paid] = await engine.ledger()
            assert paid.body["amount"] == 5000


def test_call_ids_a_thread_has_seen_are_replaced() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    from engine.graph import unique_call_ids

    earlier = AIMessage("", tool_calls=[{"id": "call_0", "name": "search", "args": {}}])
    reply = AIMessage(
        "",
        tool_calls=[
            {"id": "call_0", "name": "search", "args": {"query": "a"}},
            {"id": "call_1", "name": "search", "args": {"query": "b"}},
            {"id": "call_1", "name": "search", "args": {"query": "c"}},
        ],
    )
    unique_call_ids(reply, [HumanMessage("hi"), earlier])
    ids = [c["id"] for c in reply.tool_calls]
    assert ids[1] == "call_1"
    assert ids[0].startswith("call_0-") and ids[2].startswith("call_1-")
    assert len(set(ids) | {"call_0"}) == 4


LOW_ORDERS = DEFAULT_POLICY_TOML.replace('create_order = "medium"', 'create_order = "low"')


async def test_a_low_tier_call_run_again_after_a_crash_is_audited_again(home: Home) -> None:
    _with_policy(home, LOW_ORDERS)
    crashing = Child(
        home, "start", "order 5 laptops at $900", env={"HITL_CRASH_AT": "after:tool_executed"}
    )
    if crashing.proc.stdin:
        crashing.proc.stdin.close()
    assert crashing.proc.wait(timeout=60) == -9
    async with Engine.open(home, operator="alice") as engine:
        await engine.resume()
        await engine.wait()
        orders = await engine.ledger()
        ran = [e for e in await engine.audit() if e.kind == "tool_executed"]
        assert len(orders) == 2  # low tier: re-run on resume, as documented
        assert [e.tool for e in ran] == ["create_order", "create_order"]
        assert (await engine.verify_audit()).ok
