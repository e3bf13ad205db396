"""Where an installation lives: one directory (outbox, sandbox, policy, SQLite file),
and optionally a PostgreSQL database instead of the file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import HomeNotFound, UnsupportedDatabase

DB_NAME = "hitl.sqlite"


@dataclass(frozen=True, slots=True)
class Home:
    """Everything of one installation lives under one directory."""

    path: Path
    database_url: str | None = None
    """A PostgreSQL URL; None keeps the database in ``<home>/hitl.sqlite``."""
    sqlite_file: Path | None = None
    """Another SQLite file to keep the database in: an app's LangGraph checkpoint
    database, whose threads the engine adopts (``--database app.sqlite``)."""

    @classmethod
    def resolve(
        cls, explicit: str | os.PathLike[str] | None = None, database: str | None = None
    ) -> Home:
        """``--home``, else ``$HITL_HOME``, else ``./.hitl``; ``--database``, else
        ``$HITL_DATABASE_URL``, else the SQLite file in the home."""
        raw = explicit or os.environ.get("HITL_HOME") or ".hitl"
        url = database or os.environ.get("HITL_DATABASE_URL") or None
        path = Path(raw).expanduser().resolve()
        if (file := sqlite_path(url)) is not None:
            file = file.expanduser().resolve()
            if not file.is_file():
                raise UnsupportedDatabase(
                    f"--database {url!r}: there is no SQLite file at {file}; --database takes "
                    "a PostgreSQL URL (postgresql://…) or the SQLite file of an app's LangGraph "
                    "checkpointer to share; leave it unset to use <home>/hitl.sqlite",
                    database=str(file),
                )
            return cls(path, None, file)
        return cls(path, url)

    @property
    def db(self) -> Path:
        return self.sqlite_file or self.path / DB_NAME

    @property
    def outbox(self) -> Path:
        return self.path / "outbox"

    @property
    def sandbox(self) -> Path:
        return self.path / "sandbox"

    @property
    def policy_file(self) -> Path:
        return self.path / "policy.toml"

    def create(self) -> None:
        """Makes the home, readable by its owner only (0700): the database, the outbox
        and the policy hold what agents send and what people decided."""
        fresh = not self.path.exists()
        for folder in (self.path, self.outbox, self.sandbox):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if fresh:
            self.path.chmod(0o700)

    def exists(self) -> bool:
        if self.sqlite_file is not None:
            return self.sqlite_file.exists() and self.policy_file.parent.exists()
        return (self.policy_file.parent if self.database_url else self.db).exists()

    def require(self) -> None:
        """Refuse a home that was never created: a typo must not start a new, empty one."""
        if not self.exists():
            raise HomeNotFound(
                f"no hitl home at {self.path} (no {DB_NAME} there); "
                "start one with `hitl run TASK`, or point --home / $HITL_HOME at an existing one"
            )


def sqlite_path(database: str | None) -> Path | None:
    """The SQLite file a ``--database`` value names (a path, or ``sqlite:///path``),
    or None for a URL of another kind (or none)."""
    if not database:
        return None
    if database.startswith("sqlite:///"):
        return Path(database.removeprefix("sqlite:///") or ".")
    if database.startswith("sqlite:") or "://" in database:
        return None
    return Path(database)
