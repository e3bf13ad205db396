"""Limits and hygiene: bad policy files refused with their line and nothing created,
edits of bounded size, a home only its owner can read, a sandbox links cannot leave."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engine import Edit, Home, InvalidArguments
from engine.engine import Engine
from engine.errors import PolicyError
from engine.events import ToolExecuted

HITL = Path(sys.executable).with_name("hitl")
EMAIL = "email the Q3 report to boss@company.com"


def _hitl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    return subprocess.run(
        [str(HITL), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "HITL_OPERATOR": "carol", **(env or {})},
    )


def _one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (b'[tools]\nsearch = "l\xffw"\n', ":2: file: not UTF-8 text"),
        (b'tiers = 3\n[tools]\nsearch = "low"\n', ":1: tiers: must be a table"),
        (b"[tiers]\nhigh = 3\n", ":2: tiers.high: must be a table"),
    ],
)
def test_a_bad_policy_is_refused_with_its_line_and_nothing_is_created(
    tmp_path: Path, text: bytes, where: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(text)
    home = tmp_path / "new-home"
    checked = _hitl("policy", "check", str(bad))
    assert checked.returncode == 1 and where in checked.stderr, checked.stderr
    ran = _hitl("--home", str(home), "--policy", str(bad), "run", EMAIL)
    _one_line(ran, where)
    assert not home.exists(), "a refused policy still created the home"


async def test_an_edit_over_the_size_limit_is_refused_and_changes_nothing(
    engine: Engine, home: Home
) -> None:
    thread = await engine.start(EMAIL)
    await engine.wait(thread.id)
    [email] = await engine.pending(thread.id)
    huge = dict(email.args, body="x" * 300_000)
    with pytest.raises(
        InvalidArguments, match=r"the edited arguments are 293 KB; the limit is 256 KB"
    ):
        await engine.decide(email.id, Edit(huge))
    assert await engine.pending(thread.id) == [email]


async def test_the_size_limit_is_configurable(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITL_MAX_EDIT_KB", "1024")
    async with Engine.open(home, operator="alice") as engine:
        thread = await engine.start(EMAIL)
        await engine.wait(thread.id)
        [email] = await engine.pending(thread.id)
        edited = await engine.decide(email.id, Edit(dict(email.args, body="x" * 300_000)))
        assert edited.status == "edited"


async def test_deeply_nested_edits_are_refused_in_one_line(engine: Engine) -> None:
    thread = await engine.start(EMAIL)
    await engine.wait(thread.id)
    [email] = await engine.pending(thread.id)
    nested: dict[str, object] = {}
    for _ in range(5000):
        nested = {"a": nested}
    with pytest.raises(InvalidArguments, match="nested too deeply"):
        await engine.decide(email.id, Edit(dict(email.args, body=nested)))
    with pytest.raises(InvalidArguments, match="nested too deeply"):
        await engine.edit_verdict(email.id, dict(email.args, body=nested))


def test_the_home_and_what_it_holds_are_its_owners_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old = os.umask(0o022)  # a usual umask: files would be world-readable
    try:
        ran = _hitl("--home", str(home), "run", EMAIL, "--json")
        assert ran.returncode == 0, ran.stderr
        pending = _hitl("--home", str(home), "pending", "--json")
        approval_id = pending.stdout.split('"id": "')[1].split('"')[0]
        assert _hitl("--home", str(home), "approve", approval_id).returncode == 0
    finally:
        os.umask(old)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(home) == 0o700
    for path in [home / "hitl.sqlite", home / "policy.toml", *home.glob("outbox/*.eml")]:
        assert mode(path) & 0o077 == 0, f"{path.name} is {oct(mode(path))}"
    assert list(home.glob("outbox/*.eml"))


async def test_search_does_not_follow_links_out_of_the_sandbox(
    engine: Engine, home: Home, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the launch codes: quarterly")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "plans.txt").write_text("quarterly plans, not for agents")
    home.sandbox.mkdir(parents=True, exist_ok=True)
    (home.sandbox / "report.txt").write_text("quarterly report")
    (home.sandbox / "link.txt").symlink_to(secret)
    (home.sandbox / "linked-folder").symlink_to(outside, target_is_directory=True)
    with engine.subscribe() as events:
        thread = await engine.start("search for quarterly")
        await engine.wait(thread.id)
        [ran] = [e for e in events.drain() if isinstance(e, ToolExecuted)]
    assert ran.result == "1 document(s) match 'quarterly': report.txt"


def test_policy_errors_name_every_problem(tmp_path: Path) -> None:
    from engine.policy_file import load_policy
    from engine.tools import CATALOGUE

    bad = tmp_path / "p.toml"
    bad.write_bytes(b"tiers = 3\ndefault_tier = 7\n")
    with pytest.raises(PolicyError) as raised:
        load_policy(bad, CATALOGUE)
    assert len(raised.value.problems) == 2


def test_another_programs_sqlite_file_is_never_taken_over(tmp_path: Path) -> None:
    import hashlib
    import sqlite3

    home = tmp_path / "home"
    home.mkdir()
    with sqlite3.connect(home / "hitl.sqlite") as foreign:
        foreign.execute("CREATE TABLE invoices (id INTEGER)")
    before = hashlib.sha256((home / "hitl.sqlite").read_bytes()).hexdigest()
    for command in (["approve", "abc"], ["resume"], ["run", EMAIL]):
        _one_line(_hitl("--home", str(home), *command), "another program's database: its tables")
    assert hashlib.sha256((home / "hitl.sqlite").read_bytes()).hexdigest() == before
    assert sorted(p.name for p in home.iterdir()) == ["hitl.sqlite"]


@pytest.mark.parametrize(
    "policy",
    [
        b'default_tier = 5\n[tools]\nsearch = ["low"]\n[[rules]]\nname = 3\ntool = {a=1}\n'
        b'when = 7\ntier = "ultra"\n',
        "fifo",
        "dangling",
    ],
    ids=["wrong-types", "fifo", "dangling-link"],
)
def test_a_policy_file_that_cannot_be_read_stops_every_command(
    tmp_path: Path, policy: bytes | str
) -> None:
    home = tmp_path / "home"
    assert _hitl("--home", str(home), "run", EMAIL).returncode == 0
    pending = _hitl("--home", str(home), "pending", "--json").stdout
    approval_id = pending.split('"id": "')[1].split('"')[0]
    home.joinpath("policy.toml").unlink()
    if policy == "fifo":
        os.mkfifo(home / "policy.toml")
    elif policy == "dangling":
        (home / "policy.toml").symlink_to(tmp_path / "gone.toml")
    else:
        assert isinstance(policy, bytes)
        (home / "policy.toml").write_bytes(policy)
    for command in (["policy", "check"], ["approve", approval_id], ["run", EMAIL]):
        refused = _hitl("--home", str(home), *command)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert "policy" in refused.stderr
    assert not list(home.glob("outbox/*.eml"))


@pytest.mark.parametrize("limit", ["inf", "1e400", "-5", "0", "lots"])
def test_a_bad_edit_limit_is_one_line(tmp_path: Path, limit: str) -> None:
    ran = _hitl("--home", str(tmp_path / "h"), "run", EMAIL, env={"HITL_MAX_EDIT_KB": limit})
    _one_line(ran, "HITL_MAX_EDIT_KB")
