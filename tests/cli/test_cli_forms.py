"""The command's other forms, run as a user runs them: options after the command,
several approvals in one command, listings that tell long calls apart and show hidden
characters, ``--args`` from a file or stdin, and ``hitl doctor``.

Everything that touches a database runs on SQLite and on PostgreSQL (the ``home``
fixture).
"""

from __future__ import annotations

import importlib.util
import json
import os
import pty
import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine import Home
from tests.cli.test_cli import EMAIL_TASK, hitl, one_error_line
from tests.conftest import run_sql

DECK_AND_LAPTOPS = "email the deck to cto@company.com and order 5 laptops at $900"
NARROW = {"COLUMNS": "100"}


def pending(home: Home) -> dict[str, dict[str, Any]]:
    """The pending approvals by tool (one of each tool in these tests)."""
    approvals = json.loads(hitl(home, "pending", "--json").stdout)
    return {a["tool"]: a for a in approvals}


def emails(home: Home) -> list[str]:
    return sorted(p.read_text() for p in home.outbox.glob("*.eml"))


def ledger(home: Home) -> list[dict[str, Any]]:
    return list(json.loads(hitl(home, "ledger", "--json").stdout))


# --- options after the command ------------------------------------------------------


def test_global_options_work_after_the_command(home: Home, tmp_path: Path) -> None:
    # --home and --database after the command, from the first run on.
    hitl(home, "run", DECK_AND_LAPTOPS, via="flag after")
    calls = pending(home)
    order, email = calls["create_order"]["id"], calls["send_email"]["id"]

    said = hitl(home, "approve", order, "--operator", "alice", via="flag after").stdout
    assert said.startswith(f"{order}: alice approved create_order")
    # Given before and after, the one after wins (given nowhere: $HITL_OPERATOR, carol).
    said = hitl(home, "--operator", "bob", "reject", email, "--operator", "dave").stdout
    assert said.startswith(f"{email}: dave rejected send_email")
    audit = json.loads(hitl(home, "audit", "--json").stdout)
    assert [e["operator"] for e in audit if e["kind"] == "decision"] == ["alice", "dave"]

    # --home after the command wins over $HITL_HOME.
    elsewhere = {"HITL_HOME": str(tmp_path / "nowhere")}
    listed = hitl(home, "threads", "--json", via="flag after", env=elsewhere).stdout
    assert len(json.loads(listed)) == 1

    # --policy after the command, for `policy check`, `policy explain` and a run.
    strict = tmp_path / "strict.toml"
    strict.write_text('[tools]\nsearch = "high"\n')
    checked = hitl(home, "policy", "check", "--policy", str(strict)).stdout
    assert checked.startswith(f"{strict}: valid")
    explained = hitl(home, "policy", "explain", "search", "--policy", str(strict)).stdout
    assert "tool search: high" in explained
    hitl(home, "run", "search for revenue", "--policy", str(strict))
    assert pending(home)["search"]["tier"] == "high"


# --- several approvals in one command ------------------------------------------------


def test_several_ids_are_each_decided_on_their_own(home: Home) -> None:
    hitl(home, "run", DECK_AND_LAPTOPS)
    hitl(home, "run", EMAIL_TASK)
    approvals = json.loads(hitl(home, "pending", "--json").stdout)
    [order] = [a for a in approvals if a["tool"] == "create_order"]
    [deck, boss] = sorted(
        (a for a in approvals if a["tool"] == "send_email"),
        key=lambda a: a["args"]["to"] != "cto@company.com",
    )

    result = hitl(home, "approve", deck["id"], "zzzz", order["id"][:6], deck["id"], ok=False)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{deck['id']}: carol approved send_email; the call is approved by carol",
        f"{order['id']}: carol approved create_order; the call is approved by carol",
    ]
    refused = result.stderr.splitlines()
    assert len(refused) == 2, result.stderr
    assert refused[0] == "hitl: no approval 'zzzz'; `hitl pending` lists the open ones"
    assert refused[1] == f"hitl: approval {deck['id']} is named twice; decided once"
    # Both ran (the thread ran to its end in that process); the third call is untouched.
    assert ["cto@company.com" in e for e in emails(home)] == [True]
    assert [e["body"]["quantity"] for e in ledger(home)] == [5]
    assert [a["id"] for a in pending(home).values()] == [boss["id"]]

    said = hitl(home, "reject", boss["id"], "--reason", "not yet", "--json").stdout
    assert json.loads(said)["thread"]["status"] == "done"  # one id: the old output


def test_several_ids_print_one_json_list(home: Home) -> None:
    hitl(home, "run", DECK_AND_LAPTOPS)
    ids = [a["id"] for a in pending(home).values()]
    result = hitl(home, "reject", *ids, "nope", "--reason", "too early", "--json", ok=False)
    results = json.loads(result.stdout)
    assert [r.get("approval", {}).get("status") for r in results] == ["rejected"] * 2 + [None]
    assert "no approval 'nope'" in results[2]["error"]
    one_error_line(result, "no approval 'nope'")
    assert pending(home) == {}


def _on_a_terminal(home: Home, answer: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs ``hitl ARGS`` with a terminal on stdin, on which ``answer`` is typed."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode() + b"\n")
        return hitl(home, *args, ok=False, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)


def test_all_matching_asks_for_the_count_first(home: Home) -> None:
    hitl(home, "run", EMAIL_TASK)
    hitl(home, "run", DECK_AND_LAPTOPS)
    before = hitl(home, "pending", "--json").stdout
    everything = "tool=send_email,tier=medium"

    # No terminal to ask on and no --yes: refused, nothing decided.
    one_error_line(
        hitl(home, "approve", "--all-matching", everything, ok=False),
        "picks 2 pending calls",
        "add --yes",
    )
    declined = _on_a_terminal(home, "n", "approve", "--all-matching", everything)
    assert declined.returncode == 1
    assert "approve 2 pending calls? [y/N]" in declined.stderr
    assert declined.stderr.strip().endswith("hitl: nothing was decided")
    assert hitl(home, "pending", "--json").stdout == before

    accepted = _on_a_terminal(home, "y", "approve", "--all-matching", everything)
    assert accepted.returncode == 0, accepted.stderr
    assert len(accepted.stdout.splitlines()) == 2
    assert len(emails(home)) == 2
    assert list(pending(home)) == ["create_order"]


def test_all_matching_selects_by_tool_tier_and_thread(home: Home) -> None:
    deck_thread = hitl(home, "run", DECK_AND_LAPTOPS).stdout.splitlines()[0]
    [laptops] = [a for a in pending(home).values() if a["tool"] == "create_order"]
    hitl(home, "run", EMAIL_TASK)
    hitl(home, "run", "order 3 chairs at $80")

    none = hitl(home, "approve", "--all-matching", "tier=high", "--yes").stdout
    assert none.strip() == "no pending call matches tier=high"
    # Two keys must both hold; a key given twice matches either value.
    thread = f"thread={deck_thread[:8]}"
    said = hitl(home, "reject", "--all-matching", f"{thread},tool=create_order", "--yes").stdout
    assert [line.split(":")[0] for line in said.splitlines()] == [laptops["id"]]
    said = hitl(
        home, "approve", "--all-matching", "tool=create_order,tool=send_email", "--yes"
    ).stdout
    assert len(said.splitlines()) == 3
    assert pending(home) == {}
    assert [e["body"]["item"] for e in ledger(home)] == ["chairs"]
    assert len(emails(home)) == 2

    for bad, words in [
        ("tol=x", ["'tol=x' is not KEY=VALUE"]),
        ("tier=urgent", ["unknown tier 'urgent'", "low, medium, high, deny"]),
        ("tool=send_emial", ["unknown tool 'send_emial'"]),
        ("thread=zz", ["no thread 'zz'"]),
    ]:
        one_error_line(hitl(home, "approve", "--all-matching", bad, "--yes", ok=False), *words)
    one_error_line(hitl(home, "approve", ok=False), "needs approval ids or --all-matching")
    one_error_line(hitl(home, "approve", "abc", "--all-matching", "tier=low", ok=False), "not both")


# --- listings ------------------------------------------------------------------------

PREAMBLE = (
    "Hello Bob, here are the quarterly numbers from the finance team, as promised at "
    "the review last week. "
)
CLOSING = " Do tell me if anything is unclear; the full workbook is on the shared drive."


def test_listings_show_where_long_calls_differ(home: Home) -> None:
    bodies = {
        word: f"{PREAMBLE}The figure to check is {word}.{CLOSING}" for word in ("4.2M", "5.9M")
    }
    tail = {"alpha": f"{PREAMBLE}{CLOSING}", "beta": f"{PREAMBLE}{CLOSING} Thanks."}
    for body in [*bodies.values(), *tail.values()]:
        hitl(home, "run", f'email boss@company.com saying "{body}"')
    # Cut at 80 characters (as before), all four would read the same.
    assert len(f'to="boss@company.com" subject="Update" body="{PREAMBLE}') > 80

    lines = hitl(home, "pending", env=NARROW).stdout.splitlines()
    summaries = [line.strip() for line in lines[1::2]]
    assert len(summaries) == 4 and len(set(summaries)) == 4, summaries
    assert all(len(line) <= 100 for line in lines[1::2]), lines
    for word in bodies:  # the difference is in the middle of the body: it is shown
        assert sum(word in summary for summary in summaries) == 1, summaries
    assert sum(summary.endswith('Thanks." cc=[]') for summary in summaries) == 1, summaries

    listed = hitl(home, "threads", env=NARROW).stdout.splitlines()
    tasks = [line.split(maxsplit=3)[3] for line in listed]  # status, id, age | task
    assert len(set(tasks)) == 4, tasks
    for word in bodies:
        assert sum(word in task for task in tasks) == 1, tasks
    assert all(len(line) <= 100 for line in listed), listed


def test_hidden_characters_are_shown_in_every_listing(home: Home) -> None:
    body = "pay \u202eevil\u200b now"
    run = hitl(home, "run", f'email boss@company.com saying "{body}"')
    thread_id = run.stdout.splitlines()[0]
    shown = "pay ⟨U+202E⟩evil⟨U+200B⟩ now"
    [approval] = pending(home).values()
    assert approval["args"]["body"] == body  # the call is what it was; only listings mark

    listed = hitl(home, "pending").stdout
    assert shown in listed and "⚠ hidden characters" in listed
    assert "⟨U+202E⟩" in hitl(home, "threads").stdout
    reason = "fine\u202e by me\x1b[2K"
    hitl(home, "reject", approval["id"], "--reason", reason)
    story = hitl(home, "show", thread_id).stdout
    assert shown in story and "fine⟨U+202E⟩ by me⟨U+001B⟩[2K" in story
    audit = hitl(home, "audit").stdout
    assert "reject: fine⟨U+202E⟩ by me⟨U+001B⟩[2K" in audit
    for output in (listed, story, audit, hitl(home, "threads").stdout):
        assert not {"\u202e", "\u200b", "\x1b"} & set(output)
    # JSON keeps the text as it is, for scripts.
    assert (
        json.loads(hitl(home, "show", thread_id, "--json").stdout)["approvals"][0]["args"]["body"]
        == body
    )


# --- --args from a file or stdin -----------------------------------------------------


def deep_array(levels: int) -> str:
    return "[" * levels + "]" * levels


def deep_object(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def test_edit_args_from_a_file_or_stdin(home: Home, tmp_path: Path) -> None:
    hitl(home, "run", DECK_AND_LAPTOPS)
    calls = pending(home)
    email, order = calls["send_email"], calls["create_order"]
    before = hitl(home, "pending", "--json").stdout

    deep = tmp_path / "deep.json"
    deep.write_text(deep_array(50_000))  # 100 KB of [[[[…]]]]
    one_error_line(
        hitl(home, "edit", email["id"], "--args", f"@{deep}", ok=False),
        f"--args file {deep}: the JSON is nested too deeply (limit 100 levels)",
    )
    one_error_line(
        hitl(home, "edit", email["id"], "--args", "-", stdin=deep_object(30_000), ok=False),
        "--args - (stdin): the JSON is nested too deeply (limit 100 levels)",
    )
    just_over = json.dumps({"to": "x@company.com", "cc": json.loads(deep_array(100))})
    one_error_line(
        hitl(home, "edit", email["id"], "--args", just_over, ok=False), "nested too deeply"
    )
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"item": "caf\u00e9"}'.encode("latin-1"))
    one_error_line(
        hitl(home, "edit", order["id"], "--args", f"@{latin1}", ok=False),
        f"--args file {latin1} is not UTF-8 text (byte 0xe9 at offset 13, line 1)",
    )
    one_error_line(
        hitl(home, "edit", order["id"], "--args", f"@{tmp_path / 'missing.json'}", ok=False),
        "cannot read --args file",
        "No such file or directory",
    )
    one_error_line(
        hitl(home, "edit", order["id"], "--args", "-", stdin="{quantity: 2}", ok=False),
        "--args - (stdin) is not valid JSON",
    )
    assert hitl(home, "pending", "--json").stdout == before

    edited = dict(email["args"], subject="Q3 deck, final")
    args_file = tmp_path / "email.json"
    args_file.write_text("\ufeff" + json.dumps(edited, indent=2))  # a BOM, as some editors write
    hitl(home, "edit", email["id"], "--args", f"@{args_file}")
    hitl(
        home, "edit", order["id"], "--args", "-", stdin=json.dumps(dict(order["args"], quantity=2))
    )
    assert ["Subject: Q3 deck, final" in e for e in emails(home)] == [True]
    assert [e["body"]["quantity"] for e in ledger(home)] == [2]


def test_policy_explain_args_from_a_file_or_stdin(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    outside = tmp_path / "outside.json"
    outside.write_text('{"to": "x@rival.com", "subject": "hi", "body": ""}')
    for source, stdin in [(f"@{outside}", ""), ("-", outside.read_text())]:
        explained = hitl(home, "policy", "explain", "send_email", "--args", source, stdin=stdin)
        assert explained.stdout.strip().splitlines()[-1].startswith("result: high")
    for deep in (deep_array(50_000), deep_object(30_000), '{"to": ' + deep_array(100) + "}"):
        one_error_line(
            hitl(home, "policy", "explain", "send_email", "--args", "-", stdin=deep, ok=False),
            "the JSON is nested too deeply (limit 100 levels)",
        )
    binary = tmp_path / "binary.json"
    binary.write_bytes(b'{"to": "\xff\xfe"}')
    one_error_line(
        hitl(home, "policy", "explain", "send_email", "--args", f"@{binary}", ok=False),
        "is not UTF-8 text (byte 0xff at offset 8",
    )
    # At the limit it is JSON like any other (a rule that cannot read it counts as matching).
    at_limit = '{"to": ' + deep_array(99) + "}"
    explained = hitl(home, "policy", "explain", "send_email", "--args", "-", stdin=at_limit)
    assert "result: high" in explained.stdout


# --- doctor --------------------------------------------------------------------------

needs_doctor = pytest.mark.skipif(
    importlib.util.find_spec("engine.doctor") is None,
    reason="engine/doctor.py (engine.doctor.diagnose) is not written yet",
)


def doctor_lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """``{check: "ok" | "PROBLEM"}``, checking every line has the one-line shape."""
    assert "Traceback" not in result.stderr
    found: dict[str, str] = {}
    for line in result.stdout.splitlines():
        mark, rest = line[:8], line[8:]
        assert mark in ("ok      ", "PROBLEM "), line
        check, colon, message = rest.partition(": ")
        assert colon and message and check, line
        found[check] = mark.strip() if found.get(check) != "PROBLEM" else "PROBLEM"
    return found


@needs_doctor
def test_doctor_on_a_healthy_home_and_a_tampered_audit_log(home: Home, tmp_path: Path) -> None:
    hitl(home, "run", EMAIL_TASK)
    healthy = hitl(home, "doctor")
    assert set(doctor_lines(healthy).values()) == {"ok"}, healthy.stdout
    assert {"database", "audit", "policy"} <= set(doctor_lines(healthy))

    run_sql(home, "UPDATE hitl_audit SET body = '{\"forged\": true}' WHERE seq = 2")
    tampered = hitl(home, "doctor", ok=False)
    assert tampered.returncode == 1
    assert doctor_lines(tampered)["audit"] == "PROBLEM"
    assert doctor_lines(tampered)["database"] == "ok"

    bad = tmp_path / "bad.toml"
    bad.write_text('[tools]\nrockets = "high"\n')
    found = doctor_lines(hitl(home, "doctor", "--policy", str(bad), ok=False))  # after: too
    assert found["policy"] == "PROBLEM"

    as_json = json.loads(hitl(home, "doctor", "--json", ok=False).stdout)
    assert {(f["check"], f["ok"]) for f in as_json} >= {("audit", False), ("database", True)}


@needs_doctor
def test_doctor_on_a_damaged_or_missing_home(tmp_path: Path) -> None:
    missing = Home(tmp_path / "missing")
    result = hitl(missing, "doctor", ok=False)
    assert result.returncode == 1
    assert "PROBLEM" in result.stdout
    assert not missing.path.exists()  # the doctor creates nothing

    damaged = Home(tmp_path / "damaged")
    hitl(damaged, "run", "search for nothing")
    damaged.db.write_bytes(b"this is not a database" * 100)
    result = hitl(damaged, "doctor", ok=False)
    assert result.returncode == 1
    assert doctor_lines(result)["database"] == "PROBLEM", result.stdout
    assert damaged.db.read_bytes() == b"this is not a database" * 100  # never repaired
