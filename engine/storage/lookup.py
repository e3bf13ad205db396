"""Finding a row by what a person typed: its whole id, or a prefix of it that is unique.

Threads and approvals are both referred to this way (``hitl show 3f2a``, ``hitl approve
a1b2``); ``Naming`` holds the words each uses to say what went wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import HitlError
from engine.storage.database import Database


@dataclass(frozen=True, slots=True)
class Naming:
    """How to tell a person that a reference named nothing, or too much."""

    error: type[HitlError]
    needed: str
    """Said for an empty reference."""
    missing: str
    """Said when nothing matches; ``{ref}`` is the reference."""
    ambiguous: str
    """Said when several rows match; ``{ref}`` and ``{ids}`` (the first few)."""


async def find_by_prefix(
    db: Database, select: str, id_column: str, ref: str, naming: Naming
) -> Sequence[Any]:
    """The row of ``select`` (a query without WHERE) whose ``id_column`` is ``ref``, or
    starts with it and is the only one that does. The first column must be the id."""
    if not ref.strip():
        raise naming.error(naming.needed)
    if "\x00" in ref:  # no id has one, and PostgreSQL refuses the query outright
        raise naming.error(naming.missing.format(ref=ref))
    rows = await db.fetchall(
        f"{select} WHERE {id_column} = ? OR {id_column} LIKE ? ESCAPE '\\' "
        f"ORDER BY {id_column} = ? DESC LIMIT 3",
        (ref, like_prefix(ref), ref),
    )
    if not rows:
        raise naming.error(naming.missing.format(ref=ref))
    if rows[0][0] != ref and len(rows) > 1:
        ids = ", ".join(r[0] for r in rows)
        raise naming.error(naming.ambiguous.format(ref=ref, ids=ids))
    return rows[0]


def like_prefix(ref: str) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) matching what starts with ``ref``."""
    escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def marks(values: Sequence[object]) -> str:
    """As many ``?`` as values, for ``IN (...)``."""
    return ", ".join("?" for _ in values)
