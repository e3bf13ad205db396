"""What is wrong with a home, in plain words, found without changing anything.

``hitl doctor`` prints one line per finding. The database is read through a connection
that cannot write: SQLite's own integrity check, or for PostgreSQL that the server
answers and the engine's tables are there. Then the audit log's hash chain is walked
and the policy checked. A damaged home is reported, never repaired: keeping a copy,
restoring a backup or starting over is a person's decision.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DatabaseDamaged, DatabaseUnavailable, HitlError, PolicyError
from engine.home import Home
from engine.storage.audit import AuditLog
from engine.storage.database import Database, dialect_of, open_sqlite, redact_url
from engine.storage.postgres import open_postgres
from engine.storage.schema import TABLES, VERSION_TABLE, check_version, existing_tables
from engine.storage.sqlite_file import can_write, lock_holder, sqlite_file_problem
from engine.storage.store import database_name

ENGINE_TABLES = tuple(name for name in TABLES if name != VERSION_TABLE)
"""What a home's database must have; the version table comes with the first engine
of this release to open a home written before it."""
CHECKPOINT_TABLES = {"sqlite": ("checkpoints", "writes"), "postgres": ("checkpoints",)}
"""LangGraph's tables, made when an engine first opens the home."""
INTEGRITY_PROBLEMS_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the doctor looked at and what it found."""

    ok: bool
    check: str
    """What was looked at: "home", "database", "audit" or "policy"."""
    message: str
    """What was found, in plain words, on one line; for a problem, what to do."""


async def diagnose(home: Home, policy_file: Path | None = None) -> list[Finding]:
    """Finds what is wrong with ``home``: its database, its audit log, its policy
    (``policy_file``, else the home's). Never writes, and never raises for a damaged
    home: everything it cannot read is itself a finding."""
    return [*await _database_and_audit(home), await _policy(home, policy_file)]


async def _database_and_audit(home: Home) -> list[Finding]:
    try:
        dialect = dialect_of(home.database_url)
    except HitlError as error:
        return [Finding(False, "database", str(error)), _not_checked("the database is unknown")]
    if not home.exists():
        return [
            Finding(
                False,
                "home",
                f"there is no hitl home at {home.path} (no {home.db.name} there): check "
                "--home / $HITL_HOME, or start one with `hitl run TASK`",
            ),
            _not_checked("there is no home"),
        ]
    if dialect == "sqlite" and (problem := sqlite_file_problem(home.db)):
        return [
            Finding(False, "database", _damaged(str(home.db), problem)),
            _not_checked("the database could not be read"),
        ]
    try:
        async with _read_only(home) as db:
            database, tables = await (
                _sqlite(home, db) if dialect == "sqlite" else _postgres(home, db)
            )
            if tables is not None and "hitl_audit" not in tables:
                return [database, _not_checked("the database has no audit log table")]
            if database.ok and (newer := await _newer(home, db)):
                return [newer, _not_checked("the database was written by a newer hitl")]
            return [database, await _audit(db)]
    except DatabaseUnavailable as error:
        return [
            Finding(False, "database", _advice(error)),
            _not_checked("the database could not be read"),
        ]


@contextlib.asynccontextmanager
async def _read_only(home: Home) -> AsyncIterator[Database]:
    if home.database_url and dialect_of(home.database_url) == "postgres":
        async with open_postgres(home.database_url) as db:
            await db.conn.set_read_only(True)
            yield db
        return
    async with open_sqlite(home.db, readonly=True) as sqlite:
        yield sqlite


async def _sqlite(home: Home, db: Database) -> tuple[Finding, set[str] | None]:
    """The database's finding, and the tables it has (None: unknown)."""
    path = home.db
    try:
        rows = await db.fetchall(f"PRAGMA integrity_check({INTEGRITY_PROBLEMS_SHOWN})")
        tables = await existing_tables(db)
    except DatabaseUnavailable as error:
        return Finding(False, "database", _advice(error)), None
    problems = [str(row[0]) for row in rows if str(row[0]) != "ok"]
    if problems:
        found = f"SQLite's integrity check found: {'; '.join(problems)}"
        return Finding(False, "database", _damaged(str(path), found)), tables
    if missing := _missing(tables, [*ENGINE_TABLES, *CHECKPOINT_TABLES["sqlite"]]):
        return Finding(False, "database", _incomplete(str(path), missing)), tables
    notes = [f"{path}: SQLite's integrity check passed ({path.stat().st_size // 1024} KB)"]
    if holder := lock_holder(path):
        notes.append(f"{holder} is writing to it right now")
    if not can_write(path):
        notes.append("the home is read-only: listings work, runs and decisions are refused")
    return Finding(True, "database", "; ".join(notes)), tables


async def _postgres(home: Home, db: Database) -> tuple[Finding, set[str] | None]:
    """The database's finding, and the tables of its schema (None: unknown)."""
    where = redact_url(home.database_url or "PostgreSQL")
    try:
        [(version,)] = await db.fetchall("SHOW server_version")
        tables = await existing_tables(db)
    except DatabaseUnavailable as error:
        return Finding(False, "database", _advice(error)), None
    if missing := _missing(tables, [*ENGINE_TABLES, *CHECKPOINT_TABLES["postgres"]]):
        return Finding(False, "database", _incomplete(where, missing)), tables
    answer = f"{where}: PostgreSQL {version} answers; all of hitl's tables are there"
    return Finding(True, "database", answer), tables


async def _newer(home: Home, db: Database) -> Finding | None:
    """A finding when a newer hitl wrote the database (this one would refuse it)."""
    try:
        await check_version(db, database_name(home))
    except DatabaseUnavailable as error:
        return Finding(False, "database", str(error))
    return None


async def _audit(db: Database) -> Finding:
    try:
        result = await AuditLog(db).verify()
    except DatabaseUnavailable as error:
        why = error.problem or str(error)
        return Finding(False, "audit", f"the audit log could not be read ({why})")
    if result.ok:
        return Finding(
            True,
            "audit",
            f"the audit log is intact: {result.entries} entries, head {result.head[:16]}",
        )
    return Finding(
        False,
        "audit",
        f"the audit log is broken at entry #{result.seq}: {result.problem}. Entries from "
        f"#{result.seq} on cannot be trusted; keep a copy of the database as it is",
    )


async def _policy(home: Home, policy_file: Path | None) -> Finding:
    from engine.engine import resolve_policy  # imports LangGraph: only the doctor pays
    from engine.tools import CATALOGUE

    try:
        policy = resolve_policy(home, policy_file, CATALOGUE)
    except PolicyError as error:
        count = len(error.problems)
        listed = "; ".join(str(problem) for problem in error.problems)
        return Finding(
            False,
            "policy",
            f"{error.source} has {count} problem{'s' * (count != 1)}: {listed}. "
            "Until it is fixed, runs and decisions are refused",
        )
    except HitlError as error:
        return Finding(False, "policy", str(error))
    return Finding(
        True,
        "policy",
        f"{policy.source}: valid: {len(policy.tiers)} tools, {len(policy.rules)} rules, "
        f"unlisted tools are {policy.default}",
    )


def _not_checked(why: str) -> Finding:
    return Finding(False, "audit", f"not checked: {why}")


def _missing(present: set[str], wanted: Sequence[str]) -> list[str]:
    return [name for name in wanted if name not in present]


def _damaged(where: str, problem: str) -> str:
    return (
        f"{where} is damaged ({problem}). Keep a copy of it (with any -wal file beside "
        "it); restore it from a backup, or move it aside and `hitl run` starts a new, "
        "empty home"
    )


def _incomplete(where: str, missing: Sequence[str]) -> str:
    tables = ", ".join(missing)
    return (
        f"{where} lacks hitl's table{'s' * (len(missing) != 1)} {tables}: it is not a hitl "
        "home's database, or the home was never opened by an engine (`hitl run` makes "
        "them; keep a copy of it first if it holds anything of value)"
    )


def _advice(error: DatabaseUnavailable) -> str:
    """The error's line, worded for the doctor where it would say "run the doctor"."""
    if isinstance(error, DatabaseDamaged) and error.database:
        return _damaged(error.database, error.problem)
    if type(error) is DatabaseUnavailable and error.database and "://" not in error.database:
        return (
            f"cannot read {error.database} ({error.problem}): check that the file and its "
            "directory can be read by this user"
        )
    return str(error)
