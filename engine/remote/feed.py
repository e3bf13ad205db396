"""Which of an assistant's threads on the server changed: a cursor over ``updated_at``.

The SDK streams a run's events but has no feed of a deployment's threads, so the feed
polls ``threads.search`` (the assistant's threads, newest change first) and reads pages
only until it reaches the cursor: a poll when nothing changed is one request of one
page, whatever the number of threads. Each row read primes the graph with the thread's
state, so the adopter reads it without another request.

Rows changed at the cursor's own instant are read again at the next poll; those whose
``updated_at`` did not move are not reported twice.
"""

from __future__ import annotations

from typing import Any

from engine.remote.graph import ServerGraph

PAGE = 200
"""Threads per ``threads.search`` request."""


class ServerFeed:
    """The same interface as :class:`~engine.foreign.adoption.CheckpointFeed`."""

    def __init__(self, graph: ServerGraph) -> None:
        self._graph = graph
        self._cursor = ""
        """The newest ``updated_at`` seen (ISO text: ordered as the times are)."""
        self._at_cursor: set[str] = set()
        """Threads seen with ``updated_at`` equal to the cursor."""

    @property
    def url(self) -> str:
        return self._graph.server.url

    @classmethod
    async def open(cls, graph: ServerGraph) -> ServerFeed:
        """A feed whose cursor is at the newest change now: what changed before is
        ``paused()``'s to report."""
        feed = cls(graph)
        newest = await feed._search(0, sort_by="updated_at", sort_order="desc", limit=1)
        for row in newest:
            feed._cursor = str(row.get("updated_at", ""))
            feed._at_cursor = {str(row["thread_id"])}
        return feed

    async def _search(
        self, offset: int, *, limit: int = PAGE, **filters: Any
    ) -> list[dict[str, Any]]:
        graph = self._graph
        rows = await graph.server.call(
            graph.client.threads.search(
                metadata={"assistant_id": graph.assistant_id},
                limit=limit,
                offset=offset,
                **filters,
            ),
            "the thread list",
        )
        return list(rows)

    async def paused(self) -> list[str]:
        """Every thread of the assistant waiting at an interrupt, sorted."""
        found: list[str] = []
        offset = 0
        while True:
            rows = await self._search(offset, status="interrupted")
            for row in rows:
                self._graph.prime(row)
                found.append(str(row["thread_id"]))
            if len(rows) < PAGE:
                return sorted(found)
            offset += PAGE

    async def poll(self) -> set[str]:
        """The threads whose ``updated_at`` moved since the previous poll."""
        changed: set[str] = set()
        newest, at_newest = self._cursor, set(self._at_cursor)
        offset = 0
        while True:
            rows = await self._search(offset, sort_by="updated_at", sort_order="desc")
            for row in rows:
                thread_id, updated = str(row["thread_id"]), str(row.get("updated_at", ""))
                if updated < self._cursor or (
                    updated == self._cursor and thread_id in self._at_cursor
                ):
                    self._cursor, self._at_cursor = newest, at_newest
                    return changed
                if updated > newest:
                    newest, at_newest = updated, set()
                if updated == newest:
                    at_newest.add(thread_id)
                changed.add(thread_id)
                self._graph.prime(row)
            if len(rows) < PAGE:
                self._cursor, self._at_cursor = newest, at_newest
                return changed
            offset += PAGE
