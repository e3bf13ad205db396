"""The home's SQLite file: is it one, can it be written, who holds its lock, and what
each of SQLite's complaints about it means to a person.

A file that is not a whole SQLite database is refused, never started over; a new one
is made whole before it is put in place, so no process ever finds a zero-length
``hitl.sqlite``. Every complaint becomes a ``DatabaseUnavailable`` whose one line names
the file, what is wrong and what to do.
"""

from __future__ import annotations

import errno
import math
import os
import secrets
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Literal

from engine.errors import (
    DatabaseBusy,
    DatabaseDamaged,
    DatabaseReadOnly,
    DatabaseUnavailable,
    DiskFull,
    HitlError,
)

BUSY_TIMEOUT_SECONDS = 30.0
"""How long a write waits for another process's write lock before giving up (normal
contention lasts milliseconds); ``$HITL_BUSY_TIMEOUT`` (seconds) overrides it."""

SQLITE_HEADER = b"SQLite format 3\x00"

Durability = Literal["full", "fast"]
"""``full``: every commit is on disk when it returns (``synchronous=FULL``), so a power
cut keeps what was acknowledged. ``fast``: a process crash loses nothing, but a power
cut or an OS crash may lose the last commits (``synchronous=NORMAL``)."""
DURABILITIES: tuple[Durability, ...] = ("full", "fast")
_SYNCHRONOUS: dict[Durability, str] = {"full": "FULL", "fast": "NORMAL"}


def busy_timeout_seconds() -> float:
    raw = os.environ.get("HITL_BUSY_TIMEOUT", "").strip()
    if not raw:
        return BUSY_TIMEOUT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds < math.inf:
        raise HitlError(
            f"HITL_BUSY_TIMEOUT={raw!r} is not a number of seconds "
            f"(unset, it is {BUSY_TIMEOUT_SECONDS:g})"
        )
    return seconds


def sqlite_file_problem(path: Path) -> str | None:
    """What makes the file at ``path`` no SQLite database, judged by its header alone
    (a few bytes, read at every open); None when it looks like one or is not there."""
    try:
        with path.open("rb") as file:
            head = file.read(100)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return "it is a directory, not a file"
    except PermissionError:
        return None  # not damage; opening it says what is wrong
    except OSError as error:
        return f"it cannot be read: {error.strerror or error}"
    if not head:
        return "it is empty: 0 bytes, no tables"
    if not head.startswith(SQLITE_HEADER):
        return "file is not a database: it does not start with SQLite's header"
    if len(head) < 100:
        return f"it is cut short: {len(head)} bytes"
    return None


def refuse_unwritable(path: Path, *, missing_ok: bool) -> None:
    if problem := sqlite_file_problem(path):
        raise _damaged(path, problem)
    if path.exists():
        if not can_write(path):
            raise _read_only(path)
    elif _wal_has_content(path):
        raise _damaged(path, f"it is missing, but its write-ahead log {path.name}-wal is not")
    elif not missing_ok and not can_write(path):
        raise _read_only(path)


def connect_for_writing(
    path: Path,
    busy_timeout: float,
    durability: Durability = "full",
    factory: type[sqlite3.Connection] = sqlite3.Connection,
) -> sqlite3.Connection:
    """The engine's connection: WAL, so readers never wait; ``busy_timeout`` so writers
    from other processes queue instead of failing with "database is locked";
    ``durability`` (see ``Durability``). No implicit transactions
    (``isolation_level=None``): the caller says where each begins and ends.

    A file that is there must be a database; a missing one is made whole and then put
    in place in one step, so no process ever finds a zero-length ``hitl.sqlite``.
    """
    refuse_unwritable(path, missing_ok=False)
    if not path.exists():
        _create_sqlite_file(path)
    conn = sqlite3.connect(
        str(path),
        timeout=busy_timeout,
        check_same_thread=False,
        isolation_level=None,
        factory=factory,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={_SYNCHRONOUS[durability]}")
        # Checkpoints fsync; run them beside the write path, not inside a commit.
        conn.execute("PRAGMA wal_autocheckpoint=0")
    except BaseException:
        conn.close()
        raise
    return conn


LANGGRAPH_TABLES = frozenset({"checkpoints", "writes"})
"""The tables of LangGraph's SQLite checkpointer: an app's checkpoint database, which
the engine shares (it adopts the app's threads) rather than takes over."""


def refuse_foreign(path: Path) -> None:
    """Refuses an SQLite file that holds tables but none of hitl's: another program's
    database is never taken over (hitl's tables written into it), unless it is a
    LangGraph checkpoint database, whose threads hitl is there to supervise."""
    if not path.exists():
        return
    try:  # only what it can read for sure; the open that follows names anything else
        conn = connect_readonly(path, 1.0)
        try:
            query = "SELECT name FROM sqlite_master WHERE type='table'"
            tables = {r[0] for r in conn.execute(query)}
        finally:
            conn.close()
    except (sqlite3.Error, HitlError):
        return
    if tables and "hitl_threads" not in tables and not LANGGRAPH_TABLES <= tables:
        shown = ", ".join(sorted(tables)[:3]) + (", …" if len(tables) > 3 else "")
        raise _damaged(path, f"it is another program's database: its tables are {shown}")


def connect_readonly(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A connection that cannot write, for listings and diagnosis; it works on a
    read-only directory or mount too.

    SQLite reads a WAL database through its ``-shm`` file, which it must be able to
    create unless it is there already. Where it cannot, and the write-ahead log holds
    nothing, the file alone is the whole database: it is opened ``immutable`` (read
    without locks, which nobody can take on a read-only home anyway).
    """
    if problem := sqlite_file_problem(path):
        raise _damaged(path, problem)
    target = urllib.parse.quote(str(path))
    try:
        return _probed(f"file:{target}?mode=ro", busy_timeout)
    except sqlite3.OperationalError as error:
        cannot_make_index = error.sqlite_errorcode & 0xFF in (
            sqlite3.SQLITE_CANTOPEN,  # a read-only mount
            sqlite3.SQLITE_READONLY,  # a directory without write permission
        )
        if not cannot_make_index or can_write(path):
            raise
    if _wal_has_content(path):
        raise DatabaseReadOnly(
            f"the home {path.parent} is read-only and the newest changes to {path.name} are "
            f"still in {path.name}-wal, which SQLite reads only where it can write beside it; "
            "nothing was changed. Open the home once where it is writable, or copy it there",
            database=str(path),
            problem="read-only, with changes in the write-ahead log",
        )
    return _probed(f"file:{target}?mode=ro&immutable=1", busy_timeout)


def _probed(uri: str, busy_timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _create_sqlite_file(path: Path) -> None:
    """Makes an empty WAL database beside ``path`` and links it into place; if another
    process got there first, theirs is used."""
    fresh = path.with_name(f".{path.name}.{secrets.token_hex(4)}.new")
    try:
        conn = sqlite3.connect(str(fresh))
        try:
            conn.execute("PRAGMA journal_mode=WAL")  # writes the header: a whole database
        finally:
            conn.close()
        try:
            os.link(fresh, path)
        except FileExistsError:
            pass
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            if not path.exists():  # a file system without hard links: nearly as good
                os.replace(fresh, path)
    except OSError as error:
        problem = error.strerror or str(error)
        if error.errno == errno.ENOSPC:
            raise _full(path, problem) from None
        raise DatabaseUnavailable(
            f"cannot create the database {path} ({problem}); nothing was changed",
            database=str(path),
            problem=problem,
        ) from None
    finally:
        for leftover in (fresh, *_companions(fresh)):
            leftover.unlink(missing_ok=True)


def _companions(path: Path) -> tuple[Path, Path]:
    return path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")


def _wal_has_content(path: Path) -> bool:
    try:
        return _companions(path)[0].stat().st_size > 0
    except OSError:
        return False


def can_write(path: Path) -> bool:
    """Whether this process may write the database (root included: a read-only mount
    refuses root too)."""
    if not os.access(path.parent, os.W_OK):
        return False
    return not path.exists() or os.access(path, os.W_OK)


def sqlite_error(
    error: sqlite3.Error, path: Path, *, busy_timeout: float, readonly: bool = False
) -> Exception:
    """The ``DatabaseUnavailable`` an SQLite error about the database itself means, in
    words a person can act on; any other error (a unique key, our own SQL) unchanged.
    ``readonly``: the connection never writes, so a home it cannot write is no cause."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return error
    primary, problem = code & 0xFF, str(error)
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return _damaged(path, problem)
    if primary == sqlite3.SQLITE_FULL:
        return _full(path, problem)
    if primary == sqlite3.SQLITE_IOERR and _no_space(path):
        return _full(path, f"{problem}: no space left on the device")
    if primary == sqlite3.SQLITE_BUSY:
        return _busy(path, busy_timeout)
    cannot_write = primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN)
    if cannot_write and not readonly and not can_write(path):
        return _read_only(path)
    if primary in (
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_READONLY,
    ):
        return DatabaseUnavailable(
            f"cannot use the database {path} ({problem}); nothing was changed. Check that "
            "the file and its directory can be read (and written, to run or decide), then "
            "run `hitl doctor`",
            database=str(path),
            problem=problem,
        )
    if problem.startswith("no such table:"):
        return DatabaseDamaged(
            f"the database {path} is not a whole hitl database ({problem}); nothing was "
            "changed. Run `hitl doctor` to see what is wrong; keep a copy of the file",
            database=str(path),
            problem=problem,
        )
    return error


def _damaged(path: Path, problem: str) -> DatabaseDamaged:
    return DatabaseDamaged(
        f"the database {path} is damaged ({problem}); nothing was changed. "
        "Run `hitl doctor` to see what is wrong; keep a copy of the file",
        database=str(path),
        problem=problem,
    )


def _full(path: Path, problem: str) -> DiskFull:
    return DiskFull(
        f"the disk holding {path} is full ({problem}); nothing was changed. "
        "Free some space there and try again",
        database=str(path),
        problem=problem,
    )


def _no_space(path: Path) -> bool:
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False


def _read_only(path: Path) -> DatabaseReadOnly:
    try:
        mounted_read_only = bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        mounted_read_only = False
    why = "a read-only file system" if mounted_read_only else "no permission to write"
    return DatabaseReadOnly(
        f"the home {path.parent} is read-only ({why}: {path.name} cannot be written); "
        "nothing was changed. Listings (`hitl pending`, `threads`, `show`, `audit`) "
        "still work; run and decide where the home is writable",
        database=str(path),
        problem=why,
    )


def _busy(path: Path, busy_timeout: float) -> DatabaseBusy:
    holder = lock_holder(path)
    who = f"another process ({holder})" if holder else "another process"
    return DatabaseBusy(
        f"{who} is writing to {path} and has held its write lock for over "
        f"{busy_timeout:g} s; nothing was changed. Try again when it has finished",
        database=str(path),
        problem=f"write lock held{f' by {holder}' if holder else ''}",
    )


_WAL_WRITE_LOCK = 120
"""The byte of the ``-shm`` file a WAL writer locks (SQLite's WAL_WRITE_LOCK)."""
_RESERVED_BYTE = 0x40000001
"""The byte of the database file a rollback-journal writer locks (SQLite's RESERVED)."""


def lock_holder(path: Path) -> str | None:
    """Who holds the write lock on the SQLite database at ``path`` ("pid 4242: hitl run
    …"), from the POSIX locks the kernel lists; None where it cannot tell (not Linux,
    another machine over a network file system, this process)."""
    wanted: dict[tuple[int, int, int], int] = {}
    for file, byte in ((_companions(path)[1], _WAL_WRITE_LOCK), (path, _RESERVED_BYTE)):
        try:
            st = file.stat()
        except OSError:
            continue
        wanted[(os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)] = byte
    try:
        listing = Path("/proc/locks").read_text()
    except OSError:
        return None
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) != 8 or fields[1] != "POSIX" or fields[3] != "WRITE":
            continue  # blocked waiters ("->"), flock() and read locks
        try:
            pid = int(fields[4])
            major, minor, inode = fields[5].split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
            start = int(fields[6])
            end = math.inf if fields[7] == "EOF" else int(fields[7])
        except ValueError:
            continue
        locked = wanted.get(key)
        if locked is not None and start <= locked <= end and pid not in (os.getpid(), 0, -1):
            return f"pid {pid}: {_command_line(pid)}"
    return None


def _command_line(pid: int) -> str:
    """A process's command, for people: ``hitl run email the Q3 report…``."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "a process that has since gone, or is not ours to see"
    words = [w for w in words if w]
    if len(words) > 1 and Path(words[0]).name.startswith("python") and words[1][:1] != "-":
        words = words[1:]  # the script, not its interpreter
    if not words:
        return "?"
    text = " ".join([Path(words[0]).name, *words[1:]])
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= 60 else text[:59] + "…"
