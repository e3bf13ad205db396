"""SQLite's durability: every commit on disk before it is acknowledged (FULL) unless
``fast`` is asked for, by ``Engine.open``, ``$HITL_DURABILITY`` or ``--durability``."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import engine.storage.database as database
from engine import Home
from engine.cli import main
from engine.engine import Engine
from engine.errors import InvalidOption

HITL = Path(sys.executable).with_name("hitl")
SYNCHRONOUS = {"FULL": 2, "NORMAL": 1}
"""What ``PRAGMA synchronous`` reads as."""


@pytest.fixture(autouse=True)
def no_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HITL_DURABILITY", raising=False)


async def synchronous_in_force(home: Home, **options: Any) -> int:
    async with Engine.open(home, operator="alice", **options) as engine:
        [(level,)] = await engine._store.db.fetchall("PRAGMA synchronous")
        return int(level)


@pytest.mark.parametrize(
    ("options", "level"),
    [({}, "FULL"), ({"durability": "full"}, "FULL"), ({"durability": "fast"}, "NORMAL")],
)
async def test_full_unless_fast_is_asked_for(
    tmp_path: Path, options: dict[str, Any], level: str
) -> None:
    assert await synchronous_in_force(Home(tmp_path / "home"), **options) == SYNCHRONOUS[level]


async def test_the_environment_sets_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HITL_DURABILITY", "fast")
    assert await synchronous_in_force(Home(tmp_path / "home")) == SYNCHRONOUS["NORMAL"]
    assert await synchronous_in_force(Home(tmp_path / "home"), durability="full") == 2


async def test_an_invalid_value_is_refused_before_anything_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home(tmp_path / "home")
    with pytest.raises(InvalidOption, match="durability must be 'full' or 'fast', not 'slow'"):
        await synchronous_in_force(home, durability="slow")
    monkeypatch.setenv("HITL_DURABILITY", "slow")
    with pytest.raises(InvalidOption, match=r"\$HITL_DURABILITY must be 'full' or 'fast'"):
        await synchronous_in_force(home)
    assert not home.path.exists()


def levels_opened(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ``synchronous`` level of every writing connection the engine opens from now."""
    opened: list[int] = []
    real = database.connect_for_writing

    def observed(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real(*args, **kwargs)
        opened.append(conn.execute("PRAGMA synchronous").fetchone()[0])
        return conn

    monkeypatch.setattr(database, "connect_for_writing", observed)
    return opened


@pytest.mark.parametrize("where", ["before", "after"])
def test_the_flag_reaches_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setenv("HITL_DURABILITY", "full")  # the flag wins
    opened = levels_opened(monkeypatch)
    flags = ["--home", str(tmp_path / "home"), "--durability", "fast"]
    command = ["run", "what is the weather"]
    assert main([*flags, *command] if where == "before" else [*command, *flags]) == 0
    assert opened and set(opened) == {SYNCHRONOUS["NORMAL"]}


def test_the_cli_says_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    by_env = subprocess.run(
        [str(HITL), "--home", str(home), "run", "what is the weather"],
        capture_output=True,
        text=True,
        env={"HITL_DURABILITY": "slow", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert by_env.returncode == 1
    assert by_env.stderr.splitlines() == [
        "hitl: $HITL_DURABILITY must be 'full' or 'fast', not 'slow'"
    ]
    by_flag = subprocess.run(
        [str(HITL), "--home", str(home), "--durability", "slow", "run", "hi"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert by_flag.returncode == 2
    assert "invalid choice: 'slow' (choose from 'full', 'fast')" in by_flag.stderr
    assert not home.exists()


@pytest.mark.postgres
@pytest.mark.parametrize(("durability", "setting"), [("full", "on"), ("fast", "off")])
async def test_on_postgresql_fast_turns_synchronous_commit_off_on_both_connections(
    home: Home, durability: str, setting: str
) -> None:
    if not home.database_url:
        pytest.skip("a PostgreSQL home only")
    async with Engine.open(home, operator="alice", durability=durability) as engine:
        [(store,)] = await engine._store.db.fetchall("SHOW synchronous_commit")
        saver = engine._saver
        row = await (await saver.conn.execute("SHOW synchronous_commit")).fetchone()
        assert (store, row["synchronous_commit"]) == (setting, setting)
