"""``hitl_policies``: every policy that was ever in force in a home, by digest, so a
later edit of a call is judged by the policy that judged the call."""

from __future__ import annotations

import time

from engine.storage.database import Database, Statement, fetchone


class Policies:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, digest: str) -> tuple[str, str] | None:
        """(source, canonical body) of a policy once in force here."""
        row = await fetchone(
            self.db, "SELECT source, body FROM hitl_policies WHERE digest = ?", (digest,)
        )
        return (row[0], row[1]) if row else None

    @staticmethod
    def insert_statement(digest: str, source: str, body: str, text: str) -> Statement:
        return (
            "INSERT INTO hitl_policies (digest, source, body, text, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (digest) DO NOTHING",
            (digest, source, body, text, time.time()),
        )
