"""The doctor reports what is wrong with a home, in plain words, and changes nothing.

Healthy and tampered homes on SQLite and PostgreSQL; damaged SQLite files (empty,
not SQLite, half overwritten); a database of someone else's; a bad policy; a
read-only mount (skipped, saying why, where mounting is refused).
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from engine import Home
from engine.doctor import Finding, diagnose
from engine.engine import Engine
from tests.cli.test_damaged_homes import (
    hold_write_lock,
    mount,
    overwrite_half_the_pages,
    release,
    unmount,
)
from tests.conftest import run_sql


async def _made(home: Home) -> None:
    async with Engine.open(home, operator="alice") as engine:
        thread = await engine.start("email the Q3 report to boss@company.com")
        await engine.wait(thread.id)


def by_check(findings: list[Finding]) -> dict[str, Finding]:
    assert len({f.check for f in findings}) == len(findings), findings
    for finding in findings:
        assert finding.message and "\n" not in finding.message, finding
    return {f.check: f for f in findings}


def database_bytes(home: Home) -> bytes | None:
    return None if home.database_url else home.db.read_bytes()


async def test_a_healthy_home_is_found_healthy_and_left_as_it_is(home: Home) -> None:
    await _made(home)
    before = database_bytes(home)
    found = by_check(await diagnose(home))
    assert list(found) == ["database", "audit", "policy"]
    assert all(f.ok for f in found.values()), found
    assert "audit log is intact: 2 entries" in found["audit"].message
    assert "valid: 7 tools" in found["policy"].message
    assert database_bytes(home) == before


async def test_a_tampered_audit_log_is_named_at_its_first_bad_entry(home: Home) -> None:
    await _made(home)
    run_sql(home, "UPDATE hitl_audit SET operator = 'mallory' WHERE seq = 2")
    found = by_check(await diagnose(home))
    assert found["database"].ok
    assert not found["audit"].ok
    assert "broken at entry #2" in found["audit"].message


async def test_every_problem_of_a_policy_is_listed(home: Home, tmp_path: Path) -> None:
    await _made(home)
    bad = tmp_path / "bad.toml"
    bad.write_text('default_tier = "purple"\n[tools]\nnot_a_tool = "low"\n')
    found = by_check(await diagnose(home, bad))
    assert found["database"].ok and found["audit"].ok
    assert not found["policy"].ok
    message = found["policy"].message
    assert str(bad) in message and "2 problems" in message and "purple" in message
    missing = by_check(await diagnose(home, tmp_path / "nowhere.toml"))
    assert not missing["policy"].ok and "nowhere.toml" in missing["policy"].message


async def test_a_database_of_someone_else_names_the_missing_tables(home: Home) -> None:
    home.path.mkdir(parents=True)
    if not home.database_url:
        with sqlite3.connect(home.db) as db:
            db.execute("CREATE TABLE recipes (name TEXT)")
    before = database_bytes(home)
    found = by_check(await diagnose(home))
    assert not found["database"].ok
    assert "lacks hitl's tables" in found["database"].message
    assert "hitl_approvals" in found["database"].message
    assert found["audit"] == Finding(
        False, "audit", "not checked: the database has no audit log table"
    )
    assert database_bytes(home) == before


Damage = Callable[[Path], object]


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda db: db.write_bytes(b""), "it is empty"),
        (lambda db: db.write_bytes(random.Random(5).randbytes(8192)), "file is not a database"),
        (overwrite_half_the_pages, "malformed"),
    ],
    ids=["zero-length", "not-sqlite", "half-overwritten"],
)
async def test_a_damaged_sqlite_file_is_reported_not_repaired(
    tmp_path: Path, damage: Damage, says: str
) -> None:
    home = Home(tmp_path / "home")
    await _made(home)
    damage(home.db)
    before = home.db.read_bytes()
    found = by_check(await diagnose(home))
    assert not found["database"].ok
    message = found["database"].message
    assert str(home.db) in message and "is damaged" in message and says in message
    assert "keep a copy" in message.lower()
    assert not found["audit"].ok and found["policy"].ok
    assert home.db.read_bytes() == before


async def test_no_home_and_an_unsupported_url_are_findings_not_crashes(tmp_path: Path) -> None:
    nowhere = by_check(await diagnose(Home(tmp_path / "nowhere")))
    assert not nowhere["home"].ok and "no hitl home" in nowhere["home"].message
    assert not (tmp_path / "nowhere").exists()
    mysql = by_check(await diagnose(Home(tmp_path, "mysql://x/y")))
    assert not mysql["database"].ok and "postgresql://" in mysql["database"].message


async def test_the_writer_holding_the_lock_is_named(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    await _made(home)
    holder = hold_write_lock(home.db)
    try:
        found = by_check(await diagnose(home))
        assert found["database"].ok and found["audit"].ok
        assert f"pid {holder.pid}" in found["database"].message
        assert "is writing to it right now" in found["database"].message
    finally:
        release(holder)


async def test_a_read_only_home_is_diagnosed_and_said_to_be_read_only(tmp_path: Path) -> None:
    source = Home(tmp_path / "home")
    await _made(source)
    point = tmp_path / "read-only"
    point.mkdir()
    mount("--bind", str(source.path), str(point))
    try:
        mount("-o", "remount,bind,ro", str(point))
        found = by_check(await diagnose(Home(point)))
        assert all(f.ok for f in found.values()), found
        assert "the home is read-only" in found["database"].message
    finally:
        unmount(point)
