"""A state change and its audit entry commit together: kill the process right before
and right after each commit that writes an audit entry, and the record is complete.

``HITL_CRASH_AT=before:KIND`` / ``after:KIND`` (engine/faults.py) SIGKILLs the child
engine at the first commit that records an audit entry of that kind.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from engine import Home, Reader
from engine.engine import Engine
from engine.events import CallDenied, ToolExecuted
from engine.policy_file import DEFAULT_POLICY_TOML
from engine.storage.audit import AuditEntry
from tests.engine.processes import Child, killed_mid_call
from tests.engine.quiet import NO_WATCHER

EMAIL = "email the Q3 report to boss@company.com"
SHORT_EXPIRY = DEFAULT_POLICY_TOML.replace(
    '[tiers.medium]\napprovals = 1\nexpires_after = "24h"\nwarn_before = "10m"',
    '[tiers.medium]\napprovals = 1\nexpires_after = "1s"',
)


def _crashed(child: Child) -> None:
    """The child must die at its crash point, not finish."""
    if child.proc.stdin:
        child.proc.stdin.close()
    code = child.proc.wait(timeout=60)
    assert code == -9, f"the crash point was never reached (exit {code})"


def _start(home: Home, task: str = EMAIL, crash: str | None = None) -> str | None:
    """Runs ``task`` in a child until it pauses; the approval id, or None if it crashed."""
    env = {"HITL_CRASH_AT": crash} if crash else None
    child = Child(home, "start", task, env=env)
    if crash:
        _crashed(child)
        return None
    [approval_id] = child.expect(lambda line: line.get("milestone") == "settled")["pending"]
    child.finish()
    return str(approval_id)


def _approve(home: Home, approval_id: str, crash: str) -> None:
    child = Child(home, "decide", approval_id, "approve", env={"HITL_CRASH_AT": crash})
    child.expect(lambda line: line.get("milestone") == "ready")
    child.send("go")
    _crashed(child)


def _resume(home: Home, crash: str | None = None) -> None:
    child = Child(home, "resume", env={"HITL_CRASH_AT": crash} if crash else None)
    if crash:
        _crashed(child)
        return
    child.expect(lambda line: line.get("milestone") == "settled")
    child.finish()


def _requested(home: Home, crash: str) -> None:
    assert _start(home, crash=crash) is None


def _approved(home: Home, crash: str) -> None:
    """A paused email approved in a child that dies at the decision, the tool's start
    or its end."""
    _approve(home, str(_start(home)), crash)


def _denied(home: Home, crash: str) -> None:
    assert _start(home, "delete file ../../etc/passwd", crash=crash) is None


def _expired(home: Home, crash: str) -> None:
    home.create()
    home.policy_file.write_text(SHORT_EXPIRY)
    _start(home)
    time.sleep(1.1)  # past the deadline: the next engine to open the home expires it
    _resume(home, crash)


def _outcome_unknown(home: Home, crash: str) -> None:
    killed_mid_call(home, str(_start(home)), "send_email")
    _resume(home, crash)


SCENARIOS: dict[str, Callable[[Home, str], None]] = {
    "approval_requested": _requested,
    "decision": _approved,
    "tool_started": _approved,
    "tool_executed": _approved,
    "call_denied": _denied,
    "expired": _expired,
    "outcome_unknown": _outcome_unknown,
}


async def _assert_record_complete(engine: Reader) -> list[AuditEntry]:
    """Every approval, decision, execution and denial in the home has its audit entry,
    and the chain is intact."""
    entries = await engine.audit()
    assert (await engine.verify_audit()).ok
    by_approval: dict[str, list[str]] = {}
    for entry in entries:
        if entry.approval_id:
            by_approval.setdefault(entry.approval_id, []).append(entry.kind)
    for thread in await engine.threads():
        for approval in await engine.approvals(thread.id):
            kinds = by_approval.get(approval.id, [])
            asked = (
                "outcome_unknown" if approval.kind == "outcome_unknown" else "approval_requested"
            )
            assert asked in kinds, f"approval {approval.id} has no {asked} entry"
            if approval.status != "pending":
                assert {"decision", "expired", "outcome_resolved"} & set(kinds), (
                    f"decided approval {approval.id} ({approval.status}) has no decision entry"
                )
        calls = {e.body.get("tool_call_id"): e.kind for e in entries if e.thread_id == thread.id}
        started = {e.body.get("tool_call_id") for e in entries if e.kind == "tool_started"}
        executed = {e.body.get("tool_call_id") for e in entries if e.kind == "tool_executed"}
        for history in await engine.history(thread.id):
            body = history.body
            if history.kind == ToolExecuted.KIND:
                assert body["tool_call_id"] in executed, f"{body['tool']} ran, not audited"
                if body["gated"]:
                    assert body["tool_call_id"] in started
            if history.kind == CallDenied.KIND:
                assert calls.get(body["tool_call_id"]) == "call_denied"
    return entries


@pytest.mark.parametrize("moment", ["before", "after"])
@pytest.mark.parametrize("kind", list(SCENARIOS))
async def test_a_crash_at_a_commit_leaves_the_change_and_its_record_together(
    home: Home, kind: str, moment: str
) -> None:
    SCENARIOS[kind](home, f"{moment}:{kind}")
    async with Reader.open(home) as reader:  # as the crash left it: opening an engine acts
        entries = await _assert_record_complete(reader)
    recorded = [e for e in entries if e.kind == kind]
    assert bool(recorded) == (moment == "after"), (
        f"a crash {moment} the commit {'lost' if moment == 'after' else 'kept'} the {kind}"
    )
    async with Engine.open(home, operator="alice", **NO_WATCHER) as engine:
        # Carry on as a person would: everything ends consistent, nothing ran twice.
        await engine.resume()
        await engine.wait()
        for approval in await engine.pending():
            await engine.decide(approval.id, _settle(approval.kind))
        await engine.resume()
        await engine.wait()
        await _assert_record_complete(engine)
        assert len(list(home.outbox.glob("*.eml"))) <= 1
        assert {t.status for t in await engine.threads()} <= {"done"}


def _settle(kind: str) -> object:
    from engine import Approve, Respond

    return Respond("checked by hand") if kind == "outcome_unknown" else Approve()
