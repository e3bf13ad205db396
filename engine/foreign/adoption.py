"""Which of an app's threads changed: a cheap feed over its own checkpointer's tables.

An app that runs its graph on LangGraph's stock SQLite or PostgreSQL saver keeps its
threads in that saver's tables (SQLite: ``checkpoints``, ``writes``; PostgreSQL:
``checkpoints``, ``checkpoint_writes``, ...). The console adopts them: ``paused()``
lists the threads waiting at an interrupt when it starts, then ``poll()``, about twice
a second, names every thread whose checkpoints or status writes changed since, and
the console reads each of those with ``graph.aget_state``. So the feed only says
*which* threads changed; it must never miss one, and a poll must cost a few
milliseconds with ten thousand threads in the tables (no scan of them).

A thread's status shows in two ways: a new checkpoint (it ran a step, was resumed,
finished), or a write on its latest checkpoint to one of LangGraph's status channels
(``STATUS_CHANNELS``): ``__interrupt__`` when a node pauses (no checkpoint follows; the
write lands on the checkpoint its step began from, which may be hours old),
``__resume__`` as soon as someone resumes it (before the node finishes), ``__error__``
when a node fails.

SQLite: both tables are rowid tables, and SQLite writers take turns, so a row
committed later has a larger rowid (a new row's rowid is one past the largest there
is) and ``rowid >= cursor`` is exact and costs an index seek. Rowids are reused only
after the rows at the top are deleted (``delete_thread`` of the latest thread, a
``VACUUM``): the feed keeps the top row of each of the last few threads it saw as
anchors, checks the highest is still in place with each poll, and if it is not,
rescans from the highest anchor still in place (from the start if none is). Nothing
is added to the app's file.

PostgreSQL: rows are not numbered in commit order there (a transaction can take a
later id and commit first; LangGraph's checkpoint ids are made in the app's process
when a step begins, and an interrupt's write carries the id of a checkpoint that may
be hours old), and the system column ``xmin`` that would say which transaction wrote
a row cannot be indexed. So hitl adds two triggers, both named ``hitl_note_change``,
on ``checkpoints`` and on ``checkpoint_writes`` (status channels only): they are the
only thing hitl adds to the app's tables. Each records, in hitl's own table
``hitl_checkpoint_changes`` (one row per thread), the id of the transaction that last
changed the thread. A poll reads that table in one statement together with the
statement's own snapshot, and next time asks for the rows written by a transaction the
previous snapshot could not see: an id at or past its ``xmax``, or one of its
in-progress ids. That is exactly what committed since, in whatever order, through an
index. The trigger function runs as hitl's role (``SECURITY DEFINER``), so the app's
role needs no rights on hitl's table, and it does nothing if that table is gone.
Installing the triggers waits at most ``LOCK_TIMEOUT`` for the app's open writes to
the table (and holds its new ones back meanwhile); it is retried at the next poll if
it could not. The cost to the app: one small upsert per checkpoint and per status
write, in its own transaction (``bench/adoption.py`` measures it), and two of its
transactions writing the same thread at the same moment queue on that thread's row.
To remove them:
``DROP FUNCTION hitl_note_checkpoint_change() CASCADE; DROP TABLE hitl_checkpoint_changes``.

Both: thread ids are reported whatever the ``checkpoint_ns`` of the row (a subgraph's
checkpoint belongs to its root thread). Threads the engine runs itself in the same
tables are reported too. Deleted threads are not reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from engine.errors import DatabaseBusy, DatabaseUnavailable
from engine.storage.database import Database, execute, fetchone
from engine.storage.snapshots import SNAPSHOT, unseen_by

STATUS_CHANNELS = ("__error__", "__scheduled__", "__interrupt__", "__resume__")
"""LangGraph's special write channels (``langgraph.checkpoint.base.WRITES_IDX_MAP``):
the writes that change a thread's status without a checkpoint."""

ANCHORS = 8
"""Distinct threads whose latest row the SQLite cursor remembers."""

LOCK_TIMEOUT = "2s"
"""How long installing the triggers may wait for (and hold back) the app's writers."""

_LOWEST = -(2**63)
_STATUS_SQL = ", ".join(f"'{channel}'" for channel in STATUS_CHANNELS)


def _paused_sql(writes: str) -> str:
    """Root threads whose latest checkpoint has an interrupt write."""
    return f"""
SELECT c.thread_id FROM (
    SELECT thread_id, max(checkpoint_id) AS latest FROM checkpoints
    WHERE checkpoint_ns = '' GROUP BY thread_id
) AS c
WHERE EXISTS (
    SELECT 1 FROM {writes} AS w
    WHERE w.thread_id = c.thread_id AND w.checkpoint_ns = '' AND w.checkpoint_id = c.latest
    AND w.channel = '__interrupt__'
)"""


class CheckpointFeed:
    """Root thread ids whose checkpoints changed, from an app's LangGraph saver tables.

    ``open`` picks the dialect's way of reading them; until the tables exist the feed
    returns nothing and creates nothing of the app's."""

    @classmethod
    async def open(cls, db: Database) -> CheckpointFeed:
        """A feed over ``db``, its cursor at now: the first ``poll`` returns what
        changed after this."""
        feed: CheckpointFeed = _SqliteFeed(db) if db.dialect == "sqlite" else _PostgresFeed(db)
        await feed._start()
        return feed

    async def _start(self) -> None:
        raise NotImplementedError

    async def paused(self) -> list[str]:
        """Every root thread whose latest checkpoint has pending interrupt writes,
        sorted; the next ``poll`` returns only what changed after this read began."""
        raise NotImplementedError

    async def poll(self) -> set[str]:
        """The root thread ids with a checkpoint or a status write added or changed
        since the previous ``poll`` (or ``paused``, or ``open``); every thread of the
        tables the first time they are found."""
        raise NotImplementedError


# --- SQLite: rowid cursors ---------------------------------------------------------

Key = tuple[Any, ...]


class _RowidCursor:
    """Where one rowid table was read up to, as anchors that show when rowids were
    reused. Its rows are ``(rowid, thread_id, ns, checkpoint_id, task_id, idx,
    counts)``: a checkpoint's key padded to a write's, and whether the row reports."""

    def __init__(self, table: str, columns: str) -> None:
        self.select = (
            f"SELECT rowid, thread_id, checkpoint_ns, checkpoint_id, {columns} FROM {table}"
        )
        self.anchors: dict[str, tuple[int, Key]] = {}
        """Thread id -> (rowid, key) of its latest row, for the latest ``ANCHORS`` threads."""

    def since(self, tag: int | None = None) -> str:
        """The rows with ``rowid >= ?`` (tagged first with ``tag``, for a union)."""
        if tag is None:
            return f"{self.select} WHERE rowid >= ? ORDER BY rowid"
        return f"{self.select.replace('SELECT', f'SELECT {tag},', 1)} WHERE rowid >= ?"

    def top(self) -> str:
        return f"{self.select} ORDER BY rowid DESC LIMIT {ANCHORS * 32}"

    def floor(self) -> int:
        """Where the next read starts: the highest row seen (read again, to show it is
        still in place); the first row when none was seen."""
        return max((rowid for rowid, _ in self.anchors.values()), default=_LOWEST)

    def lowest_anchor(self) -> int:
        return min((rowid for rowid, _ in self.anchors.values()), default=_LOWEST)

    def advance(self, rows: Sequence[Sequence[Any]]) -> set[str] | None:
        """The threads that rows from ``floor()`` on (ascending) show changed; None
        when the highest row seen is gone (rowids may have been reused: ``recover``)."""
        if self.anchors:
            if not rows or _place(rows[0]) != max(self.anchors.values()):
                return None
            rows = rows[1:]
        return self._take(rows)

    def recover(self, rows: Sequence[Sequence[Any]]) -> set[str] | None:
        """The threads that rows from ``lowest_anchor()`` on may show changed: every
        row above the highest anchor still in place (a row inserted since was numbered
        above it). None when no anchor is left: ``restart``."""
        present = {_place(row) for row in rows}
        kept = {thread: place for thread, place in self.anchors.items() if place in present}
        if not kept:
            return None
        self.anchors = kept
        floor = max(rowid for rowid, _ in kept.values())
        return self._take([row for row in rows if row[0] > floor])

    def restart(self, rows: Iterable[Sequence[Any]]) -> set[str]:
        """The threads of all these rows (ascending); the cursor after the last."""
        self.anchors = {}
        return self._take(rows)

    def _take(self, rows: Iterable[Sequence[Any]]) -> set[str]:
        changed: set[str] = set()
        for row in rows:
            thread = str(row[1])
            if row[-1]:
                changed.add(thread)
            self.anchors[thread] = _place(row)
        if len(self.anchors) > ANCHORS:
            latest = sorted(self.anchors.items(), key=lambda item: item[1][0])[-ANCHORS:]
            self.anchors = dict(latest)
        return changed


def _place(row: Sequence[Any]) -> tuple[int, Key]:
    return int(row[0]), tuple(row[1:-1])


class _SqliteFeed(CheckpointFeed):
    """LangGraph's ``SqliteSaver`` tables, read by rowid."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._ready = False
        """The tables were found, and the cursors stand somewhere in them."""
        self._checkpoints = _RowidCursor("checkpoints", "'', 0, 1")
        self._writes = _RowidCursor("writes", f"task_id, idx, channel IN ({_STATUS_SQL})")
        self._both = f"{self._checkpoints.since(0)} UNION ALL {self._writes.since(1)}"

    async def _start(self) -> None:
        if await self._tables_present():
            await self._to_now()

    async def _tables_present(self) -> bool:
        row = await fetchone(
            self._db,
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
            "AND name IN ('checkpoints', 'writes')",
        )
        return row is not None and row[0] == 2

    async def _to_now(self) -> None:
        """Both cursors after the table's last row."""
        for cursor in (self._checkpoints, self._writes):
            cursor.restart(reversed(await self._db.fetchall(cursor.top())))
        self._ready = True

    async def paused(self) -> list[str]:
        if not self._ready and not await self._tables_present():
            return []
        await self._to_now()  # the cursor first, then the scan: a change between is seen twice
        rows = await self._db.fetchall(_paused_sql("writes") + " ORDER BY c.thread_id")
        return [str(row[0]) for row in rows]

    async def poll(self) -> set[str]:
        if not self._ready:
            if not await self._tables_present():
                return set()
            self._ready = True  # the cursors claim nothing yet: every row is new
        cursors = (self._checkpoints, self._writes)
        rows = await self._db.fetchall(self._both, [c.floor() for c in cursors])
        changed: set[str] = set()
        for tag, cursor in enumerate(cursors):
            mine = sorted((row[1:] for row in rows if row[0] == tag), key=lambda r: int(r[0]))
            found = cursor.advance(mine)
            if found is None:
                found = await self._recover(cursor)
            changed |= found
        return changed

    async def _recover(self, cursor: _RowidCursor) -> set[str]:
        rows = await self._db.fetchall(cursor.since(), (cursor.lowest_anchor(),))
        found = cursor.recover(rows)
        if found is None:
            found = cursor.restart(await self._db.fetchall(cursor.since(), (_LOWEST,)))
        return found


# --- PostgreSQL: a change table fed by triggers, read by transaction id ------------

_ADVISORY_LOCK = 7342
"""Serialises hitl processes installing the feed's objects (7341 is the engine's DDL)."""

_OWN_OBJECTS = (
    """CREATE TABLE IF NOT EXISTS hitl_checkpoint_changes (
    thread_id TEXT PRIMARY KEY,
    xid XID8 NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS hitl_checkpoint_changes_xid ON hitl_checkpoint_changes (xid)",
)

_FUNCTION = """CREATE OR REPLACE FUNCTION hitl_note_checkpoint_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
BEGIN
    IF to_regclass('hitl_checkpoint_changes') IS NOT NULL THEN
        INSERT INTO hitl_checkpoint_changes AS c (thread_id, xid)
        VALUES (NEW.thread_id, pg_current_xact_id())
        ON CONFLICT (thread_id) DO UPDATE SET xid = EXCLUDED.xid WHERE c.xid <> EXCLUDED.xid;
    END IF;
    RETURN NULL;
END
$$"""

_TRIGGER = """DO $$ BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgrelid = '{table}'::regclass AND tgname = 'hitl_note_change'
    ) THEN
        CREATE TRIGGER hitl_note_change AFTER INSERT OR UPDATE ON {table}
        FOR EACH ROW {when} EXECUTE FUNCTION hitl_note_checkpoint_change();
    END IF;
END $$"""

_TRIGGERS = (
    _TRIGGER.format(table="checkpoints", when=""),
    _TRIGGER.format(table="checkpoint_writes", when=f"WHEN (NEW.channel IN ({_STATUS_SQL}))"),
)

_TRIGGER_COUNT = """SELECT count(*) FROM pg_trigger WHERE tgname = 'hitl_note_change'
    AND tgrelid IN (to_regclass('checkpoints'), to_regclass('checkpoint_writes'))"""

_STATE = f"""SELECT current_schema(),
    to_regclass('checkpoints') IS NOT NULL AND to_regclass('checkpoint_writes') IS NOT NULL,
    to_regclass('hitl_checkpoint_changes') IS NOT NULL
        AND to_regprocedure('hitl_note_checkpoint_change()') IS NOT NULL,
    ({_TRIGGER_COUNT})"""

_NOW = f"SELECT NULL, {SNAPSHOT}, ({_TRIGGER_COUNT}) = 2"
"""The head row of every read: the statement's own snapshot, and whether both triggers
were in place for it (else changes since may not have been noted)."""

_CHANGES = f"""{_NOW}
UNION ALL
SELECT thread_id, NULL, NULL FROM hitl_checkpoint_changes WHERE {unseen_by("xid")}"""
"""The threads written by a transaction the previous snapshot could not see
(``engine.storage.snapshots``)."""

_EVERY_THREAD = f"""{_NOW}
UNION ALL
SELECT thread_id, NULL, NULL FROM (
    SELECT thread_id FROM checkpoints UNION SELECT thread_id FROM checkpoint_writes
) AS every_thread"""

_PAUSED = f"""{_NOW}
UNION ALL
SELECT c.thread_id, NULL, NULL FROM ({_paused_sql("checkpoint_writes")}) AS c"""


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _split(rows: Sequence[Sequence[Any]]) -> tuple[str, bool, list[str]]:
    """A read's snapshot, whether the triggers stood for it, and its thread ids."""
    head = next(row for row in rows if row[0] is None)
    return str(head[1]), bool(head[2]), [str(row[0]) for row in rows if row[0] is not None]


class _PostgresFeed(CheckpointFeed):
    """LangGraph's ``PostgresSaver`` tables, read through ``hitl_checkpoint_changes``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._snapshot: str | None = None
        """The snapshot of the last read; None until the triggers are known in place."""

    async def _start(self) -> None:
        if await self._install():
            snapshot, complete, _ = _split(await self._db.fetchall(_NOW))
            self._snapshot = snapshot if complete else None

    async def paused(self) -> list[str]:
        if self._snapshot is None and not await self._install():
            return []
        snapshot, complete, threads = _split(await self._db.fetchall(_PAUSED))
        self._snapshot = snapshot if complete else None
        return sorted(threads)

    async def poll(self) -> set[str]:
        threads: list[str] = []
        for _ in range(2):  # a second time if the triggers were found gone
            if self._snapshot is not None:
                rows = await self._db.fetchall(_CHANGES, (self._snapshot, self._snapshot))
            elif await self._install():
                rows = await self._db.fetchall(_EVERY_THREAD)
            else:
                break
            snapshot, complete, threads = _split(rows)
            self._snapshot = snapshot if complete else None
            if complete:
                break
        return set(threads)

    async def _install(self) -> bool:
        """Puts hitl's table and function in place, and the triggers once the app's
        tables are there; whether the triggers are. False, to try again at the next
        poll, when the app's writers held its tables for longer than ``LOCK_TIMEOUT``."""
        row = await fetchone(self._db, _STATE)
        assert row is not None
        schema, theirs, ours, triggers = row
        if ours and (not theirs or triggers == 2):
            return bool(theirs)
        if schema is None:
            raise DatabaseUnavailable(
                "hitl cannot keep its table beside the app's: the database connection's "
                "search_path names no schema that exists; nothing was changed",
                problem="current_schema() is NULL",
            )
        steps = [
            f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})",
            f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'",
            *_OWN_OBJECTS,
            _FUNCTION.format(schema=_identifier(str(schema))),
            *(_TRIGGERS if theirs else ()),
        ]
        try:
            await execute(self._db, [(step, ()) for step in steps])
        except DatabaseBusy:
            return False
        except DatabaseUnavailable as error:
            if "must be owner" not in error.problem and "permission denied" not in error.problem:
                raise
            raise DatabaseUnavailable(
                "hitl cannot follow the app's threads: it keeps a table of its own beside "
                "them (hitl_checkpoint_changes) and adds a trigger to the app's tables "
                f"checkpoints and checkpoint_writes, and may not ({error.problem}); nothing "
                "was changed. Run hitl once as the tables' owner, or grant its database "
                "user CREATE on the schema and TRIGGER on those two tables",
                database=error.database,
                problem=error.problem,
            ) from None
        return bool(theirs)
