"""The audit log records every kind of event, and any tampering is found and named."""

from __future__ import annotations

import json
import subprocess

from engine import Approve, Edit, Home, Reject
from engine.engine import Engine
from tests.cli.test_cli import hitl
from tests.conftest import run_sql


async def _busy_day(engine: Engine) -> None:
    """One of everything: edit, reject, two approvals, a denial."""
    thread = await engine.start(
        "email the deck to cto@company.com and transfer $300 to acct-2 and order 3 chairs at $80"
    )
    await engine.wait(thread.id)
    by_tool = {a.tool: a for a in await engine.pending(thread.id)}
    email = by_tool["send_email"]
    await engine.decide(email.id, Edit(dict(email.args, cc=["me@company.com"])))
    await engine.decide(by_tool["create_order"].id, Reject("we have chairs"))
    await engine.decide(by_tool["transfer_money"].id, Approve(), operator="alice")
    await engine.decide(by_tool["transfer_money"].id, Approve(), operator="bob")
    await engine.wait(thread.id)
    denied = await engine.start("delete file ../../etc/passwd")
    await engine.wait(denied.id)


async def test_every_decision_and_gated_execution_is_audited(engine: Engine) -> None:
    await _busy_day(engine)
    entries = await engine.audit()
    kinds = [e.kind for e in entries]
    assert kinds[0] == "policy_in_force"
    assert kinds.count("approval_requested") == 3
    assert kinds.count("decision") == 4
    assert kinds.count("tool_executed") == 2
    assert kinds.count("call_denied") == 1

    [edit] = [e for e in entries if e.kind == "decision" and e.body["decision"] == "edit"]
    assert edit.operator == "alice"
    assert edit.body["original_args"]["cc"] == []
    assert edit.body["args"]["cc"] == ["me@company.com"]
    [reject] = [e for e in entries if e.kind == "decision" and e.body["decision"] == "reject"]
    assert reject.body["reason"] == "we have chairs"
    transfer = [e for e in entries if e.tool == "transfer_money" and e.kind == "decision"]
    assert [(e.operator, e.body["approvals"]) for e in transfer] == [
        ("alice", "1/2"),
        ("bob", "2/2"),
    ]
    [ran] = [e for e in entries if e.kind == "tool_executed" and e.tool == "transfer_money"]
    assert ran.body["ok"] and "Transfer #" in ran.body["result"]
    assert (await engine.verify_audit()).ok

    by_bob = await engine.audit(operator="bob")
    assert [e.tool for e in by_bob] == ["transfer_money"]


def audit_cli(home: Home, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    return hitl(home, "audit", *args, ok=ok)


def _tamper(home: Home, sql: str) -> None:
    run_sql(home, sql)


async def test_verify_names_an_edited_entry(engine: Engine, home: Home) -> None:
    await _busy_day(engine)
    assert (await engine.verify_audit()).ok
    [reject] = [e for e in await engine.audit() if e.body.get("reason") == "we have chairs"]
    _tamper(
        home,
        "UPDATE hitl_audit SET body = replace(body, 'we have chairs', 'ok') "
        f"WHERE seq = {reject.seq}",
    )
    result = await engine.verify_audit()
    assert (result.ok, result.seq) == (False, reject.seq)
    assert result.problem == f"entry #{reject.seq} (decision) was changed after it was written"


async def test_verify_names_a_deleted_entry(engine: Engine, home: Home) -> None:
    await _busy_day(engine)
    _tamper(home, "DELETE FROM hitl_audit WHERE seq = 4")
    result = await engine.verify_audit()
    assert (result.ok, result.seq, result.problem) == (False, 4, "entry #4 was removed")


async def test_verify_names_reordered_entries(engine: Engine, home: Home) -> None:
    await _busy_day(engine)
    _tamper(home, "UPDATE hitl_audit SET seq = -1 WHERE seq = 5")
    _tamper(home, "UPDATE hitl_audit SET seq = 5 WHERE seq = 6")
    _tamper(home, "UPDATE hitl_audit SET seq = 6 WHERE seq = -1")
    result = await engine.verify_audit()
    assert (result.ok, result.seq) == (False, 5)
    assert "entry #5 does not follow entry #4" in (result.problem or "")


async def test_the_cli_verifies_lists_and_exports(engine: Engine, home: Home) -> None:
    await _busy_day(engine)
    ok = audit_cli(home, "verify")
    assert ok.stdout.startswith("audit log intact: 13 entries")
    jsonl = audit_cli(home, "--tool", "transfer_money", "--jsonl").stdout.splitlines()
    kinds = [json.loads(line)["kind"] for line in jsonl]
    assert kinds == [
        "approval_requested",
        "decision",
        "decision",
        "tool_started",
        "tool_executed",
    ]
    listing = audit_cli(home, "--by", "bob").stdout
    assert "transfer_money" in listing and "by bob" in listing
    _tamper(home, "UPDATE hitl_audit SET operator = 'mallory' WHERE seq = 9")
    broken = audit_cli(home, "verify", ok=False)
    assert broken.returncode == 1
    assert "audit log broken at entry #9" in broken.stderr
