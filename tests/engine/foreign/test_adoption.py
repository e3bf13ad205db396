"""Adopting an app's threads from its own checkpoint database: the console finds the
ones waiting at a question when it starts, then hears of every thread that changed
(newly paused, resumed elsewhere, finished) from a cheap poll.

The app side is real: LangGraph graphs on the stock savers (``SqliteSaver`` and
``AsyncSqliteSaver`` on a file, ``AsyncPostgresSaver`` on the test server), often in a
process of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from langgraph.checkpoint.base import WRITES_IDX_MAP

from engine.foreign.adoption import STATUS_CHANNELS, CheckpointFeed
from tests.engine.foreign.adoption_databases import (
    AppDatabase,
    app_db,
    postgres_app_db,
    postgres_database,
)
from tests.engine.foreign.adoption_graph import run

__all__ = ["app_db", "postgres_app_db", "postgres_database"]  # fixtures


@contextlib.asynccontextmanager
async def hitl_feed(app_db: AppDatabase) -> AsyncIterator[CheckpointFeed]:
    async with app_db.hitl() as db:
        yield await CheckpointFeed.open(db)


async def test_paused_lists_the_threads_an_app_left_waiting_at_a_question(
    app_db: AppDatabase,
) -> None:
    await app_db.app("ask:a", "quick:b", "nested:c", "ask:d", "ask:d=yes", "ask_twice:e")
    async with hitl_feed(app_db) as feed:
        assert await feed.paused() == ["a", "c", "e"]
        assert await feed.poll() == set()
        assert await feed.poll() == set()


async def test_poll_hears_of_each_thread_paused_resumed_or_finished_since(
    app_db: AppDatabase,
) -> None:
    await app_db.app("ask:a", "ask:b")
    async with hitl_feed(app_db) as feed:
        assert await feed.paused() == ["a", "b"]

        await app_db.app("ask:c")
        assert await feed.poll() == {"c"}

        await app_db.app("ask:a=yes")  # resumed by the app: its card closes
        assert await feed.poll() == {"a"}
        assert await feed.paused() == ["b", "c"]

        await app_db.app("quick:d")
        assert await feed.poll() == {"d"}
        assert await feed.poll() == set()


async def test_a_second_question_in_the_same_node_is_heard(app_db: AppDatabase) -> None:
    """The second interrupt makes no checkpoint: its write lands on the checkpoint the
    first question was asked from, however old."""
    await app_db.app("ask_twice:a", "ask:b")
    async with hitl_feed(app_db) as feed:
        assert await feed.paused() == ["a", "b"]
        await app_db.app("ask_twice:a=bob")
        assert await feed.poll() == {"a"}
        assert await feed.paused() == ["a", "b"]


async def test_a_thread_paused_inside_a_subgraph_is_reported_by_its_own_id(
    app_db: AppDatabase,
) -> None:
    async with hitl_feed(app_db) as feed, app_db.saver() as saver:
        await feed.paused()
        state = await run(saver, "nested", "n")
        assert state.tasks[0].interrupts  # the question was asked in the subgraph
        assert await feed.poll() == {"n"}
        assert await feed.paused() == ["n"]
        await run(saver, "nested", "n", answer="yes")
        assert await feed.poll() == {"n"}
        assert await feed.paused() == []


async def test_poll_starts_where_open_left_off(app_db: AppDatabase) -> None:
    await app_db.app("ask:a")
    async with hitl_feed(app_db) as feed:
        assert await feed.poll() == set()
        await app_db.app("ask:b")
        assert await feed.poll() == {"b"}


async def test_no_tables_yet_reads_as_no_threads_until_the_app_makes_them(
    app_db: AppDatabase,
) -> None:
    async with hitl_feed(app_db) as feed:
        assert await feed.paused() == []
        assert await feed.poll() == set()
        assert not _app_tables(app_db)  # nothing of the app's was created

        await app_db.app("ask:a", "quick:b")
        assert await feed.poll() == {"a", "b"}
        assert await feed.poll() == set()
        await app_db.app("ask:c")
        assert await feed.poll() == {"c"}
        assert await feed.paused() == ["a", "c"]


async def test_a_thread_written_after_the_latest_was_deleted_is_heard(
    app_db: AppDatabase,
) -> None:
    """Deleting the latest rows lets SQLite give their row ids to the next ones."""
    async with app_db.saver() as saver, hitl_feed(app_db) as feed:
        await run(saver, "ask", "a")
        await run(saver, "ask", "b")
        assert await feed.paused() == ["a", "b"]

        await saver.adelete_thread("b")
        await run(saver, "ask", "c")
        assert "c" in await feed.poll()

        for thread in ("a", "c"):
            await saver.adelete_thread(thread)
        await run(saver, "quick", "d")
        assert "d" in await feed.poll()
        assert await feed.poll() == set()
        await run(saver, "ask", "e")
        assert await feed.poll() == {"e"}


async def test_every_open_feed_hears_of_a_change(app_db: AppDatabase) -> None:
    async with hitl_feed(app_db) as first, hitl_feed(app_db) as second:
        await app_db.app("ask:a")
        assert await first.poll() == {"a"}
        assert await second.poll() == {"a"}


async def test_polling_while_three_apps_write_at_once_misses_no_thread(
    app_db: AppDatabase,
) -> None:
    async with app_db.saver():
        pass  # the tables, before three apps race to make them
    async with hitl_feed(app_db) as feed:
        await feed.paused()
        apps = [
            asyncio.create_task(
                app_db.app(*(f"ask:p{n}-{i}" for i in range(4)), f"ask:p{n}-0=yes", f"quick:p{n}-q")
            )
            for n in range(3)
        ]
        heard: set[str] = set()
        while not all(app.done() for app in apps):
            heard |= await feed.poll()
            await asyncio.sleep(0.05)  # the console polls every half second
        await asyncio.gather(*apps)
        heard |= await feed.poll()
        assert heard == {f"p{n}-{i}" for n in range(3) for i in [0, 1, 2, 3, "q"]}


@pytest.mark.postgres
async def test_transactions_committed_out_of_order_are_each_heard_once_committed(
    postgres_app_db: AppDatabase,
) -> None:
    """Three app connections start a thread each, in order, in explicit transactions,
    and commit in the reverse order: each poll hears exactly the one just committed."""
    import psycopg
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row

    app_db = postgres_app_db
    async with app_db.saver():
        pass  # the tables
    async with hitl_feed(app_db) as feed, contextlib.AsyncExitStack() as stack:
        assert await feed.paused() == []
        writers = []
        for thread in ("t1", "t2", "t3"):
            conn = await stack.enter_async_context(
                await psycopg.AsyncConnection.connect(
                    app_db.where, autocommit=False, prepare_threshold=0, row_factory=dict_row
                )
            )
            await run(AsyncPostgresSaver(conn), "ask", thread)  # takes its ids, commits not
            writers.append((thread, conn))
            assert await feed.poll() == set()
        for thread, conn in reversed(writers):
            await conn.commit()
            assert await feed.poll() == {thread}
        assert await feed.paused() == ["t1", "t2", "t3"]


@pytest.mark.postgres
async def test_triggers_removed_behind_hitls_back_are_put_back(
    postgres_app_db: AppDatabase,
) -> None:
    app_db = postgres_app_db
    await app_db.app("ask:a")
    async with hitl_feed(app_db) as feed:
        assert await feed.paused() == ["a"]
        app_db.admin_sql("DROP TRIGGER hitl_note_change ON checkpoint_writes")
        await app_db.app("ask:b")
        assert "b" in await feed.poll()
        await app_db.app("ask:c")
        assert await feed.poll() == {"c"}


@pytest.mark.postgres
async def test_on_postgres_hitl_adds_only_its_triggers_to_the_apps_tables(
    postgres_app_db: AppDatabase,
) -> None:
    app_db = postgres_app_db
    await app_db.app("ask:a")
    before = _app_objects(app_db)
    async with hitl_feed(app_db) as feed:
        await feed.paused()
    added = _app_objects(app_db) - before
    assert added == {
        ("checkpoints", "trigger hitl_note_change"),
        ("checkpoint_writes", "trigger hitl_note_change"),
    }


def test_the_status_channels_are_langgraphs() -> None:
    assert set(STATUS_CHANNELS) == set(WRITES_IDX_MAP)


def _app_tables(app_db: AppDatabase) -> list[tuple[object, ...]]:
    if app_db.dialect == "sqlite":
        return app_db.admin_sql(
            "SELECT name FROM sqlite_master WHERE name IN ('checkpoints', 'writes')"
        )
    return app_db.admin_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        " AND table_name NOT LIKE 'hitl%'"
    )


def _app_objects(app_db: AppDatabase) -> set[tuple[str, str]]:
    """Every index, trigger and column of the app's tables."""
    rows = app_db.admin_sql(
        """
        SELECT c.relname, 'index ' || i.relname FROM pg_index x
            JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
            WHERE c.relnamespace = current_schema()::regnamespace
        UNION ALL
        SELECT c.relname, 'trigger ' || t.tgname FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid
            WHERE c.relnamespace = current_schema()::regnamespace
        UNION ALL
        SELECT table_name, 'column ' || column_name FROM information_schema.columns
            WHERE table_schema = current_schema()
        """
    )
    return {(str(table), str(what)) for table, what in rows if not str(table).startswith("hitl")}


@pytest.mark.postgres
async def test_a_database_user_who_may_not_add_the_triggers_is_told_what_to_grant(
    postgres_app_db: AppDatabase,
) -> None:
    import uuid

    from engine.errors import DatabaseUnavailable

    await postgres_app_db.app("ask:a")
    role = f"hitl_adopt_{uuid.uuid4().hex[:8]}"
    postgres_app_db.admin_sql(
        f"CREATE ROLE {role} LOGIN; GRANT CREATE, USAGE ON SCHEMA "
        f"{_schema(postgres_app_db)} TO {role}"
    )
    try:
        as_role = postgres_app_db.as_user(role)
        with pytest.raises(DatabaseUnavailable, match="TRIGGER on those two tables"):
            async with hitl_feed(as_role):
                pass
        assert ("checkpoints", "trigger hitl_note_change") not in _app_objects(postgres_app_db)
    finally:
        postgres_app_db.admin_sql(f"DROP OWNED BY {role}; DROP ROLE {role}")


def _schema(app_db: AppDatabase) -> str:
    return str(app_db.admin_sql("SELECT current_schema()")[0][0])
