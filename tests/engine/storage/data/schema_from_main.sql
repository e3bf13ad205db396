-- The engine's tables as main wrote them (store.py and audit.py) before schema versions.
CREATE TABLE IF NOT EXISTS hitl_threads (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    answer TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
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
    edited_by TEXT
);
CREATE INDEX IF NOT EXISTS hitl_approvals_open ON hitl_approvals (status, created_at);
CREATE INDEX IF NOT EXISTS hitl_approvals_thread ON hitl_approvals (thread_id);
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
);
CREATE TABLE IF NOT EXISTS hitl_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    thread_id TEXT,
    kind TEXT NOT NULL,
    key TEXT,
    body TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS hitl_journal_thread ON hitl_journal (thread_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS hitl_journal_key ON hitl_journal (thread_id, key);
CREATE TABLE IF NOT EXISTS hitl_leases (
    thread_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
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
);
CREATE TABLE IF NOT EXISTS hitl_policies (
    digest TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    body TEXT NOT NULL,
    text TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS hitl_ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id TEXT NOT NULL,
    tool_call_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    at REAL NOT NULL
);
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
);
CREATE INDEX IF NOT EXISTS hitl_audit_thread ON hitl_audit (thread_id, seq);
