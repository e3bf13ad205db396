"""LangGraph's SQLite checkpointer, run on the engine's database thread.

The stock ``AsyncSqliteSaver`` makes three or four event-loop round trips per call
(execute, fetch, close the cursor, commit) behind an asyncio lock that every thread of
every agent queues on; that, not SQLite, limits throughput. Here each checkpoint call
is a single function run on the database thread (see ``engine.storage.database``),
where it joins a batch of calls committed together: the saver's own ``commit()`` is
deferred to that batch by the connection (``BatchConnection``), so a checkpoint is
acknowledged only once it is on disk, with the others of its batch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.sqlite import SqliteSaver

from engine.storage.database import DatabaseThread


class ThreadedSqliteSaver(SqliteSaver):
    """LangGraph's own SQLite saver, its calls run on the database thread."""

    def __init__(self, thread: DatabaseThread) -> None:
        assert thread.conn is not None
        super().__init__(thread.conn)
        self._thread = thread

    async def asetup(self) -> None:
        await self._thread.run(self.setup, kind="alone")

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._thread.run(self.get_tuple, config, kind="read")

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        def collect() -> list[CheckpointTuple]:
            return list(self.list(config, filter=filter, before=before, limit=limit))

        for item in await self._thread.run(collect, kind="read"):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self._thread.run(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._thread.run(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self._thread.run(self.delete_thread, thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, Any]:
        def history() -> Mapping[str, Any]:
            return self.get_delta_channel_history(config=config, channels=channels)

        return await self._thread.run(history, kind="read")
