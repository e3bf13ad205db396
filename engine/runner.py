"""Runs threads in this process: one task per thread, in a run slot, under a lease.

The runner knows nothing of models or of which graph a thread runs: the engine hands
it the graph (or a function from a thread to its graph). It drives a thread until the
graph pauses or ends, relays the messages as events, records the approvals the graph
asks for, and feeds the graph the decisions people made, keyed by interrupt id.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeAlias

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.pregel.protocol import PregelProtocol
from langgraph.types import Command, Interrupt, StateSnapshot

from engine import lanes, slots
from engine.errors import HitlError
from engine.events import (
    ApprovalDecided,
    ApprovalRequested,
    ApprovalWithdrawn,
    Event,
    MessageAdded,
    NodeUpdated,
    ThreadFailed,
    ThreadFinished,
    ThreadStatusChanged,
)
from engine.foreign.cards import AUTO_OPERATOR, CardJudge, automatic, cards_of, resume_of
from engine.foreign.guarded import Guard, use_guard
from engine.gate import call_digest
from engine.judge import decided
from engine.observe import Observer
from engine.remote.server import ResumedElsewhere
from engine.slots import DECISION, RunSlots, current_priority, urgent
from engine.storage.approvals import Approvals
from engine.storage.database import Statement, Write
from engine.storage.store import Store
from engine.storage.threads import Threads
from engine.storage.verdicts import FixedVerdict, Verdicts
from engine.views import ApprovalStatus, ApprovalView, ThreadStatus, ThreadView

Graph: TypeAlias = PregelProtocol[Any, Any, Any, Any]
"""Anything LangGraph can stream and checkpoint: a compiled graph, a remote one."""


class Publish(Protocol):
    """The engine's publisher: events and ``also=`` writes in one transaction (event i
    only if write ``when[i]`` changed a row); returns the writes' row counts, or None
    when a guard failed."""

    async def __call__(
        self,
        *events: Event,
        also: Sequence[Statement | Write] = (),
        when: Sequence[int | None] = (),
    ) -> list[int] | None: ...


class Runner:
    """Owns this process's runner tasks, the run slots they share and the leases they
    hold. ``graph`` is the graph every thread runs, or a function giving a thread's;
    ``cards`` judges the cards of interrupts not the engine's own (default: under the
    built-in policy); ``guard`` makes ``guarded`` tools run at most once; ``observer`` is
    told of each run and each slot it takes."""

    def __init__(
        self,
        store: Store,
        publish: Publish,
        graph: Graph | Callable[[ThreadView], Graph],
        *,
        run_slots: int,
        lease_seconds: float,
        cards: CardJudge | None = None,
        guard: Guard | None = None,
        observer: Observer | None = None,
        first_input: Callable[[ThreadView], Any] | None = None,
    ) -> None:
        self._store = store
        self._first_input = first_input
        """A thread's first input again, from its row (what ``start`` gave a run that a
        crash cut off before its first checkpoint); raises HitlError when it cannot."""
        self._cards = cards or CardJudge.default(store.verdicts)
        self._guard = guard
        self._publish = publish
        self._graph_of: Callable[[ThreadView], Graph] = (
            (lambda _: graph) if isinstance(graph, PregelProtocol) else graph
        )
        self._lease_seconds = lease_seconds
        self._slots = RunSlots(run_slots, observer)
        self._observer = observer
        self._runners: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._decided_again: set[str] = set()
        """Of ``_again``, those kicked by a decision: the run goes on as a decision's."""
        self._renewal: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Starts renewing the leases of the threads this runner drives, and gives the
        event loop a lane for decisions' work (``engine.lanes``)."""
        lanes.install(asyncio.get_running_loop())
        self._renewal = asyncio.create_task(self._keep_leases())

    async def close(self) -> None:
        """Stops every run (each resumes from its checkpoint elsewhere) and lets go of
        its thread at once, rather than when the lease runs out."""
        tasks = [*([self._renewal] if self._renewal else []), *self._runners.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for thread_id in list(self._runners):
            with contextlib.suppress(Exception):
                await self._store.leases.release(thread_id)

    def running(self, thread_id: str) -> bool:
        return thread_id in self._runners

    def kick(
        self,
        thread_id: str,
        first: Any = None,
        known: ThreadView | None = None,
        *,
        leased: bool = False,
    ) -> None:
        """Makes sure a runner will look at the thread (again) soon. ``first``: the
        graph's input for a new thread; ``known``: its row, to save reading it;
        ``leased``: this process took its lease already (with a new thread's row)."""
        runner = self._runners.get(thread_id)
        if runner is not None and not runner.done():
            self._again.add(thread_id)
            if current_priority() == DECISION:
                self._decided_again.add(thread_id)
            return
        task = asyncio.create_task(
            self._drive(thread_id, first, known, leased), name=f"thread {thread_id}"
        )
        self._runners[thread_id] = task
        task.add_done_callback(lambda _: self._forget(thread_id, task))

    async def wait(self, thread: str | None = None) -> None:
        """Returns when the thread (or every thread) has paused or ended here, and none of
        its decisions still waits for another process that holds the thread."""
        while True:
            ids = [thread] if thread else list(self._runners)
            running = [self._runners[i] for i in ids if i in self._runners]
            if running:
                await asyncio.gather(*running, return_exceptions=True)
                continue
            if thread and await self._store.approvals.unapplied(thread):
                if not self._runs_here(await self._store.threads.find(thread)):
                    return  # its graph was not given here: a process that has it applies it
                await asyncio.sleep(0.05)
                self.kick(thread)
                continue
            return

    def _runs_here(self, thread: ThreadView) -> bool:
        """Whether this process has the thread's graph."""
        try:
            self._graph_of(thread)
        except HitlError:
            return False
        return True

    def resumed(self, thread: ThreadView | None, decided: ApprovalView) -> ThreadView | None:
        """The thread as its run here will make it, once ``decided`` (the last decision
        it waited for) is recorded: "running", one card fewer pending. The decision's
        commit writes that with it (if it takes the lease), and the run it kicks starts
        from it, rather than reading the row and writing the status itself (a read and a
        commit per approval). None when the status stays: its graph is not here, or the
        thread is not paused."""
        if thread is None or thread.status not in _PAUSED or not self._runs_here(thread):
            return None
        pending = max(thread.pending - (decided.status != "pending"), 0)
        changed, _ = _with_status(replace(thread, pending=pending), "running")
        return changed

    async def _keep_leases(self) -> None:
        """Renews the lease of every thread this process runs, as long as it is open:
        a model turn longer than the lease must not let another process take the thread."""
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            with contextlib.suppress(Exception):  # retried at the next beat
                await self._store.leases.renew(list(self._runners))

    def _forget(self, thread_id: str, task: asyncio.Task[None]) -> None:
        """A run ended. One that was kicked again in its last moments (a decision that
        arrived while it let go of the thread) runs again now, not at the watcher's next
        beat: the decision was acknowledged, its call must not wait a quarter second."""
        if self._runners.get(thread_id) is not task:
            return
        del self._runners[thread_id]
        decided = thread_id in self._decided_again
        self._decided_again.discard(thread_id)
        if thread_id in self._again and not task.cancelled():
            self._again.discard(thread_id)
            if not decided:
                self.kick(thread_id)
                return
            with urgent():  # the run a decision kicked is a decision's, as in decide()
                self.kick(thread_id)

    async def _drive(
        self, thread_id: str, first: Any, known: ThreadView | None, leased: bool
    ) -> None:
        """Runs the thread until it pauses or ends, as long as decisions keep arriving.

        The whole run holds a run slot, taken at the priority of whoever kicked it: a
        run that applies a person's decision goes before the background.
        """
        if self._observer is not None:
            self._observer.run_started(thread_id)
        async with self._slots.hold(current_priority()):
            if self._guard is None:
                await self._drive_held(thread_id, first, known, leased)
                return
            with use_guard(self._guard):
                await self._drive_held(thread_id, first, known, leased)

    async def _drive_held(
        self, thread_id: str, first: Any, known: ThreadView | None, leased: bool
    ) -> None:
        if not leased and not await self._store.leases.acquire(thread_id):
            return  # another process runs it; our watcher retries stranded decisions
        released = False
        try:
            thread = known or await self._store.threads.find(thread_id)
            try:
                graph = self._graph_of(thread)
            except HitlError:  # a graph this process was not given: one that has it runs it
                return
            config: Any = {"configurable": {"thread_id": thread_id}, "recursion_limit": 100}
            pending_input = first
            # Kicked by the decision that recorded it as running (``resumed``).
            woken = first is None and known is not None and known.status == "running"
            while True:
                self._again.discard(thread_id)
                if thread_id in self._decided_again:
                    self._decided_again.discard(thread_id)
                    slots.promote()
                applied: list[str] = []
                if pending_input is None:
                    pending_input, applied = await self._resume_input(graph, config)
                if pending_input is None and woken:  # nothing to send after all
                    released = await self._still_paused(thread_id, graph, config)
                    break
                woken = False
                if pending_input is None and thread.status not in ("running", "failed"):
                    break
                if pending_input is None and await self._never_began(graph, config):
                    try:  # the process that started it died before its first checkpoint
                        pending_input = self._begin_again(thread)
                    except HitlError as error:
                        await self._fail(thread, error)
                        break
                thread = await self._set_status(thread, "running")
                try:
                    # A graph of one's own is checkpointed before each step runs: its
                    # tools' at-most-once records are keyed by the call ids the step saved.
                    # The built-in agent only where the run stops (pause, end, failure):
                    # its gate commits a call's intent and result in the engine's tables,
                    # so a crash re-runs the steps since the pause and the gate reads the
                    # recorded result back; each step's checkpoint was a commit on disk.
                    extra: dict[str, Any] = {"durability": "sync" if thread.graph else "exit"}
                    urgent = current_priority() == DECISION
                    async for chunk in graph.astream(
                        pending_input, config, stream_mode="updates", **extra
                    ):
                        await self._relay(thread_id, chunk, messages_of(graph))
                        if urgent:  # the resumed step ran: the decision is applied
                            slots.applied()
                            urgent = False
                except asyncio.CancelledError:
                    raise
                except ResumedElsewhere:  # a server refused it: nothing was sent
                    await self._close_unsent(applied)
                    thread = await self._settle(thread, graph, config)
                    break
                except (Exception, SystemExit) as error:  # a graph's failure fails its thread
                    await self._fail(thread, error)
                    break
                sent = Approvals.applied_statements(applied, time.time())
                before = thread.status
                try:
                    thread = await self._settle(
                        thread,
                        graph,
                        config,
                        sent,
                        [self._store.leases.release_statement(thread_id)],
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # a pause the engine cannot record: say so
                    await self._fail(thread, error, sent)
                    break
                pending_input = None
                if thread.status == "done":
                    released = before != "done"  # with ThreadFinished
                    break
                if thread.status in _PAUSED and not thread.graph:
                    # The pause's commit let go of the thread: a decision that came in
                    # meanwhile is run by a new run, which takes the thread again.
                    released = True
                    if thread_id in self._again or await self._store.approvals.unapplied(
                        thread_id
                    ):
                        self._again.add(thread_id)  # _forget kicks it again at once
                    break
                if thread_id not in self._again and not await self._store.approvals.unapplied(
                    thread_id
                ):
                    break
        finally:
            if not released:
                with contextlib.suppress(Exception):
                    await self._store.leases.release(thread_id)

    async def _still_paused(self, thread_id: str, graph: Graph, config: Any) -> bool:
        """A decision recorded the thread as running, but its run found nothing to send
        (the decisions went elsewhere, or were refused and the thread failed): its status
        is made what its graph says again, unless it failed. Whether the lease went with
        it."""
        thread = await self._store.threads.find(thread_id)
        if thread.status != "running":
            return False
        release = [self._store.leases.release_statement(thread_id)]
        settled = await self._settle(thread, graph, config, (), release)
        return settled.status == "done" or (settled.status in _PAUSED and not settled.graph)

    @staticmethod
    async def _never_began(graph: Graph, config: Any) -> bool:
        """Whether the graph has no checkpoint of the thread: nothing to resume."""
        state = await graph.aget_state(config)
        return not state.values and not state.next and state.created_at is None

    def _begin_again(self, thread: ThreadView) -> Any:
        if self._first_input is None:
            raise HitlError("its first input was never saved: start it again")
        return self._first_input(thread)

    async def _resume_input(
        self, graph: Graph, config: Any
    ) -> tuple[Command[Any] | None, list[str]]:
        """A resume keyed by interrupt id for every interrupt whose cards are all decided
        and which the graph has not seen, each in its own wire format."""
        thread_id = config["configurable"]["thread_id"]
        decided = await self._store.approvals.unapplied(thread_id)
        if not decided:
            return None, []
        state = await graph.aget_state(config)
        resume = resume_of(state.interrupts, decided)
        if resume.gone and getattr(graph, "remote", False):  # only elsewhere: never sent
            await self._close_unsent([a.id for a in resume.gone])
        elif resume.gone:  # consumed by a run that ended before it could say so, or elsewhere
            await self._store.approvals.mark_applied([a.id for a in resume.gone])
        for approvals, why in resume.refused:  # e.g. expired, but the format cannot refuse
            await self._store.approvals.mark_applied([a.id for a in approvals])
            thread = await self._store.threads.find(thread_id)
            await self._fail(thread, HitlError(f"nothing was sent: {why}"))
        if not resume.answers:
            return None, []
        return Command(resume=resume.answers), resume.applied

    async def _relay(self, thread_id: str, chunk: Mapping[str, Any], messages: bool) -> None:
        """Messages as they come; for a graph whose state has none, each node's update."""
        events: list[Event] = []
        for node, update in chunk.items():
            if node.startswith("__") or not isinstance(update, Mapping):
                continue
            if not messages:
                events.append(NodeUpdated(thread_id, node, compact(update)))
                continue
            for message in update.get("messages", ()):
                events.append(_message_event(thread_id, message))
        if events:
            await self._publish(*events)

    async def _settle(
        self,
        thread: ThreadView,
        graph: Graph,
        config: Any,
        also: Sequence[Statement | Write] = (),
        when_done: Sequence[Statement | Write] = (),
        state: StateSnapshot | None = None,
    ) -> ThreadView:
        """Reads where the run stopped (unless ``state`` was just read), then in one
        transaction records the new approvals, sets the thread's status and writes
        ``also`` (the decisions the run was fed, now applied), and ``when_done`` if the
        thread ended (its lease let go) or, for the built-in agent, paused: a pause is a
        commit of its own anyway, and letting go there saves one per approval. (A graph
        of one's own keeps its lease over a pause: the policy may decide its new cards at
        once, and the run goes on.)"""
        if state is None:
            state = await graph.aget_state(config)
        now = time.time()
        settled, said = thread, None
        if state.interrupts:
            unknown = any(_kind(i.value) == "outcome_unknown" for i in state.interrupts)
            paused = replace(thread, pending=len(state.interrupts))
            settled, said = _with_status(paused, "unknown" if unknown else "waiting")
            if not thread.graph:
                also = [*also, *when_done]
        elif state.next and (failure := _failure(state)) is not None:
            if thread.status != "failed" or thread.error != failure:  # said once
                settled = replace(thread, status="failed", error=failure, updated_at=now, pending=0)
                said = ThreadFailed(settled)
        elif state.next:
            settled, said = _with_status(thread, "running")
        elif thread.status != "done":  # else read again (an adopted thread): said once
            answer = ""
            values = state.values if isinstance(state.values, Mapping) else {}
            messages = values.get("messages", [])
            if messages and isinstance(messages[-1], AIMessage):
                answer = _text(messages[-1])
            elif not messages_of(graph):
                answer = compact(values)
            settled = replace(
                thread, status="done", answer=answer, error=None, updated_at=now, pending=0
            )
            said = ThreadFinished(settled)
            also = [*also, *when_done]
        tail = [said] if said is not None else []
        writes = [*also, *([Threads.update_statement(settled)] if tail else [])]
        for attempt in range(3):
            try:
                await self._record_approvals(thread, state.interrupts, now, tail, writes)
                break
            except Exception as error:  # another process took the same short id first
                if attempt == 2 or not is_duplicate(error):
                    raise
        await self._review_pending(settled, state.interrupts)
        return settled

    async def _record_approvals(
        self,
        thread: ThreadView,
        interrupts: Sequence[Interrupt],
        now: float,
        events: Sequence[Event] = (),
        writes: Sequence[Statement | Write] = (),
    ) -> None:
        """Records the approvals of new interrupts (a card per action), each with its
        verdict and with the audit entry that says it was requested, in one transaction
        with ``events`` and ``writes`` (the thread's new status)."""
        thread_id = thread.id
        asked = cards_of(interrupts)
        ids = await self._store.approvals.short_ids([a.key for a in asked])
        found: list[tuple[ApprovalView, float]] = []
        for item in asked:
            if (approval_id := ids.get(item.key)) is None:
                continue  # recorded by an earlier run
            found.append(
                await self._cards.approval(
                    thread_id, item, approval_id, now, trusted=not thread.graph
                )
            )
        verdicts = [
            Verdicts.insert_statement(
                a.thread_id,
                a.tool_call_id,
                call_digest(a.tool, a.args),
                a.tool,
                FixedVerdict(
                    a.tier,
                    a.required,
                    a.distinct_operators,
                    a.expires_at - requested if a.expires_at else None,
                    a.reason,
                    a.rules,
                    a.policy_digest,
                    requested,
                ),
            )
            for a, requested in found
            if a.kind == "tool_approval" and a.format == "engine"
        ]
        if not (found or events or writes):
            return
        await self._publish(
            *(ApprovalRequested(a) for a, _ in found),
            *events,
            also=[*(Approvals.insert_statement(a) for a, _ in found), *verdicts, *writes],
            when=[*range(len(found)), *(None for _ in events)],
        )

    async def _review_pending(self, thread: ThreadView, interrupts: Sequence[Interrupt]) -> None:
        """A graph of one's own: its pending cards whose interrupt is gone are closed
        (someone resumed the thread elsewhere; nothing is sent), and the policy decides
        alone what it may (low approved, deny rejected, as ``policy:auto``). The built-in
        agent's gate does both itself, so its pauses skip this read."""
        if not thread.graph:
            return
        open_ = {i.id for i in interrupts}
        for approval in await self._store.approvals.pending(thread.id):
            now = time.time()
            if approval.interrupt not in open_:
                closed = replace(approval, status="withdrawn", decided_at=now)
                await self._publish(
                    ApprovalWithdrawn(closed, "resumed elsewhere"),
                    also=[Approvals.withdraw_statement(approval, now)],
                )
            elif (wire := automatic(approval)) is not None:
                status = _AUTO_STATUS[wire["type"]]
                decided_ = decided(approval, status, wire, AUTO_OPERATOR, now)
                await self._publish(
                    ApprovalDecided(decided_, wire["type"], AUTO_OPERATOR, final=True),
                    also=[Approvals.decision_statement(approval, decided_, now)],
                )
                self._again.add(thread.id)

    async def _close_unsent(self, approval_ids: Sequence[str]) -> None:
        """Decided cards whose decision the thread will never take (it went on
        elsewhere): closed as "resumed elsewhere", each in its own transaction."""
        now = time.time()
        for approval_id in approval_ids:
            approval = await self._store.approvals.find(approval_id)
            closed = replace(approval, status="withdrawn")
            await self._publish(
                ApprovalWithdrawn(closed, "resumed elsewhere"),
                also=[Approvals.unsent_statement(approval, now)],
            )

    async def refresh(
        self,
        thread_id: str,
        known: ThreadView,
        graph: Graph,
        state: StateSnapshot | None = None,
    ) -> ThreadView:
        """Reads a thread another program runs on the shared checkpointer, as it is now
        (``state``: as the caller just read it; an Agent Server's thread is not asked
        twice): records new cards, closes those it answered itself, and sets the status."""
        config: Any = {"configurable": {"thread_id": thread_id}}
        return await self._settle(known, graph, config, state=state)

    async def _fail(
        self, thread: ThreadView, error: BaseException, also: Sequence[Statement | Write] = ()
    ) -> None:
        failed = replace(thread, status="failed", error=error_line(error), updated_at=time.time())
        await self._publish(ThreadFailed(failed), also=[*also, Threads.update_statement(failed)])

    async def _set_status(self, thread: ThreadView, status: ThreadStatus) -> ThreadView:
        """Writes the new status and its event in one transaction."""
        changed, said = _with_status(thread, status)
        if said is not None:
            await self._publish(said, also=[Threads.update_statement(changed)])
        return changed


def _with_status(thread: ThreadView, status: ThreadStatus) -> tuple[ThreadView, Event | None]:
    """The thread with ``status``, and the event saying so (None: it had it already)."""
    if thread.status == status:
        return thread, None
    changed = replace(thread, status=status, error=None, updated_at=time.time())
    return changed, ThreadStatusChanged(changed)


_PAUSED: tuple[ThreadStatus, ...] = ("waiting", "unknown")
"""What ``_settle`` makes of a run stopped at interrupts."""

_AUTO_STATUS: dict[str, ApprovalStatus] = {
    "approve": "approved",
    "reject": "rejected",
    "respond": "responded",
}


def _failure(state: StateSnapshot) -> str | None:
    """The error of a step that failed and stopped the thread there (an app's own run,
    a run on an Agent Server, read back), as a line; None while it is just running."""
    for task in state.tasks:
        if task.error is not None:
            return error_line(task.error)
    return None


def messages_of(graph: Graph) -> bool:
    """Whether the graph's state keeps messages (else the pane shows node updates)."""
    channels = getattr(graph, "channels", None)
    return not isinstance(channels, Mapping) or "messages" in channels


def compact(value: Any, width: int = 400) -> str:
    """A node's update or a state, as one line of JSON a person can read."""
    import json

    text = json.dumps(value, ensure_ascii=False, default=_shown, separators=(", ", ": "))
    return text if len(text) <= width else text[: width - 1] + "…"


def _shown(value: Any) -> Any:
    if isinstance(value, BaseMessage):
        return _text(value)
    return str(value)


def is_duplicate(error: BaseException) -> bool:
    """A unique-key violation, from SQLite or PostgreSQL."""
    return "UNIQUE constraint failed" in str(error) or getattr(error, "sqlstate", "") == "23505"


def error_line(error: BaseException) -> str:
    """An error as one line a person can read in a listing, with its kind."""
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return " ".join(
        part.get("text", "") if isinstance(part, dict) else str(part) for part in content
    )


def _message_event(thread_id: str, message: BaseMessage) -> MessageAdded:
    if isinstance(message, AIMessage):
        calls = tuple(
            {"id": c["id"], "name": c["name"], "args": c["args"]} for c in message.tool_calls
        )
        return MessageAdded(thread_id, "assistant", _text(message), calls, message_id=message.id)
    if isinstance(message, ToolMessage):
        return MessageAdded(
            thread_id,
            "tool",
            _text(message),
            tool_call_id=message.tool_call_id,
            name=message.name,
            message_id=f"result-of-{message.tool_call_id}",
        )
    return MessageAdded(thread_id, "user", _text(message), message_id=message.id)


def _kind(value: object) -> str:
    return str(value.get("type", "")) if isinstance(value, dict) else ""
