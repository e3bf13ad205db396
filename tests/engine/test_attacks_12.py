"""Attacks on issue 12's guarantees (group commit, durability, leases) as a careless
operator or a second process would make them: what held stays here as a regression test."""

from __future__ import annotations

import asyncio
import collections
import email
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine import Approve, Edit, Home, Reject
from engine.engine import Engine
from engine.errors import AlreadyDecided, InvalidArguments, InvalidOption
from engine.events import ThreadFinished
from engine.options import default_durability
from tests.engine.held_rows import hold_journal_row
from tests.engine.processes import ROOT, Child
from tests.engine.quiet import NO_WATCHER

HITL = Path(sys.executable).with_name("hitl")
EMAIL_TASK = "email the report to boss@company.com"
CHILD = [sys.executable, "-m", "tests.engine.deciding_child"]
LOOK_ALIKE = "f\u0430st"
"""'fast' with a Cyrillic a."""
WATCHING: dict[str, Any] = {**NO_WATCHER, "follow_journal": True}


def sent_calls(home: Home) -> collections.Counter[tuple[str, str]]:
    """How many times each (thread, tool call) wrote its email."""
    return collections.Counter(
        (message["X-Hitl-Thread"], message["X-Hitl-Tool-Call"])
        for message in map(
            email.message_from_bytes, map(Path.read_bytes, home.outbox.glob("*.eml"))
        )
    )


def deciding_child(home: Home, threads: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HITL_DATABASE_URL", "HITL_HOME")}
    if home.database_url:
        env["HITL_DATABASE_URL"] = home.database_url
    return subprocess.Popen(
        [*CHILD, "--home", str(home.path), "--threads", str(threads)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# 1. Group commit: two processes deciding at once on one home.


async def test_two_processes_deciding_at_once_keep_the_audit_chain_and_run_each_call_once(
    home: Home,
) -> None:
    """Two engines on one home, each starting and approving its own threads at the same
    time: the batches of both interleave in the journal and the audit chain."""
    async with Engine.open(home, operator="alice"):
        pass  # the schema exists before two processes race to make it
    children = [deciding_child(home, 15) for _ in range(2)]
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        assert out.count('"decided"') == 15
    async with Engine.open(home, operator="alice") as engine:
        assert (await engine.verify_audit()).ok
        threads = await engine.threads()
        assert len(threads) == 30 and {t.status for t in threads} == {"done"}
    sent = sent_calls(home)
    assert len(sent) == 30 and set(sent.values()) == {1}


async def test_one_of_two_deciding_processes_killed_mid_batch_spoils_nothing(
    home: Home,
) -> None:
    """Two engines decide at once; one is SIGKILLed after some of its decisions were
    acknowledged: those are there, the other process finishes every one of its own, the
    chain verifies and no call runs twice after the restart."""
    async with Engine.open(home, operator="alice"):
        pass
    killed, survivor = deciding_child(home, 15), deciding_child(home, 15)
    assert killed.stdout is not None
    acknowledged: set[str] = set()
    while len(acknowledged) < 7:
        line = killed.stdout.readline()
        assert line, killed.stderr and killed.stderr.read()
        if '"decided"' in line:
            acknowledged.add(json.loads(line)["decided"])
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    acknowledged |= {
        json.loads(line)["decided"]
        for line in killed.stdout.read().splitlines()
        if "decided" in line
    }
    out, err = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, err
    assert out.count('"decided"') == 15
    async with Engine.open(home, operator="alice") as engine:
        for approval_id in acknowledged:
            assert (await engine.approval(approval_id)).status == "approved"
        await engine.resume()
        await engine.wait()
        assert (await engine.verify_audit()).ok
        threads = await engine.threads()
        done = [t for t in threads if t.status == "done"]
        unknown = [t for t in threads if t.status == "unknown"]
    sent = sent_calls(home)
    assert set(sent.values()) <= {1}, sent
    assert 15 + len(acknowledged) <= len(done) + len(unknown)
    assert len(done) <= len(sent) <= len(done) + len(unknown)


# 1/4. A race on one approval inside a batch of other decisions.


async def test_a_lost_race_in_a_batch_undoes_none_of_the_others(home: Home) -> None:
    """Engine A approves and engine B rejects the same approval at once, while B sends
    an invalid edit of another and A decides five more in the same moment: one racer
    wins and the loser is told who was first; the invalid edit changes nothing; the
    five others all stand."""
    async with (
        Engine.open(home, operator="alice") as a,
        Engine.open(home, operator="bob") as b,
    ):
        threads = [await a.start(EMAIL_TASK) for _ in range(7)]
        for thread in threads:
            await a.wait(thread.id)
        approvals = [(await a.pending(t.id))[0] for t in threads]
        contested, spoiled, others = approvals[0], approvals[1], approvals[2:]
        results = await asyncio.gather(
            a.decide(contested.id, Approve()),
            b.decide(contested.id, Reject("no")),
            b.decide(spoiled.id, Edit({"to": ["not", "an", "address"], "nonsense": 1})),
            *(a.decide(other.id, Approve()) for other in others),
            return_exceptions=True,
        )
        racers, bad, rest = results[:2], results[2], results[3:]
        assert isinstance(bad, InvalidArguments), bad
        assert (await a.approval(spoiled.id)).status == "pending"
        lost = [r for r in racers if isinstance(r, BaseException)]
        assert len(lost) == 1 and isinstance(lost[0], AlreadyDecided), racers
        winner = "bob" if isinstance(racers[0], BaseException) else "alice"
        assert f"by {winner}" in str(lost[0])
        assert not any(isinstance(r, BaseException) for r in rest), rest
        for other in others:
            assert (await a.approval(other.id)).status == "approved"
        await a.wait()
        await b.wait()
        assert (await a.verify_audit()).ok
    sent = sent_calls(home)
    assert set(sent.values()) == {1}
    assert len(sent) == (6 if winner == "alice" else 5)  # the spoiled one still waits


# 2. Durability settings an operator may mistype.


@pytest.mark.parametrize("value", ["FULL", "Fast", "fast!", LOOK_ALIKE, "fast\u200b"])
def test_a_mistyped_durability_is_refused_in_one_line_and_nothing_is_made(
    tmp_path: Path, value: str
) -> None:
    home = tmp_path / "home"
    run = subprocess.run(
        [str(HITL), "--home", str(home), "run", "what is the weather"],
        capture_output=True,
        text=True,
        env={"HITL_DURABILITY": value, "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert run.returncode == 1
    [line] = run.stderr.splitlines()
    assert line.startswith("hitl: $HITL_DURABILITY must be 'full' or 'fast', not ")
    assert not home.exists()


def test_a_look_alike_value_is_shown_so_the_difference_can_be_seen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HITL_DURABILITY", LOOK_ALIKE)
    with pytest.raises(InvalidOption) as refused:
        default_durability()
    assert "\\u0430" in str(refused.value), str(refused.value)


@pytest.mark.parametrize(("value", "level"), [(" fast ", 1), ("", 2), ("  ", 2)])
async def test_blank_means_full_and_spaces_around_are_forgiven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, level: int
) -> None:
    monkeypatch.setenv("HITL_DURABILITY", value)
    async with Engine.open(Home(tmp_path / "home"), operator="alice") as engine:
        [(synchronous,)] = await engine._store.db.fetchall("PRAGMA synchronous")
    assert synchronous == level


async def test_a_mistyped_durability_passed_to_open_makes_nothing(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    for value in ("FULL", " fast", ""):
        with pytest.raises(InvalidOption, match="durability must be 'full' or 'fast'"):
            async with Engine.open(home, operator="alice", durability=value):  # type: ignore[arg-type]
                pass
    assert not home.path.exists()


# 3. PostgreSQL: another engine's events reach a subscriber exactly once.


async def test_a_busy_engines_events_reach_another_exactly_once_past_a_long_transaction(
    home: Home,
) -> None:
    """Engine B runs ten approval cycles at once while a third connection holds a journal
    row in a transaction open the whole time (numbered first, committed last): engine
    A's subscriber gets every journal row once, none twice."""
    if not home.database_url:
        pytest.skip("the journal tail of PostgreSQL")
    import psycopg

    held = await psycopg.AsyncConnection.connect(home.database_url, autocommit=False)
    try:
        async with (
            Engine.open(home, **WATCHING) as a,
            Engine.open(home, **NO_WATCHER) as b,
        ):
            with a.subscribe() as events:
                await hold_journal_row(held)

                async def cycle() -> str:
                    thread = await b.start(EMAIL_TASK)
                    await b.wait(thread.id)
                    [approval] = await b.pending(thread.id)
                    await b.decide(approval.id, Approve())
                    await b.wait(thread.id)
                    return thread.id

                ids = set(await asyncio.gather(*(cycle() for _ in range(10))))
                await held.commit()
                cur = await held.execute("SELECT seq FROM hitl_journal")
                expected = {int(seq) for (seq,) in await cur.fetchall()}
                seen: list[int] = []
                finished: set[str] = set()
                async with asyncio.timeout(30):
                    async for batch in events.batches():
                        seen += [e.seq for e in batch if e.seq]
                        finished |= {e.thread.id for e in batch if isinstance(e, ThreadFinished)}
                        if set(seen) >= expected:
                            break
                await asyncio.sleep(1)  # anything read twice arrives by now
                seen += [e.seq for e in events.drain() if e.seq]
    finally:
        await held.close()
    assert finished == ids
    assert sorted(seen) == sorted(expected)


# 5. Leases: a kill right after start() or decide() returned.


async def test_a_thread_killed_right_after_start_continues_after_restart(home: Home) -> None:
    child = Child(home, "start", EMAIL_TASK)
    thread = child.expect(lambda line: line.get("milestone") == "started")["thread"]
    child.kill()
    async with Engine.open(home, operator="alice") as engine:
        await engine.resume()
        await engine.wait()
        [approval] = await engine.pending(thread)
        await engine.decide(approval.id, Approve())
        await engine.wait(thread)
        assert (await engine.thread(thread)).status == "done"
    assert list(sent_calls(home).values()) == [1]


async def test_a_decision_killed_right_after_it_returned_runs_once_under_two_engines(
    home: Home,
) -> None:
    """The decider dies the moment decide() returned (lease taken, tool not yet run);
    two engines then resume the home at once: the call runs exactly once."""
    starter = Child(home, "start", EMAIL_TASK)
    [approval] = starter.expect(lambda line: line.get("milestone") == "settled")["pending"]
    thread = next(line["thread"] for line in starter.lines if line.get("milestone") == "started")
    starter.finish()
    decider = Child(home, "--slow", "send_email=60", "decide", approval, "approve")
    decider.expect(lambda line: line.get("milestone") == "ready")
    decider.send("go")
    decider.expect(lambda line: line.get("milestone") in ("decided", "tool-started"))
    decider.kill()
    resumers = [Child(home, "resume") for _ in range(2)]
    for resumer in resumers:
        resumer.expect(lambda line: line.get("milestone") == "settled", timeout=120)
    for resumer in resumers:
        resumer.finish()
    async with Engine.open(home, operator="alice") as engine:
        await engine.resume()
        await engine.wait()
        status = (await engine.thread(thread)).status
    sent = sent_calls(home)
    assert set(sent.values()) <= {1}
    assert status in ("done", "unknown")
    assert (status == "done") == (len(sent) == 1) or status == "unknown"
