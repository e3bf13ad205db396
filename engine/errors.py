"""One exception family, with messages a person can act on.

The CLI prints ``str(error)`` as one line and exits non-zero; the console shows it
as a notification. No message should need a traceback to be understood.
"""

from __future__ import annotations

from collections.abc import Sequence


class HitlError(Exception):
    """Base of every error the engine raises on purpose."""


class HomeNotFound(HitlError):
    """A command that reads or decides was pointed at a home that does not exist."""


class UnknownThread(HitlError):
    """No thread with that id (or unique id prefix)."""


class UnknownApproval(HitlError):
    """No approval with that id (or unique id prefix)."""


class AlreadyDecided(HitlError):
    """The approval was decided before this decision arrived (another operator or process)."""


class InvalidDecision(HitlError):
    """The decision does not fit the approval (wrong kind, switched tool, bad JSON)."""


class InvalidArguments(InvalidDecision):
    """Edited arguments fail the tool's argument schema; nothing was changed.

    ``problems``: each way they fail it ("path: message"), for a caller that shows them
    one by one (the HTTP API's 422); empty when the message is all there is to say."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class PolicyError(HitlError):
    """A policy file with problems; every one of them is listed, with its line."""

    def __init__(self, source: str, problems: Sequence[object]) -> None:
        self.source = source
        self.problems = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"policy {source} has {count} problem{'s' * (count != 1)}:\n{lines}")


class FourEyes(InvalidDecision):
    """The policy wants a different operator for the next approval."""


class InvalidOperator(HitlError):
    """An operator name that could pass for someone else's (invisible characters)."""


class Expired(AlreadyDecided):
    """The approval's time ran out: it was rejected automatically, the call did not run."""


class EditDenied(InvalidDecision):
    """The edited call is one the policy denies; nothing changed."""


class ModelUnavailable(HitlError):
    """The model endpoint could not be reached; the thread fails, and a retry continues it."""


class UnknownOption(HitlError, TypeError):
    """``Engine.open`` was given an option it does not know (a misspelling, say);
    nothing was created."""


class InvalidOption(HitlError, ValueError):
    """An engine option with a value it cannot take; nothing was created."""


class DatabaseUnavailable(HitlError):
    """The home's database cannot be used as it is; nothing was changed.

    ``database`` names the file or (redacted) URL, ``problem`` says what the database
    itself reported, so a diagnosis (``engine.doctor``) can word its own advice.
    """

    def __init__(self, message: str, *, database: str = "", problem: str = "") -> None:
        super().__init__(message)
        self.database = database
        self.problem = problem


class UnsupportedDatabase(DatabaseUnavailable):
    """A database URL of a kind a home cannot live in (only SQLite and PostgreSQL)."""


class DatabaseDamaged(DatabaseUnavailable):
    """The database file is not a (whole) hitl database: empty, not SQLite, corrupt.
    It is refused, never started over."""


class DatabaseBusy(DatabaseUnavailable):
    """Another process held the database's write lock for longer than the busy timeout."""


class DiskFull(DatabaseUnavailable):
    """The disk (or the PostgreSQL server's) ran out of space; the change was rolled back."""


class DatabaseReadOnly(DatabaseUnavailable):
    """The home cannot be written (a read-only mount or directory): listings still work,
    runs and decisions are refused."""
