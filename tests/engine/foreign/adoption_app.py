"""An app in a process of its own, running adoption graphs on a stock LangGraph saver:
``python -m tests.engine.foreign.adoption_app (--sqlite FILE | --postgres URL) STEP...``

Each STEP is ``KIND:THREAD`` (start the thread on that graph, up to its question or
its end) or ``KIND:THREAD=ANSWER`` (answer its question). SQLite runs on the sync
``SqliteSaver``, PostgreSQL on ``AsyncPostgresSaver``; the process exits when done.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3

from tests.engine.foreign.adoption_graph import run, run_sync


def _steps(raw: list[str]) -> list[tuple[str, str, str | None]]:
    steps: list[tuple[str, str, str | None]] = []
    for step in raw:
        kind, _, rest = step.partition(":")
        thread, _, answer = rest.partition("=")
        steps.append((kind, thread, answer or None))
    return steps


def _on_sqlite(path: str, steps: list[tuple[str, str, str | None]]) -> None:
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        for kind, thread, answer in steps:
            run_sync(saver, kind, thread, answer)
    finally:
        conn.close()


async def _on_postgres(url: str, steps: list[tuple[str, str, str | None]]) -> None:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    async with AsyncPostgresSaver.from_conn_string(url) as saver:
        await saver.setup()
        for kind, thread, answer in steps:
            await run(saver, kind, thread, answer)


def main() -> None:
    parser = argparse.ArgumentParser()
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite")
    where.add_argument("--postgres")
    parser.add_argument("steps", nargs="+")
    args = parser.parse_args()
    if args.sqlite:
        _on_sqlite(args.sqlite, _steps(args.steps))
    else:
        asyncio.run(_on_postgres(args.postgres, _steps(args.steps)))


if __name__ == "__main__":
    main()
