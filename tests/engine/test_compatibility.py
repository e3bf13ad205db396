"""A home this version wrote, read by the previous release.

The previous release has no schema-version check, so it cannot refuse a home; it reads
the journal by kind and skips kinds it does not know. Were the kinds renamed, after an
upgrade a rollback (or a second machine still on the previous release, on a shared
PostgreSQL home) would show threads with their story missing, and a previous-release
console beside a new ``hitl run``/``hitl approve`` would never see the new approvals or
the decisions. Real processes, real homes; the previous release is taken from git.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.engine.test_events import RELEASED_KINDS

PREVIOUS = "f1c2f43"
HITL = Path(sys.executable).with_name("hitl")
REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {**os.environ, "HITL_OPERATOR": "carol"}
    for name in ("HITL_HOME", "HITL_DATABASE_URL", "PYTHONPATH"):
        env.pop(name, None)
    return env


def new(home: Path, *args: str) -> str:
    result = subprocess.run(
        [str(HITL), "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's ``engine`` and ``tui`` packages, from git."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", PREVIOUS, "engine", "tui"],
        capture_output=True,
    )
    if archive.returncode != 0:
        pytest.skip(f"commit {PREVIOUS} is not in this clone")
    where = tmp_path_factory.mktemp("previous")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(where)
    return where


def old(previous: Path, home: Path, *args: str) -> str:
    code = "import sys; sys.argv[0] = 'hitl'; from tui.entry import main; sys.exit(main())"
    result = subprocess.run(
        [sys.executable, "-c", code, "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**_env(), "PYTHONPATH": str(previous)},
        cwd=previous,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _story(show: str) -> list[str]:
    """The story lines of `hitl show` (they start with a time of day)."""
    return [line for line in show.splitlines() if line[:2].isdigit() and line[2] == ":"]


def test_the_journal_rows_the_new_version_writes_carry_kinds_the_previous_release_reads(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    thread = new(home, "run", "email the Q3 report to boss@company.com").splitlines()[0]
    pending = json.loads(new(home, "pending", "--json"))
    new(home, "approve", pending[0]["id"])
    with sqlite3.connect(home / "hitl.sqlite") as db:
        kinds = {row[0] for row in db.execute("SELECT kind FROM hitl_journal")}
    assert thread
    assert kinds <= RELEASED_KINDS, (
        f"the previous release skips journal rows of kinds {sorted(kinds - RELEASED_KINDS)}"
    )


def test_a_thread_the_new_version_ran_reads_back_whole_in_the_previous_release(
    tmp_path: Path, previous_release: Path
) -> None:
    home = tmp_path / "home"
    thread = new(home, "run", "email the Q3 report to boss@company.com").splitlines()[0]
    pending = json.loads(new(home, "pending", "--json"))
    new(home, "approve", pending[0]["id"])
    shown_new = _story(new(home, "show", thread))
    assert len(shown_new) >= 4  # user, assistant, decision, tool, assistant
    shown_old = _story(old(previous_release, home, "show", thread))
    assert shown_old == shown_new
