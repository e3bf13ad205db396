"""A home's tables: declared in one place, older homes migrated, newer ones refused.

``data/`` holds a home as the code before schema versions wrote it: its DDL verbatim
(``schema_from_main.sql``) and the rows an engine wrote there (``home_from_main.json``:
three threads, a pending transfer, two decided approvals, their audit chain, journal
and ledger rows).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from engine import Approve, Home
from engine.doctor import diagnose
from engine.engine import Engine
from engine.errors import DatabaseUnavailable
from engine.reader import Reader
from engine.storage.database import open_sqlite
from engine.storage.postgres import open_postgres, to_postgres
from engine.storage.schema import SCHEMA_VERSION, TABLES, migrate
from tests.cli.test_cli import hitl, one_error_line
from tests.engine.quiet import NO_WATCHER

DATA = Path(__file__).with_name("data")
ENGINE = Path(__file__).parents[3] / "engine"
MAIN_DDL = (DATA / "schema_from_main.sql").read_text()
MAIN_ROWS: dict[str, dict[str, Any]] = json.loads((DATA / "home_from_main.json").read_text())
COLUMNS_ADDED_SINCE = ("policy_digest", "edited_by")
"""What the column migrations add to ``hitl_approvals``."""


def _sql(home: Home, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    if home.database_url:
        import psycopg

        with psycopg.connect(home.database_url, autocommit=True) as db:
            for sql, params in statements:
                db.execute(to_postgres(sql), params)  # type: ignore[arg-type]
        return
    home.path.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(home.db) as db:
        for sql, params in statements:
            db.execute(sql, params)


def _query(home: Home, sql: str) -> list[tuple[Any, ...]]:
    if home.database_url:
        import psycopg

        with psycopg.connect(home.database_url, autocommit=True) as db:
            return [tuple(r) for r in db.execute(sql).fetchall()]
    with sqlite3.connect(home.db) as db:
        return db.execute(sql).fetchall()


def _tables(home: Home) -> set[str]:
    if home.database_url:
        sql = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {r[0] for r in _query(home, sql)}


def _snapshot(home: Home) -> dict[str, list[str]]:
    """Every row of every hitl table."""
    hitl_tables = sorted(t for t in _tables(home) if t.startswith("hitl_"))
    return {name: sorted(map(repr, _query(home, f"SELECT * FROM {name}"))) for name in hitl_tables}


def _home_from_main(home: Home, *, without: tuple[str, ...] = ()) -> None:
    """Writes ``home`` as the code before schema versions left it; ``without``: columns
    of ``hitl_approvals`` that a yet older home lacks."""
    ddl = "\n".join(line for line in MAIN_DDL.splitlines() if not line.startswith("--"))
    start = ddl.index("CREATE TABLE IF NOT EXISTS hitl_approvals")
    end = ddl.index(");", start)
    approvals = ddl[start:end]
    for column in without:
        approvals, found = re.subn(rf"\n\s*{column} [^\n]*", "", approvals)
        assert found == 1, column
    ddl = ddl[:start] + approvals.rstrip().rstrip(",") + "\n" + ddl[end:]
    statements: list[tuple[str, tuple[Any, ...]]] = [(s, ()) for s in ddl.split(";") if s.strip()]
    for table, dump in MAIN_ROWS.items():
        names = [c for c in dump["columns"] if table != "hitl_approvals" or c not in without]
        for row in dump["rows"]:
            values = dict(zip(dump["columns"], row, strict=True))
            if table == "hitl_approvals" and values["status"] == "pending":
                # Its deadline was a day after it was written: keep it open for the test.
                values["expires_at"] = time.time() + 3600
            insert = (
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
            )
            statements.append((insert, tuple(values[c] for c in names)))
    if home.database_url:  # as PostgreSQL's own inserts would have left the counters
        statements += [
            (f"SELECT setval(pg_get_serial_sequence('{t}', '{c}'), (SELECT MAX({c}) FROM {t}))", ())
            for t, c in (("hitl_journal", "seq"), ("hitl_ledger", "id"))
        ]
    _sql(home, statements)


def _rows(table: str) -> list[dict[str, Any]]:
    dump = MAIN_ROWS[table]
    return [dict(zip(dump["columns"], row, strict=True)) for row in dump["rows"]]


@pytest.mark.parametrize("without", [(), COLUMNS_ADDED_SINCE], ids=["main", "older"])
async def test_a_home_from_before_schema_versions_is_migrated_and_reads_back(
    home: Home, without: tuple[str, ...]
) -> None:
    _home_from_main(home, without=without)

    async with Engine.open(home, operator="alice", **NO_WATCHER) as engine:
        threads = {t.id: t.status for t in await engine.threads()}
        assert threads == {r["id"]: r["status"] for r in _rows("hitl_threads")}
        [pending] = await engine.pending()
        [asked] = [r for r in _rows("hitl_approvals") if r["status"] == "pending"]
        assert (pending.id, pending.tool, pending.args) == (
            asked["id"],
            "transfer_money",
            json.loads(asked["args"]),
        )
        for row in _rows("hitl_approvals"):
            approval = await engine.approval(row["id"])
            assert (approval.status, approval.decided_by) == (row["status"], row["decided_by"])
            assert approval.policy_digest == ("" if without else row["policy_digest"])
        for thread_id in threads:
            journal = [r for r in _rows("hitl_journal") if r["thread_id"] == thread_id]
            assert [h.kind for h in await engine.history(thread_id)] == [r["kind"] for r in journal]
        [order] = await engine.ledger()
        assert order.body["item"] == "chairs"
        verified = await engine.verify_audit()
        assert verified.ok, verified.problem
        assert verified.entries >= len(_rows("hitl_audit"))
    versions = _query(home, "SELECT version FROM hitl_schema ORDER BY version")
    expected = [(2,), (3,), (4,), (5,), (6,)]
    assert versions == expected == [(v,) for v in range(2, SCHEMA_VERSION + 1)]

    before = _snapshot(home)
    async with _database(home) as db:
        await migrate(db, "the test home")
    assert _snapshot(home) == before, "a second migration changed the home"
    async with Reader.open(home) as reader:
        assert [a.id for a in await reader.pending()] == [pending.id]


async def test_a_home_written_by_a_newer_hitl_is_refused_and_left_as_it_is(home: Home) -> None:
    async with Engine.open(home, operator="alice", **NO_WATCHER) as engine:
        await engine.start("order 5 chairs at 40 each")
        await engine.wait()
    _sql(home, [("INSERT INTO hitl_schema (version, change, at) VALUES (99, 'future', 0)", ())])
    before = _snapshot(home)

    with pytest.raises(DatabaseUnavailable) as refused:
        async with Engine.open(home, operator="alice", **NO_WATCHER):
            pass
    line = str(refused.value)
    assert "\n" not in line
    assert f"schema version 99; this one knows up to version {SCHEMA_VERSION}" in line
    with pytest.raises(DatabaseUnavailable, match="schema version 99"):
        async with Reader.open(home):
            pass
    database, *_ = await diagnose(home)
    assert not database.ok
    assert "schema version 99" in database.message
    assert _snapshot(home) == before


OWN_TABLES_ELSEWHERE = ("storage/schema.py", "tools/ledger.py", "foreign/adoption.py")
"""Besides the schema: the demo tools' ledger, and the change table the adoption feed
keeps on PostgreSQL beside an app's checkpoint tables (made only when it adopts)."""


async def test_every_engine_table_is_declared_in_schema_py(engine: Engine, home: Home) -> None:
    created = {t for t in _tables(home) if t.startswith("hitl_")}
    assert created == set(TABLES)
    elsewhere = [
        path.relative_to(ENGINE.parent)
        for path in ENGINE.rglob("*.py")
        if "CREATE TABLE" in path.read_text()
        and path.relative_to(ENGINE).as_posix() not in OWN_TABLES_ELSEWHERE
    ]
    assert elsewhere == []


async def test_the_ledger_table_is_made_by_the_demo_tools_not_by_the_engine(home: Home) -> None:
    async with Engine.open(home, operator="alice", **NO_WATCHER) as engine:
        await engine.start("email the Q3 report to boss@company.com")
        await engine.wait()
        assert await engine.ledger() == []
    assert "hitl_ledger" not in _tables(home)
    assert hitl(home, "ledger").stdout.strip() == "the ledger is empty"

    async with Engine.open(home, operator="alice", **NO_WATCHER) as engine:
        thread = await engine.start("order 5 chairs at 40 each")
        await engine.wait()
        [approval] = await engine.pending(thread.id)
        await engine.decide(approval.id, Approve())
        await engine.wait()
    assert "hitl_ledger" in _tables(home)
    [entry] = json.loads(hitl(home, "ledger", "--json").stdout)
    assert (entry["kind"], entry["body"]["quantity"]) == ("order", 5)


def _database(home: Home) -> Any:
    if home.database_url:
        return open_postgres(home.database_url)
    return open_sqlite(home.db)


async def test_a_newer_home_is_refused_by_the_command_too(home: Home) -> None:
    async with Engine.open(home, operator="alice", **NO_WATCHER):
        pass
    _sql(home, [("INSERT INTO hitl_schema (version, change, at) VALUES (7, 'future', 0)", ())])
    one_error_line(hitl(home, "pending", ok=False), "schema version 7")


async def test_a_home_that_needs_upgrading_is_named_by_a_listing_and_upgraded_by_a_writer(
    home: Home,
) -> None:
    home.create()  # the folder a PostgreSQL home keeps its policy and sandbox in
    _home_from_main(home, without=COLUMNS_ADDED_SINCE)
    before = _snapshot(home)
    one_error_line(hitl(home, "pending", ok=False), "needs upgrading")
    assert _snapshot(home) == before  # a listing never writes
    hitl(home, "resume")
    assert "transfer_money" in hitl(home, "pending").stdout
