"""The demo ledger: what the money and data tools did, one row per effect.

The table belongs to the demo tools, not to the engine's schema: it is made the first
time a tool writes to it, and a home where none ever did simply has no ledger (it
reads as empty). Its name and columns are those older homes already have.
"""

from __future__ import annotations

import json
import time
from typing import Any

from engine.storage.database import Database
from engine.storage.schema import existing_tables
from engine.views import LedgerEntry

LEDGER_TABLE = """
CREATE TABLE IF NOT EXISTS hitl_ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id TEXT NOT NULL,
    tool_call_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    at REAL NOT NULL
)"""


class Ledger:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._made = False

    async def add(self, thread_id: str, tool_call_id: str, kind: str, body: dict[str, Any]) -> int:
        """Records one effect; returns its row number (what the tool tells the model)."""
        if not self._made:
            await self.db.script(LEDGER_TABLE)
            self._made = True
        [(row_id,)] = await self.db.returning(
            "INSERT INTO hitl_ledger (thread_id, tool_call_id, kind, body, at) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            (thread_id, tool_call_id, kind, json.dumps(body), time.time()),
        )
        return int(row_id)

    async def entries(self) -> list[LedgerEntry]:
        """Every effect, oldest first; none in a home where no tool ever wrote one."""
        if not self._made and "hitl_ledger" not in await existing_tables(self.db):
            return []
        rows = await self.db.fetchall(
            "SELECT id, thread_id, tool_call_id, kind, body, at FROM hitl_ledger ORDER BY id"
        )
        return [LedgerEntry(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]
