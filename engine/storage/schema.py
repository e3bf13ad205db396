"""Every table and index the engine keeps beside LangGraph's, and how a home gets there.

A home records the schema version it was written at (``hitl_schema``, one row per
version it reached). Opening a home to write brings it to ``SCHEMA_VERSION`` through
``MIGRATIONS``, in order; a home at the current version is only read; a home written by
a newer hitl is refused before anything is written. Homes from before versions were
recorded count as version 1 and are checked column by column, since they may already
have some of the later columns.

The demo tools' ledger is not here: it belongs to the tools (``engine.tools.ledger``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import DatabaseUnavailable
from engine.storage.database import Database, Dialect, execute, fetchone

VERSION_TABLE = "hitl_schema"
FIRST_VERSION = 1
"""What a home from before versions were recorded counts as."""

TABLES: dict[str, str] = {
    VERSION_TABLE: """
CREATE TABLE IF NOT EXISTS hitl_schema (
    version INTEGER PRIMARY KEY,
    change TEXT NOT NULL,
    at REAL NOT NULL
)""",
    "hitl_threads": """
CREATE TABLE IF NOT EXISTS hitl_threads (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    answer TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    graph TEXT NOT NULL DEFAULT ''
)""",
    "hitl_approvals": """
CREATE TABLE IF NOT EXISTS hitl_approvals (
    id TEXT PRIMARY KEY,
    interrupt_id TEXT NOT NULL UNIQUE,
    thread_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    tool_call_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    args TEXT NOT NULL,
    original_args TEXT NOT NULL,
    description TEXT NOT NULL,
    tier TEXT NOT NULL,
    reason TEXT NOT NULL,
    required INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,
    approvers TEXT NOT NULL DEFAULT '[]',
    args_schema TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'pending',
    version INTEGER NOT NULL DEFAULT 0,
    decision TEXT,
    decided_by TEXT,
    decided_at REAL,
    applied_at REAL,
    created_at REAL NOT NULL,
    rules TEXT NOT NULL DEFAULT '[]',
    distinct_operators INTEGER NOT NULL DEFAULT 0,
    expires_at REAL,
    warned_at REAL,
    policy_digest TEXT NOT NULL DEFAULT '',
    edited_by TEXT,
    format TEXT NOT NULL DEFAULT 'engine',
    action_index INTEGER NOT NULL DEFAULT 0,
    action_count INTEGER NOT NULL DEFAULT 1,
    allowed TEXT NOT NULL DEFAULT '[]',
    protected INTEGER NOT NULL DEFAULT 1,
    interrupt_value TEXT
)""",
    "hitl_executions": """
CREATE TABLE IF NOT EXISTS hitl_executions (
    thread_id TEXT NOT NULL,
    tool_call_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    args TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    owner TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    PRIMARY KEY (thread_id, tool_call_id)
)""",
    "hitl_journal": """
CREATE TABLE IF NOT EXISTS hitl_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    thread_id TEXT,
    kind TEXT NOT NULL,
    key TEXT,
    body TEXT NOT NULL,
    at REAL NOT NULL
)""",
    "hitl_leases": """
CREATE TABLE IF NOT EXISTS hitl_leases (
    thread_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    expires_at REAL NOT NULL
)""",
    "hitl_verdicts": """
CREATE TABLE IF NOT EXISTS hitl_verdicts (
    thread_id TEXT NOT NULL,
    tool_call_id TEXT NOT NULL,
    call_digest TEXT NOT NULL,
    tool TEXT NOT NULL,
    tier TEXT NOT NULL,
    required INTEGER NOT NULL,
    distinct_operators INTEGER NOT NULL,
    expires_after REAL,
    reason TEXT NOT NULL,
    rules TEXT NOT NULL,
    policy_digest TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (thread_id, tool_call_id, call_digest)
)""",
    "hitl_policies": """
CREATE TABLE IF NOT EXISTS hitl_policies (
    digest TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    body TEXT NOT NULL,
    text TEXT NOT NULL,
    at REAL NOT NULL
)""",
    "hitl_audit": """
CREATE TABLE IF NOT EXISTS hitl_audit (
    seq INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    thread_id TEXT,
    approval_id TEXT,
    tool TEXT,
    operator TEXT,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)""",
    "hitl_outbox": """
CREATE TABLE IF NOT EXISTS hitl_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    event TEXT NOT NULL,
    thread_id TEXT,
    approval_id TEXT,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    owner TEXT,
    lease_until REAL,
    version INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at REAL NOT NULL,
    sent_at REAL
)
""",
    "hitl_tokens": """
CREATE TABLE IF NOT EXISTS hitl_tokens (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    operator TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at REAL
)""",
}
"""The engine's tables, by name: what a home at ``SCHEMA_VERSION`` has."""

INDEXES = (
    "CREATE INDEX IF NOT EXISTS hitl_approvals_open ON hitl_approvals (status, created_at)",
    "CREATE INDEX IF NOT EXISTS hitl_approvals_thread ON hitl_approvals (thread_id)",
    "CREATE INDEX IF NOT EXISTS hitl_journal_thread ON hitl_journal (thread_id, seq)",
    "CREATE UNIQUE INDEX IF NOT EXISTS hitl_journal_key ON hitl_journal (thread_id, key)",
    "CREATE INDEX IF NOT EXISTS hitl_audit_thread ON hitl_audit (thread_id, seq)",
    "CREATE INDEX IF NOT EXISTS hitl_outbox_due ON hitl_outbox (status, next_at)",
)

POSTGRES_ONLY = (
    "ALTER TABLE hitl_journal ADD COLUMN IF NOT EXISTS xid XID8",
    "ALTER TABLE hitl_journal ALTER COLUMN xid SET DEFAULT pg_current_xact_id()",
    "CREATE INDEX IF NOT EXISTS hitl_journal_xid ON hitl_journal (xid)",
)
"""The transaction that wrote each journal row, so that another process tails it in
commit order (``engine.storage.snapshots``); rows from before are left NULL. SQLite
needs none: its writers take turns, so seq order is commit order there."""


@dataclass(frozen=True, slots=True)
class AddColumn:
    """A migration that adds one column, unless the home already has it."""

    table: str
    column: str
    type: str
    dialect: Dialect | None = None
    """Only on this database (its DDL adds the column: ``POSTGRES_ONLY``)."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    """The version a home is at once this has run."""
    change: str
    """What changed, in words (kept in ``hitl_schema``)."""
    steps: Sequence[AddColumn]


MIGRATIONS: Sequence[Migration] = (
    Migration(
        2,
        "approvals record the policy they were requested under",
        [AddColumn("hitl_approvals", "policy_digest", "TEXT NOT NULL DEFAULT ''")],
    ),
    Migration(
        3,
        "approvals record who edited their arguments",
        [AddColumn("hitl_approvals", "edited_by", "TEXT")],
    ),
    Migration(
        4,
        "threads name their graph; approvals record their interrupt's format, the "
        "decisions it allows, and whether the tool is protected against re-running",
        [
            AddColumn("hitl_threads", "graph", "TEXT NOT NULL DEFAULT ''"),
            AddColumn("hitl_approvals", "format", "TEXT NOT NULL DEFAULT 'engine'"),
            AddColumn("hitl_approvals", "action_index", "INTEGER NOT NULL DEFAULT 0"),
            AddColumn("hitl_approvals", "action_count", "INTEGER NOT NULL DEFAULT 1"),
            AddColumn("hitl_approvals", "allowed", "TEXT NOT NULL DEFAULT '[]'"),
            AddColumn("hitl_approvals", "protected", "INTEGER NOT NULL DEFAULT 1"),
            AddColumn("hitl_approvals", "interrupt_value", "TEXT"),
        ],
    ),
    Migration(
        5,
        "journal rows record their transaction on PostgreSQL, to be tailed in commit order",
        [AddColumn("hitl_journal", "xid", "XID8", dialect="postgres")],
    ),
    Migration(
        6,
        "bearer tokens bind HTTP API callers to operators (hitl_tokens; created by ddl)",
        [],
    ),
    # A migration that only adds a table needs no steps: the schema's CREATE ... IF
    # NOT EXISTS script runs before any migration.
    Migration(7, "an outbox of notifications, written with their events", []),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def ddl(dialect: Dialect) -> str:
    """Every CREATE of the current schema, as one script (each is IF NOT EXISTS)."""
    extra = POSTGRES_ONLY if dialect == "postgres" else ()
    return ";\n".join([*TABLES.values(), *INDEXES, *extra]) + ";\n"


async def existing_tables(db: Database) -> set[str]:
    """The names of every table in the database (of the current schema, on PostgreSQL)."""
    if db.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    return {str(row[0]) for row in await db.fetchall(sql)}


async def _columns(db: Database, table: str) -> set[str]:
    if db.dialect == "sqlite":
        sql = "SELECT name FROM pragma_table_info(?)"
    else:
        sql = (
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = ? AND table_schema = current_schema()"
        )
    return {str(row[0]) for row in await db.fetchall(sql, (table,))}


async def schema_version(db: Database) -> int | None:
    """The version a home's database is at; None for one without the engine's tables."""
    tables = await existing_tables(db)
    if VERSION_TABLE in tables:
        row = await fetchone(db, f"SELECT MAX(version) FROM {VERSION_TABLE}")
        if row is not None and row[0] is not None:
            return int(row[0])
    return FIRST_VERSION if "hitl_threads" in tables else None


async def check_version(db: Database, where: str) -> int | None:
    """The database's version; refuses one written by a newer hitl, without writing."""
    version = await schema_version(db)
    if version is not None and version > SCHEMA_VERSION:
        raise DatabaseUnavailable(
            f"{where} was written by a newer hitl (schema version {version}; this one knows "
            f"up to version {SCHEMA_VERSION}); nothing was changed. Upgrade hitl-console "
            "to open it",
            database=where,
            problem=f"schema version {version} is newer than {SCHEMA_VERSION}",
        )
    return version


async def check_readable(db: Database, where: str) -> None:
    """Refuses, without writing, a database a reader cannot read as it is: one written
    by a newer hitl, or by an older one that lacks columns a later migration adds."""
    version = await check_version(db, where)
    if version is None or version == SCHEMA_VERSION:
        return
    for migration in _migrations_after(version):
        for step in _steps(migration, db):
            if not await _has_column(db, step):
                raise DatabaseUnavailable(
                    f"{where} was written by an older hitl and needs upgrading before it "
                    f"can be read ({step.table} has no {step.column}); nothing was changed. "
                    "Run any command that writes, e.g. `hitl resume`, once to upgrade it",
                    database=where,
                    problem=f"schema version {version}, older than {SCHEMA_VERSION}",
                )


async def migrate(db: Database, where: str) -> None:
    """Brings the database to ``SCHEMA_VERSION``: creates what is missing, runs the
    migrations it has not had, records each. Writes nothing when it is current; refuses
    a newer one (``check_version``). Safe against another process doing the same."""
    version = await check_version(db, where)
    if version == SCHEMA_VERSION:
        return
    await db.script(ddl(db.dialect))
    now = time.time()
    if version is None:
        reached = [(SCHEMA_VERSION, "created", now)]
    else:
        reached = []
        for migration in _migrations_after(version):
            for step in _steps(migration, db):
                await _add_column(db, step)
            reached.append((migration.version, migration.change, now))
    await execute(
        db,
        [
            (
                f"INSERT INTO {VERSION_TABLE} (version, change, at) VALUES (?, ?, ?) "
                "ON CONFLICT (version) DO NOTHING",
                row,
            )
            for row in reached
        ],
    )


def _migrations_after(version: int) -> list[Migration]:
    return [m for m in MIGRATIONS if m.version > version]


def _steps(migration: Migration, db: Database) -> list[AddColumn]:
    return [s for s in migration.steps if s.dialect in (None, db.dialect)]


async def _has_column(db: Database, step: AddColumn) -> bool:
    return step.column in await _columns(db, step.table)


async def _add_column(db: Database, step: AddColumn) -> None:
    if await _has_column(db, step):
        return
    try:
        await execute(db, [(f"ALTER TABLE {step.table} ADD COLUMN {step.column} {step.type}", ())])
    except Exception:
        if not await _has_column(db, step):  # not another process's doing
            raise
