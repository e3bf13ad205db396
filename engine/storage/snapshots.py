"""Reading a PostgreSQL table in commit order, by the transaction that wrote each row.

On PostgreSQL an id taken at INSERT time is not commit order: a transaction can take
id 10, another id 11 and commit first, and a reader that has seen 11 never asks for 10.
So a table read as a feed records, in an indexed ``xid8`` column, the transaction that
wrote each row (``pg_current_xact_id()``). A read returns its own snapshot with its
rows (``SNAPSHOT_ROW``); the next read asks for the rows written by a transaction that
snapshot could not see (``unseen_by``): one at or past its ``xmax``, or one still in
progress then (``xip``). That is exactly what committed since, in whatever order.

Rows of one transaction become visible together (a savepoint's rows with the top
transaction: ``pg_current_xact_id`` names the top one), so a feed that must stop early
stops between transactions, and ``Snapshot.through`` says what it has then read.
"""

from __future__ import annotations

from dataclasses import dataclass

SNAPSHOT = "pg_current_snapshot()::text"
"""The reading statement's own snapshot (READ COMMITTED: one per statement)."""


def unseen_by(column: str) -> str:
    """SQL true for the rows whose transaction (``column``) the snapshot bound to both
    ``?`` could not see; cheap with an index on ``column``."""
    snapshot = "CAST(? AS pg_snapshot)"
    return (
        f"({column} >= pg_snapshot_xmax({snapshot}) "
        f"OR {column} = ANY(ARRAY(SELECT pg_snapshot_xip({snapshot}))))"
    )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A PostgreSQL snapshot (``pg_snapshot``'s text ``xmin:xmax:xip,…``): which
    transactions' rows a read could see."""

    xmin: int
    xmax: int
    xip: frozenset[int]

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        xmin, xmax, xip = text.split(":")
        return cls(int(xmin), int(xmax), frozenset(int(x) for x in xip.split(",") if x))

    def __str__(self) -> str:
        return f"{self.xmin}:{self.xmax}:{','.join(map(str, sorted(self.xip)))}"

    def through(self, later: Snapshot, last: int) -> Snapshot:
        """What this snapshot saw, and of what ``later`` saw only the transactions up to
        ``last``: where a feed stands that read everything ``later`` showed of those
        and nothing of the ones after."""
        xmax = max(self.xmax, last + 1)
        xip = {x for x in later.xip if x < xmax} | {x for x in self.xip if x > last}
        return Snapshot(min(xip, default=xmax), xmax, frozenset(xip))
