"""The `hitl` command, run as a user runs it: a real process on a real home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HITL = Path(sys.executable).with_name("hitl")


def hitl(
    home: Path, *args: str, ok: bool = True, database: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HITL_OPERATOR": "carol"}
    env.pop("HITL_HOME", None)
    env.pop("HITL_DATABASE_URL", None)
    if database:
        env["HITL_DATABASE_URL"] = database
    result = subprocess.run(
        [str(HITL), "--home", str(home), *args], capture_output=True, text=True, env=env
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


@pytest.fixture
def paused(tmp_path: Path) -> tuple[Path, dict]:
    home = tmp_path / "home"
    run = hitl(home, "run", "email the Q3 report to boss@company.com")
    thread_id = run.stdout.splitlines()[0]
    [approval] = json.loads(hitl(home, "pending", "--json").stdout)
    assert approval["thread_id"] == thread_id
    return home, approval


def test_run_pending_approve_show(paused: tuple[Path, dict]) -> None:
    home, approval = paused
    listing = hitl(home, "pending").stdout
    assert approval["id"] in listing and "send_email" in listing and "medium" in listing
    out = hitl(home, "approve", approval["id"]).stdout
    assert f"{approval['id']}: approved" in out
    assert len(list((home / "outbox").glob("*.eml"))) == 1
    assert hitl(home, "pending").stdout.strip() == "no pending approvals"
    [thread] = json.loads(hitl(home, "threads", "--json").stdout)
    assert thread["status"] == "done"
    story = hitl(home, "show", thread["id"][:6]).stdout
    assert "decision  approve" in story and "by carol" in story
    assert "Email sent to boss@company.com" in story


def test_reject_respond_and_edit(tmp_path: Path) -> None:
    home = tmp_path / "home"
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


def test_bad_input_prints_one_line_and_changes_nothing(paused: tuple[Path, dict]) -> None:
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
    assert hitl(home, "pending", "--json").stdout == before
    assert not list((home / "outbox").glob("*.eml"))

    hitl(home, "approve", approval["id"])
    one_error_line(
        hitl(home, "reject", approval["id"], ok=False),
        f"approval {approval['id']} was already approved by carol at",
    )


@pytest.mark.parametrize("command", [["pending"], ["threads"], ["approve", "a1b2"], ["resume"]])
def test_a_home_that_does_not_exist_is_refused(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "typo"
    one_error_line(hitl(missing, *command, ok=False), f"no hitl home at {missing}")
    assert not missing.exists()


def test_an_unknown_model_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    one_error_line(hitl(home, "run", "--model", "gpt9", "say hi", ok=False), "unknown model 'gpt9'")
    assert hitl(home, "threads").stdout.strip() == "no threads"


def test_policy_check_and_explain(tmp_path: Path) -> None:
    home = tmp_path / "home"
    hitl(home, "run", "search for nothing")
    assert "valid: 7 tools, 3 rules" in hitl(home, "policy", "check").stdout
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
    assert "rule 'email outside company.com' (line 25) -> high: matches" in explained
    assert explained.strip().splitlines()[-1].startswith("result: high: 2 approval(s)")
    refused = hitl(home, "--policy", str(bad), "run", "search for x", ok=False)
    assert "has 2 problems" in refused.stderr
    assert len(json.loads(hitl(home, "threads", "--json").stdout)) == 1
