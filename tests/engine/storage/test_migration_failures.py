"""A migration step that fails is not recorded as done.

When an ALTER fails for a reason other than another process having made the change
(here PostgreSQL's lock_timeout while another session reads the table; equally a
statement timeout or a dropped connection), recording the version anyway would leave a
home that says it is current without the column: every later open would skip the
migration and every listing and decision fail. The failed open says why in one line,
and the next open migrates.

Real processes on a real PostgreSQL home (skipped without HITL_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("HITL_TEST_POSTGRES_URL")
HITL = Path(sys.executable).with_name("hitl")
pytestmark = pytest.mark.postgres


@pytest.fixture
def schema() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set HITL_TEST_POSTGRES_URL (.ci/run does)")
    import psycopg

    name = f"hitl_attack_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
    yield name
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {name} CASCADE")


def _url(schema: str, extra: str = "") -> str:
    assert POSTGRES_URL
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}{extra}"


def hitl(home: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HITL_OPERATOR": "carol"}
    for name in ("HITL_HOME", "HITL_DATABASE_URL"):
        env.pop(name, None)
    return subprocess.run(
        [str(HITL), "--home", str(home), "--database", url, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_a_migration_step_that_failed_is_run_again_at_the_next_open(
    tmp_path: Path, schema: str
) -> None:
    import psycopg

    home = tmp_path / "home"
    assert (
        hitl(home, _url(schema), "run", "email the Q3 report to boss@company.com").returncode == 0
    )
    with psycopg.connect(_url(schema), autocommit=True) as db:  # a home from before edited_by
        db.execute("ALTER TABLE hitl_approvals DROP COLUMN edited_by")
        db.execute("DROP TABLE hitl_schema")

    reading, done = threading.Event(), threading.Event()

    def read_meanwhile() -> None:  # another session reads the table meanwhile
        with psycopg.connect(_url(schema)) as other:
            other.execute("LOCK TABLE hitl_approvals IN ACCESS SHARE MODE")
            reading.set()
            done.wait(120)

    reader = threading.Thread(target=read_meanwhile)
    reader.start()
    assert reading.wait(30)
    try:
        blocked = hitl(home, _url(schema, "%20-clock_timeout%3D500"), "resume")
    finally:
        done.set()
        reader.join()
    assert blocked.returncode == 1
    assert "Traceback" not in blocked.stderr
    assert len(blocked.stderr.strip().splitlines()) == 1, blocked.stderr

    reopened = hitl(home, _url(schema), "resume")  # a writer again, no contention now
    assert reopened.returncode == 0, reopened.stderr[-500:]
    listed = hitl(home, _url(schema), "pending")
    assert listed.returncode == 0, listed.stderr[-500:]
    with psycopg.connect(_url(schema), autocommit=True) as db:
        columns = {
            row[0]
            for row in db.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'hitl_approvals' AND table_schema = current_schema()"
            )
        }
    assert "edited_by" in columns
