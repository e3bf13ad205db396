"""The `hitl` command, run as a user runs it: a real process on a real home.

Every test that has a database to talk to runs on SQLite and on PostgreSQL (the
``home`` fixture); the command is told where the database is the way a user tells it,
with ``--database`` or ``$HITL_DATABASE_URL``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import pytest

from engine import Home
from tests.engine.chat_server import ChatServer, PlannedCall
from tests.engine.processes import killed_mid_call

HITL = Path(sys.executable).with_name("hitl")
EMAIL_TASK = "email the Q3 report to boss@company.com"


def hitl(
    home: Home,
    *args: str,
    ok: bool = True,
    via: Literal["flag", "env", "flag after"] = "flag",
    stdin: str | int = subprocess.DEVNULL,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Runs ``hitl --home HOME [--database URL] ARGS``; ``via="env"`` names the database
    in ``$HITL_DATABASE_URL`` instead of the flag, ``via="flag after"`` puts the flags
    after ARGS. ``stdin``: text to feed it, or a file descriptor (a terminal); by
    default nothing, never the terminal pytest was started from."""
    environment = {**os.environ, "HITL_OPERATOR": "carol"}
    for inherited in ("HITL_HOME", "HITL_DATABASE_URL", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        environment.pop(inherited, None)
    where = ["--home", str(home.path)]
    if home.database_url and via != "env":
        where += ["--database", home.database_url]
    elif home.database_url:
        environment["HITL_DATABASE_URL"] = home.database_url
    command = [str(HITL), *args, *where] if via == "flag after" else [str(HITL), *where, *args]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**environment, **(env or {})},
        timeout=120,
        **({"input": stdin} if isinstance(stdin, str) else {"stdin": stdin}),
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def one_error_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def tables(home: Home) -> list[str]:
    """The tables in the home's database (its own schema, on PostgreSQL)."""
    if home.database_url:
        import psycopg

        with psycopg.connect(home.database_url, autocommit=True) as db:
            rows = db.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            ).fetchall()
        return sorted(str(row[0]) for row in rows)
    if not home.db.exists():
        return []
    import sqlite3

    with sqlite3.connect(home.db) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return sorted(str(row[0]) for row in rows)


@pytest.fixture
def paused(home: Home) -> tuple[Home, dict[str, Any]]:
    # The run names the database in the environment, everything after it with the flag:
    # both must reach the same database.
    run = hitl(home, "run", EMAIL_TASK, via="env")
    thread_id = run.stdout.splitlines()[0]
    [approval] = json.loads(hitl(home, "pending", "--json").stdout)
    assert approval["thread_id"] == thread_id
    return home, approval


def test_run_pending_approve_show(paused: tuple[Home, dict[str, Any]]) -> None:
    home, approval = paused
    # On PostgreSQL nothing may fall back to the home's SQLite file.
    assert home.db.exists() == (home.database_url is None)
    listing = hitl(home, "pending").stdout
    assert approval["id"] in listing and "send_email" in listing and "medium" in listing
    said = hitl(home, "approve", approval["id"]).stdout.splitlines()[0]
    assert said == f"{approval['id']}: carol approved send_email; the call is approved by carol"
    assert len(list(home.outbox.glob("*.eml"))) == 1
    assert hitl(home, "pending").stdout.strip() == "no pending approvals"
    [thread] = json.loads(hitl(home, "threads", "--json").stdout)
    assert thread["status"] == "done"
    story = hitl(home, "show", thread["id"][:6]).stdout
    assert "decision  approve" in story and "by carol" in story
    assert "Email sent to boss@company.com" in story
    assert home.db.exists() == (home.database_url is None)


def test_reject_respond_and_edit(home: Home) -> None:
    hitl(home, "run", "email the deck to cto@company.com and order 5 laptops at $900")
    approvals = {a["tool"]: a for a in json.loads(hitl(home, "pending", "--json").stdout)}
    order = approvals["create_order"]
    edited = dict(order["args"], quantity=2)
    hitl(home, "edit", order["id"], "--args", json.dumps(edited))
    hitl(home, "reject", approvals["send_email"]["id"], "--reason", "wrong deck")
    [entry] = json.loads(hitl(home, "ledger", "--json").stdout)
    assert entry["body"]["quantity"] == 2
    [thread] = json.loads(hitl(home, "threads", "--json").stdout)
    assert "wrong deck" in json.dumps(hitl(home, "show", thread["id"], "--json").stdout)


def test_bad_input_prints_one_line_and_changes_nothing(
    paused: tuple[Home, dict[str, Any]],
) -> None:
    home, approval = paused
    before = hitl(home, "pending", "--json").stdout

    one_error_line(hitl(home, "approve", "zzzz", ok=False), "no approval 'zzzz'")
    one_error_line(
        hitl(home, "edit", approval["id"], "--args", "{to: x}", ok=False),
        "not valid JSON",
        "line 1 column 2",
    )
    one_error_line(
        hitl(home, "edit", approval["id"], "--args", "[1, 2]", ok=False), "must be a JSON object"
    )
    one_error_line(
        hitl(home, "edit", approval["id"], "--args", '{"to": "nobody"}', ok=False),
        "arguments for send_email are invalid",
        "to: String should match pattern",
        "subject: Field required",
    )
    one_error_line(hitl(home, "show", "nope", ok=False), "no thread 'nope'")
    one_error_line(hitl(home, "respond", approval["id"], "--message", " ", ok=False), "message")
    one_error_line(hitl(home, "mark-done", "", ok=False), "an approval id is needed")
    one_error_line(
        hitl(home, "mark-done", approval["id"], ok=False),
        "is not an outcome-unknown call",
        "use `hitl respond`",
    )
    one_error_line(
        hitl(home, "rerun", approval["id"], ok=False),
        "is not an outcome-unknown call",
        "use `hitl approve`",
    )
    one_error_line(
        hitl(home, "--operator", "carol\u200b", "approve", approval["id"], ok=False),
        "invisible or control character (U+200B",
    )
    assert hitl(home, "pending", "--json").stdout == before
    assert not list(home.outbox.glob("*.eml"))

    hitl(home, "approve", approval["id"])
    one_error_line(
        hitl(home, "reject", approval["id"], ok=False),
        f"approval {approval['id']} was already",
        "approved by carol",
    )


@pytest.mark.parametrize("command", [["pending"], ["threads"], ["approve", "a1b2"], ["resume"]])
def test_a_home_that_does_not_exist_is_refused(home: Home, command: list[str]) -> None:
    # The fixture names a home directory that was never created (and, on PostgreSQL,
    # an empty schema): a typo in --home must not start a new, empty home.
    assert not home.path.exists()
    one_error_line(hitl(home, *command, ok=False), f"no hitl home at {home.path}")
    assert not home.path.exists()
    assert tables(home) == []


def test_an_unknown_model_is_refused_before_anything_is_written(home: Home) -> None:
    one_error_line(hitl(home, "run", "--model", "gpt9", "say hi", ok=False), "unknown model 'gpt9'")
    assert not home.path.exists()  # refused as an option: not even the home was made
    one_error_line(hitl(home, "threads", ok=False), "no hitl home")


def test_policy_check_and_explain(home: Home, tmp_path: Path) -> None:
    hitl(home, "run", "search for nothing")
    written = home.policy_file.read_text().splitlines()  # the defaults, on first use
    rules = written.count("[[rules]]")
    outside = 1 + written.index("when = \"!args.to.endsWith('@company.com')\"")
    checked = hitl(home, "policy", "check").stdout
    assert f"{home.policy_file}: valid: 7 tools, {rules} rules" in checked
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[tools]\nsearch = "low"\nrockets = "high"\n\n[[rules]]\nwhen = "1 +"\ntier = "high"\n'
    )
    result = hitl(home, "policy", "check", str(bad), ok=False)
    assert result.returncode == 1
    assert f"{bad}:3: tools.rockets: unknown tool" in result.stderr
    assert f"{bad}:6: rules[0].when: not a valid CEL expression" in result.stderr
    explained = hitl(
        home, "policy", "explain", "send_email", "--args", '{"to": "x@rival.com"}'
    ).stdout
    assert f"rule 'email outside company.com' (line {outside}) -> high: matches" in explained
    assert explained.strip().splitlines()[-1].startswith("result: high: 2 approval(s)")
    refused = hitl(home, "--policy", str(bad), "run", "search for x", ok=False)
    assert "has 2 problems" in refused.stderr
    assert len(json.loads(hitl(home, "threads", "--json").stdout)) == 1


def test_mark_done_settles_an_outcome_unknown_call_without_running_it(
    paused: tuple[Home, dict[str, Any]],
) -> None:
    home, approval = paused
    thread_id = approval["thread_id"]
    # Another process approves the email and is killed while send_email runs: nobody
    # knows whether it went out.
    killed_mid_call(home, approval["id"], "send_email")
    attempts = home.sandbox / "attempts.log"
    assert len(attempts.read_text().splitlines()) == 1

    resumed = hitl(home, "resume").stdout
    assert resumed.split()[:2] == ["unknown", thread_id], resumed
    [unknown] = json.loads(hitl(home, "pending", "--json").stdout)
    assert (unknown["kind"], unknown["tool"], unknown["thread_id"]) == (
        "outcome_unknown",
        "send_email",
        thread_id,
    )
    assert "OUTCOME UNKNOWN" in hitl(home, "pending").stdout

    note = "I checked the mail server: the Q3 report went out at 09:14."
    out = hitl(home, "mark-done", unknown["id"], "--note", note).stdout.splitlines()
    assert (
        out[0] == f"{unknown['id']}: carol marked done send_email; the call is marked done by carol"
    )
    assert out[2].split()[:2] == ["done", thread_id], out

    # The call was not run again: no email, no second attempt.
    assert not list(home.outbox.glob("*.eml"))
    assert len(attempts.read_text().splitlines()) == 1
    shown = json.loads(hitl(home, "show", thread_id, "--json").stdout)
    assert shown["thread"]["status"] == "done"
    assert note in shown["thread"]["answer"]
    [settled] = [a for a in shown["approvals"] if a["id"] == unknown["id"]]
    assert (settled["status"], settled["decided_by"]) == ("responded", "carol")
    assert settled["decision"] == {"type": "respond", "message": note}
    assert hitl(home, "pending").stdout.strip() == "no pending approvals"
    audit = json.loads(hitl(home, "audit", "--thread", thread_id, "--json").stdout)
    kinds = [e["kind"] for e in audit]
    assert kinds.index("outcome_unknown") < kinds.index("outcome_resolved"), kinds
    [resolved] = [e for e in audit if e["kind"] == "outcome_resolved"]
    assert (resolved["body"]["decision"], resolved["operator"]) == ("respond", "carol")
    assert "audit log intact" in hitl(home, "audit", "verify").stdout


def test_a_failing_model_endpoint_fails_the_run_and_retry_finishes_it(home: Home) -> None:
    home.create()
    (home.sandbox / "q3.txt").write_text("Q3 revenue: 4.2M")
    with ChatServer([PlannedCall("search", {"query": "revenue"}, id="call_search")]) as server:
        endpoint = ["--base-url", server.base_url, "--api-key", "test"]
        server.fail_with = 500
        run = hitl(home, "run", "--model", "openai:test-model", *endpoint, "find Q3", ok=False)
        assert run.returncode == 1
        thread_id = run.stdout.splitlines()[0]
        error = one_error_line(run, f"hitl: thread {thread_id} failed:", "500")
        assert "scripted failure: Internal Server Error" in error

        [failed] = json.loads(hitl(home, "threads", "--status", "failed", "--json").stdout)
        assert failed["id"] == thread_id and "500" in failed["error"]
        story = hitl(home, "show", thread_id).stdout
        assert any(
            line.split()[1:2] == ["failed"] and "500" in line for line in story.splitlines()
        ), story

        server.fail_with = None
        retried = hitl(home, "retry", thread_id, *endpoint).stdout
        assert retried.splitlines()[1].split()[:2] == ["done", thread_id]
        assert "1 document(s) match 'revenue': q3.txt" in retried
    [done] = json.loads(hitl(home, "threads", "--json").stdout)
    assert (done["status"], done["error"]) == ("done", None)
