"""Takes in the threads an app paused on the checkpoint database the engine shares.

The app runs its graph with its own checkpointer and thread ids; when one of its
threads pauses at an interrupt, it shows up here within a poll (the
:class:`~engine.foreign.adoption.CheckpointFeed` says which threads changed, cheaply),
gets a thread row and its cards, and a decision resumes it in this process. A thread
the app moved on meanwhile has its cards closed ("resumed elsewhere").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from langchain_core.messages import HumanMessage
from langgraph.types import StateSnapshot

from engine.events import Event, SourceReachable, SourceUnreachable, ThreadStarted
from engine.foreign.adoption import CheckpointFeed
from engine.foreign.graphs import ForeignGraphs
from engine.remote.server import ServerRefused, ServerUnreachable
from engine.runner import Publish, Runner, compact
from engine.storage.store import Store
from engine.storage.threads import Threads
from engine.views import ThreadView

ADOPTED = "adopted"
"""The model an adopted thread is listed with: it runs in the app that started it."""
POLL_SECONDS = 0.5
AT_ONCE = 16
"""Threads taken in at the same time (half the database's ``BATCH_LIMIT``: each has
a read in flight while another commits)."""
RETRY_SECONDS = (1.0, 2.0, 5.0)
"""How long to wait before asking a server that did not answer again (then the last)."""

log = logging.getLogger(__name__)


class Feed(Protocol):
    """Names the threads that changed: ``CheckpointFeed`` over a shared checkpointer,
    or a graph's own (an Agent Server's, ``engine.remote.feed``)."""

    async def paused(self) -> list[str]: ...

    async def poll(self) -> set[str]: ...


class Adopter:
    def __init__(
        self,
        store: Store,
        runner: Runner,
        graphs: ForeignGraphs,
        publish: Publish,
        announce: Callable[[Event], None] = lambda _event: None,
    ) -> None:
        self._store = store
        self._announce = announce
        """Tells this process's subscribers what is not journaled (a server gone)."""
        self._runner = runner
        self._graphs = graphs
        self._publish = publish
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Takes in the threads paused now, then follows the database."""
        feed = await self._feed()
        mine = set(self._graphs.names)
        waiting = [
            t.id
            for t in await self._store.threads.all("waiting")
            if t.model == ADOPTED and t.graph in mine
        ]
        # Paused now, and those this home saw paused: the app may have moved them on
        # while no engine was open.
        await self.look(dict.fromkeys([*await feed.paused(), *waiting]))
        self._task = asyncio.create_task(self._follow(feed), name="adopter")

    async def _feed(self) -> Feed:
        """The default graph's own feed where it has one (its threads live elsewhere),
        else the shared checkpointer's."""
        default = self._graphs.default
        graph = self._graphs.graph(default) if default is not None else None
        open_feed = getattr(graph, "open_feed", None)
        if open_feed is not None:
            feed: Feed = await open_feed()
            return feed
        return await CheckpointFeed.open(self._store.db)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self, feed: Feed) -> None:
        failures = 0
        while True:
            await asyncio.sleep(_retry(failures) if failures else POLL_SECONDS)
            try:
                await self.look(await feed.poll())
            except asyncio.CancelledError:
                raise
            except ServerUnreachable as error:  # said at each try, with when the next is
                failures += 1
                self._announce(SourceUnreachable(error.url, _retry(failures)))
                continue
            except ServerRefused as error:  # a key it stopped taking: said, then retried
                failures += 1
                url = str(getattr(feed, "url", ""))
                self._announce(SourceUnreachable(url, _retry(failures), str(error)))
                continue
            except Exception:  # a busy database: the next poll tries again
                log.warning("adopting threads failed; retrying", exc_info=True)
                continue
            if failures:
                failures = 0
                self._announce(SourceReachable(str(getattr(feed, "url", ""))))

    async def look(self, thread_ids: Iterable[str]) -> None:
        """Reads each changed thread as it is now (unless this process is running it),
        ``AT_ONCE`` at a time: their commits share the database's group commit (one
        fsync for many threads), and a server answers several reads at once. Each
        thread's row and its cards are still committed whole, so a crash part way
        leaves threads taken in or not, and the next look finishes the rest."""
        pending = iter(thread_ids)

        async def take_in() -> None:
            for thread_id in pending:  # shared: each thread is taken by one taker
                await self._look_at(thread_id)

        takers = [asyncio.create_task(take_in()) for _ in range(AT_ONCE)]
        try:
            await asyncio.gather(*takers)
        finally:  # the first failure (a server gone) stops the others; it is raised
            for taker in takers:
                taker.cancel()
            await asyncio.gather(*takers, return_exceptions=True)

    async def _look_at(self, thread_id: str) -> None:
        if self._runner.running(thread_id):
            return
        state: StateSnapshot | None = None
        known = await self._store.threads.get(thread_id)
        if known is None:
            adopted = await self._adopt(thread_id)
            if adopted is None:
                return
            known, state = adopted
        elif known.model != ADOPTED or known.graph not in self._graphs.names:
            return  # one hitl started (its runs settle it), or of another graph
        await self._runner.refresh(thread_id, known, self._graphs.graph(known.graph), state)
        if await self._store.approvals.unapplied(thread_id):
            self._runner.kick(thread_id)

    async def _adopt(self, thread_id: str) -> tuple[ThreadView, StateSnapshot] | None:
        """A row for a thread the app paused, and its state as read; None for one that
        is not paused."""
        name = self._graphs.default
        if name is None:
            return None
        graph = self._graphs.graph(name)
        state = await graph.aget_state({"configurable": {"thread_id": thread_id}})
        if not state.interrupts:
            return None
        task = _task_of(state.values) or thread_id
        now = time.time()
        thread = ThreadView(
            id=thread_id,
            title=task if len(task) <= 48 else task[:47] + "…",
            task=task,
            model=ADOPTED,
            status="waiting",
            created_at=now,
            updated_at=now,
            graph=name,
        )
        await self._publish(ThreadStarted(thread), also=[Threads.adopt_statement(thread)], when=[0])
        return thread, state


def _retry(failures: int) -> float:
    return RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1]


def _task_of(values: Any) -> str:
    """What the thread was asked: its first human message, else its input in short."""
    if not isinstance(values, Mapping):
        return ""
    for message in values.get("messages", ()):
        if isinstance(message, HumanMessage):
            return " ".join(str(message.content).split())
    return compact(values, 200) if values else ""
