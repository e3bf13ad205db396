"""A journal row written by a "third engine" in a transaction the test keeps open: it
takes its sequence number now and commits when the test says, after rows numbered later
(the order a commit-ordered tail must survive on PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from engine.event_codec import encode
from engine.events import MessageAdded


async def hold_journal_row(conn: psycopg.AsyncConnection[Any]) -> None:
    """Inserts the row in ``conn``'s open transaction; the caller commits it later."""
    kind, key, body = encode(MessageAdded("held", "user", "held back"))
    await conn.execute(
        "INSERT INTO hitl_journal (origin, thread_id, kind, key, body, at) "
        "VALUES ('a third engine', 'held', %s, %s, %s, 0)",
        (kind, key, json.dumps(body)),
    )
