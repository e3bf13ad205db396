"""Engine: opens a home, takes commands, publishes events.

One engine per process runs any number of threads concurrently in one asyncio loop.
Several processes may share a home: a lease in the store makes sure only one of them
runs a given thread at a time, decisions are recorded with a version check so exactly
one of two racing decisions wins, and each engine tails the shared journal so it sees
what the others did. Running threads is the :class:`~engine.runner.Runner`'s work, the
cross-process duties the :class:`~engine.watcher.Watcher`'s, and the rules a decision is
judged by live in :mod:`engine.judge`; the engine does the I/O around them.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Unpack

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from engine.audit import audit_note
from engine.decisions import Answer, Decision, Edit
from engine.errors import EditDenied, Expired, HitlError
from engine.event_codec import encode
from engine.events import (
    ApprovalDecided,
    Event,
    MessageAdded,
    NodeUpdated,
    ThreadStarted,
    ThreadStatusChanged,
)
from engine.foreign.adopter import ADOPTED, Adopter
from engine.foreign.cards import AnyName, CardJudge
from engine.foreign.graphs import ForeignGraphs
from engine.foreign.guarded import Guard
from engine.foreign.loading import LoadedGraph
from engine.gate import Gate
from engine.graph import build_graph
from engine.home import Home
from engine.judge import (
    EditedCall,
    already_decided,
    checked_answer,
    edited_args,
    expired,
    judge,
    overdue,
    refusal,
)
from engine.models import make_model, model_name
from engine.notify.courier import Courier
from engine.notify.queue import outbox_writes
from engine.once import AtMostOnce
from engine.operators import operator_name
from engine.options import EngineOptions, EngineOptionsDict, default_operator, engine_options
from engine.policies import PolicyHistory
from engine.policy import Policy, Verdict
from engine.policy_file import DEFAULT_POLICY_TOML, load_policy, parse_policy
from engine.reader import Reader
from engine.runner import Runner, compact, is_duplicate
from engine.slots import urgent
from engine.storage.approvals import Approvals
from engine.storage.audit import AuditNote
from engine.storage.database import Statement, Write, check_home_database
from engine.storage.store import Store, open_storage
from engine.storage.threads import Threads
from engine.storage.tokens import token_scopes
from engine.subscription import EventBus, Subscription
from engine.tools import CATALOGUE, ToolSpec, validate_args
from engine.tools.ledger import Ledger
from engine.views import ApprovalView, ThreadView, TokenView
from engine.watcher import Watcher


def thread_title(task: str) -> str:
    words = re.sub(r"\s+", " ", task).strip()
    return words if len(words) <= 48 else words[:47] + "…"


def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())[:5])[:40] or "task"


class Engine(Reader):
    """The headless core. Open it with ``async with Engine.open(home) as engine``."""

    def __init__(
        self,
        home: Home,
        saver: BaseCheckpointSaver[Any],
        store: Store,
        policy: Policy,
        tools: Mapping[str, ToolSpec],
        options: EngineOptions,
        graphs: ForeignGraphs | None = None,
    ) -> None:
        self.home = home
        self.policy = policy
        self.tools = tools
        self.options = options
        self.operator = operator_name(options.operator or default_operator())
        self.model = options.model if isinstance(options.model, str) else model_name(options.model)
        """The model spec threads start on unless ``start`` names another; a model
        object passed as ``model=`` is known by its name."""
        super().__init__(store)
        self._saver = saver
        self._bus = EventBus()
        self._policies = PolicyHistory(store, self._audit, policy)
        self._gate = Gate(
            home, store, policy, self._policies.digest, tools, self._publish, Ledger(store.db)
        )
        self._graphs: dict[str, CompiledStateGraph[Any, Any, Any, Any]] = {}
        self._foreign = graphs or ForeignGraphs(())
        self._runner = Runner(
            store,
            self._publish,
            lambda thread: (
                self._foreign.graph(thread.graph) if thread.graph else self._graph(thread.model)
            ),
            run_slots=options.run_slots,
            lease_seconds=options.lease_seconds,
            first_input=self._first_input_again,
            cards=CardJudge(
                policy,
                lambda: self._policies.digest,
                store.verdicts,
                self._foreign.unprotected,
                self._foreign.args_schema,
            ),
            guard=Guard(AtMostOnce(store, self._publish), policy, self._policies.digest),
            observer=options.observer,
        )
        self._adopter = Adopter(
            store, self._runner, self._foreign, self._publish, self._bus.publish
        )
        self._courier = Courier(store.outbox)
        self._watcher = Watcher(
            store,
            policy,
            self._runner,
            self._publish,
            self._bus.publish,
            follow_journal=options.follow_journal,
            warn_expiring=options.warn_expiring,
            expire_on_time=options.expire_on_time,
            apply_stranded_decisions=options.apply_stranded_decisions,
        )

    def __repr__(self) -> str:
        return f"<Engine {self.home.path} operator={self.operator!r} model={self.model!r}>"

    # --- lifecycle -----------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        home: Home | str | os.PathLike[str] | None = None,
        *,
        policy: Policy | str | os.PathLike[str] | None = None,
        create: bool = True,
        tools: Mapping[str, ToolSpec] | None = None,
        graphs: Sequence[LoadedGraph] = (),
        **options: Unpack[EngineOptionsDict],
    ) -> AsyncIterator[Engine]:
        """Opens (``create``: and makes) a home; closes everything on exit.

        ``create=False`` is for commands that read or decide: they refuse a home that
        does not exist rather than silently starting an empty one. ``policy`` is a Policy,
        a policy file, or None for ``<home>/policy.toml`` (written with the defaults
        when a home is created). ``options`` are :class:`EngineOptions`' fields. An
        unknown option (UnknownOption, a TypeError), a bad value or operator, or an
        invalid policy stops here, before anything is created or runs.

        ``graphs``: people's own graphs (``engine.foreign.loading.load_graph``) to run
        beside the built-in agent, by name; with them, the policy may name any tool,
        and threads the app paused on the same database are adopted.
        """
        settings = engine_options(options)
        operator_name(settings.operator or default_operator())
        resolved = home if isinstance(home, Home) else Home.resolve(home)
        if not create:
            resolved.require()
        catalogue = tools or CATALOGUE
        # With graphs of one's own, or only to decide (a home's threads may run graphs
        # whose tools the policy names), any tool name is taken; `hitl policy check` and
        # a run of the built-in agent still name an unknown one.
        known: Collection[str] = AnyName(catalogue) if graphs or not create else catalogue
        # Everything that can be refused is refused before anything is written.
        if (
            create
            and policy is None
            and not resolved.policy_file.is_symlink()
            and not (resolved.policy_file.exists())
        ):
            in_force = parse_policy(DEFAULT_POLICY_TOML, str(resolved.policy_file), known)
        else:
            in_force = resolve_policy(resolved, policy, known)
        check_home_database(resolved)  # a damaged or foreign database: refuse, write nothing
        if create:
            resolved.create()
            if not resolved.policy_file.exists():
                resolved.policy_file.write_text(DEFAULT_POLICY_TOML)
        async with contextlib.AsyncExitStack() as stack:
            saver, store = await stack.enter_async_context(
                open_storage(
                    resolved,
                    lease_seconds=settings.lease_seconds,
                    observer=settings.observer,
                    durability=settings.durability,
                )
            )
            foreign = ForeignGraphs(graphs)
            await foreign.bind(saver)
            engine = cls(resolved, saver, store, in_force, catalogue, settings, foreign)
            await engine._policies.record(engine.operator)
            await engine._watcher.expire_overdue(kick=False)  # whoever opens a home expires
            engine._runner.start()
            try:
                await engine._watcher.start()
                if foreign and settings.adopt_threads:
                    await engine._adopter.start()
                if settings.send_notifications:
                    engine._courier.start()
                yield engine
            finally:
                await engine._courier.close()
                await engine._adopter.close()
                await engine._watcher.close()
                await engine._runner.close()

    @property
    def policy_digest(self) -> str:
        """Identifies the policy in force here; each approval records the one it was
        requested under (``ApprovalView.policy_digest``)."""
        return self._policies.digest

    # --- events --------------------------------------------------------------

    def subscribe(self, limit: int = 10_000) -> Subscription:
        """Every event from now on, from this process and (via the journal) others."""
        return self._bus.subscribe(limit)

    async def _publish(
        self,
        *events: Event,
        also: Sequence[Statement | Write] = (),
        when: Sequence[int | None] = (),
        audit: Sequence[tuple[int | None, AuditNote]] = (),
    ) -> list[int] | None:
        """One transaction: the state change (``also``), the events' journal rows (so
        other processes see them) and every audit entry they make; then the events
        are fanned out here, each with its journal seq. A crash leaves all of it or none.

        ``when[i]``: event i is written only if write ``when[i]`` of ``also`` changed a
        row. ``audit``: entries of their own, each tied to a write of ``also`` or None.
        Returns the row counts of ``also``, or None when its guard failed (then nothing
        was written and no event is published).
        """
        writes: list[Statement | Write] = list(also)
        notes = list(audit)
        first = len(writes)
        for index, event in enumerate(events):
            kind, key, body = encode(event)
            condition = when[index] if when else None
            writes.append(
                self._store.journal.insert_statement(
                    event.thread_id, kind, key, body, event.at, when=condition
                )
            )
            if (note := audit_note(event)) is not None:
                notes.append((first + index, note))
        queued = outbox_writes(events, self.policy.notify, first)
        writes.extend(queued)
        counts = await self._store.commit(writes, notes)
        if counts is None:
            return None
        if queued:
            self._courier.wake()
        for index, event in enumerate(events):
            if seq := counts[first + index]:  # 0: a replayed event, already journaled
                self._bus.publish(replace(event, seq=seq))
        return counts[:first]

    # Queries (threads, thread, pending, approval, approvals, history, ledger, audit,
    # verify_audit) are Reader's: an engine reads exactly as a Reader does.

    # --- commands ------------------------------------------------------------

    async def start(
        self,
        task: str = "",
        *,
        model: str | None = None,
        title: str | None = None,
        graph: str | None = None,
        input: Any = None,
    ) -> ThreadView:
        """Starts a thread on ``task``; it runs in the background until it pauses or ends.

        ``graph``: one of the graphs this engine was opened with (by name) instead of
        the built-in agent; ``input``: its input as a JSON object, for a graph whose state
        has no messages (checked against its input schema before anything is written).
        """
        task = task.strip()
        if "\x00" in task:
            raise HitlError("the task contains a NUL character (U+0000); remove it")
        if graph is not None:
            spec = ""
            shown = task or compact(input, 200)
        else:
            if not task:
                raise HitlError("a task needs some words: what should the agent do?")
            spec = model or self.model
            self._graph(spec)  # an unknown model spec fails here, before anything is written
            shown = task
        first = self._first_input(graph, task, input)
        now = time.time()
        title = title or thread_title(shown)
        for attempt in range(5):
            thread = ThreadView(
                id=self._foreign.new_thread_id(graph) or f"{secrets.token_hex(4)}-{_slug(title)}",
                title=title,
                task=task or shown,
                model=spec,
                status="running",
                created_at=now,
                updated_at=now,
                graph=graph or "",
            )
            said: Event = (
                MessageAdded(thread.id, "user", task)
                if "messages" in first
                else NodeUpdated(thread.id, "input", shown)
            )
            try:
                await self._publish(  # the thread is born leased to this process
                    ThreadStarted(thread),
                    said,
                    also=[
                        Threads.insert_statement(thread),
                        self._store.leases.take_statement(thread.id),
                    ],
                )
                break
            except Exception as error:  # the same task twice may draw the same id
                if attempt == 4 or not is_duplicate(error):
                    raise
        self._runner.kick(thread.id, first, thread, leased=True)
        return thread

    def _first_input(self, graph: str | None, task: str, given: Any = None) -> Any:
        """What a new thread's run begins with: the task as its first message, or (a
        graph of one's own without messages) ``given``, checked against its schema."""
        if graph:
            return self._foreign.first_input(graph, task, given)
        return {"messages": [HumanMessage(task)]}

    def _first_input_again(self, thread: ThreadView) -> Any:
        """The input ``start`` gave a thread, from its row. A graph of one's own that
        takes JSON input keeps only a summary of it, so such a thread cannot begin again:
        HitlError says so (the thread fails, saying why)."""
        if thread.graph and not self._foreign.takes_messages(thread.graph):
            raise HitlError(
                "the process that started it stopped before its first step, and its JSON "
                "input was not kept: start it again"
            )
        return self._first_input(thread.graph, thread.task)

    @property
    def graphs(self) -> list[str]:
        """The names of the graphs threads may start on besides the built-in agent."""
        return self._foreign.names

    def check_input(self, graph: str, value: Any) -> None:
        """Raises what :meth:`start` would for ``value`` as ``graph``'s input (not JSON
        object, failing the input schema); writes nothing."""
        self._foreign.first_input(graph, "", value)

    def takes_messages(self, graph: str) -> bool:
        """Whether a new thread on ``graph`` starts from a task (else from JSON input)."""
        return self._foreign.takes_messages(graph)

    async def decide(
        self, ref: str, decision: Decision, *, operator: str | None = None
    ) -> ApprovalView:
        """Records a decision; when it is the last one needed, the thread resumes.

        Raises UnknownApproval, AlreadyDecided (someone else was first), InvalidDecision
        or InvalidArguments; in each case nothing changed.
        """
        with urgent():
            return await self._decide(ref, decision, operator or self.operator)

    async def _decide(self, ref: str, decision: Decision, who: str) -> ApprovalView:
        who = operator_name(who)
        approval, thread = await self._store.approvals.find_with_thread(ref)
        now = time.time()
        edit: EditedCall | None = None
        try:
            if isinstance(decision, Answer) and approval.allows("answer"):
                checked_answer(decision.value, self.options.max_edit_bytes, approval.args_schema)
            if isinstance(decision, Edit):
                if (error := refusal(approval, decision, now)) is not None:
                    raise error
                args = self._edited_args(approval, decision.args)
                edit = EditedCall(args, await self._policies.edit_verdict(approval, args))
            outcome = judge(approval, decision, who, now, edit)
        except Expired:
            if approval.status == "pending":  # its time ran out: reject it, then say so
                await self._watcher.expire(approval, now, kick=True)
            raise
        except EditDenied:
            if edit is not None:
                await self._audit_refused_edit(approval, edit, who)
            raise
        decided = outcome.approval
        # The last decision needed takes the thread's lease with it (when free): the run
        # it kicks here starts without a commit of its own.
        lease = [self._store.leases.take_statement(decided.thread_id)] if outcome.final else []
        # With the lease, the thread is "running" from this commit on (see Runner.resumed).
        running = self._runner.resumed(thread, decided) if outcome.final else None
        resumed = [Write(*Threads.update_statement(running), when=1)] if running else []
        written = await self._publish(
            ApprovalDecided(decided, outcome.kind, who, final=outcome.final),
            *([ThreadStatusChanged(running)] if running else []),
            also=[Approvals.decision_statement(approval, decided, now), *lease, *resumed],
            when=[None, 1] if running else [],
        )
        if written is None:  # someone was first, or time ran out meanwhile
            current = await self._store.approvals.find(approval.id)
            if current.status == "pending" and overdue(current, time.time()):
                await self._watcher.expire(current, time.time(), kick=True)
                raise expired(current)
            raise already_decided(current)
        if outcome.final:
            taken = written[1] > 0
            self._runner.kick(decided.thread_id, known=running if taken else None, leased=taken)
        return decided

    async def _audit_refused_edit(self, approval: ApprovalView, edit: EditedCall, who: str) -> None:
        body = {"args": edit.args, "original_args": approval.args, "reason": edit.verdict.reason}
        note = AuditNote("edit_refused", body, approval.thread_id, approval.id, approval.tool, who)
        await self._audit.append(note)

    async def edit_verdict(self, ref: str, args: Mapping[str, Any]) -> Verdict:
        """What the call would need if its arguments were ``args``: the stricter of its
        verdict and the edited arguments' (``denied``: such an edit is refused). Raises
        InvalidArguments when ``args`` fail the tool's schema."""
        approval = await self._store.approvals.find(ref)
        return await self._policies.edit_verdict(approval, self._edited_args(approval, args))

    def _edited_args(self, approval: ApprovalView, args: Mapping[str, Any]) -> dict[str, Any]:
        own = self.tools.get(approval.tool) if approval.format == "engine" else None
        return edited_args(own, args, self.options.max_edit_bytes, approval.args_schema)

    async def resume(self) -> list[str]:
        """Continues threads left mid-run (e.g. by a crash) and applies stranded decisions."""
        ids = [
            t.id
            for t in await self._store.threads.all("running")
            if t.model != ADOPTED  # it runs in the app that started it
        ]
        ids += [t for t in await self._store.approvals.threads_with_unapplied() if t not in ids]
        for thread_id in ids:
            self._runner.kick(thread_id)
        return ids

    async def retry(self, ref: str) -> ThreadView:
        """Runs a failed thread again from its last checkpoint."""
        thread = await self.thread(ref)
        if thread.status != "failed":
            raise HitlError(f"thread {thread.id} is {thread.status}, not failed; nothing to retry")
        self._runner.kick(thread.id)
        return thread

    async def wait(self, thread: str | None = None) -> None:
        """Returns when the thread (or every thread) has paused or ended here, and none of
        its decisions still waits for another process that holds the thread. Bound it
        with ``asyncio.timeout`` where another process may hold the thread for long."""
        await self._runner.wait(thread)

    async def lease_holder(self, thread_id: str) -> tuple[str, int] | None:
        return await self._store.leases.holder(thread_id)

    # --- tokens --------------------------------------------------------------

    async def create_token(
        self, operator: str, scopes: Sequence[str] = ("read", "decide")
    ) -> tuple[TokenView, str]:
        """A bearer token for the HTTP API, bound to ``operator`` (normalised and checked
        as every operator name is): (the token, its secret). The secret is not kept, only
        its hash: this is the one time it can be shown."""
        return await self._store.tokens.create(
            operator_name(operator), token_scopes(scopes), self.operator
        )

    async def revoke_token(self, ref: str) -> TokenView:
        """Revokes a token by its id (or a unique prefix): refused from its next request."""
        return await self._store.tokens.revoke(ref, self.operator)

    # --- policy --------------------------------------------------------------

    def explain(self, tool: str, args: Mapping[str, Any]) -> Verdict:
        """What the policy in force says of calling ``tool`` with ``args``."""
        if tool not in self.tools:
            if self._foreign:
                return self.policy.verdict(tool, dict(args))
            raise HitlError(f"unknown tool {tool!r} (known: {', '.join(sorted(self.tools))})")
        return self.policy.verdict(tool, validate_args(self.tools[tool], args))

    # --- graphs --------------------------------------------------------------

    def _graph(self, spec: str) -> CompiledStateGraph[Any, Any, Any, Any]:
        """The demo agent graph on the model ``spec`` names (or on the model object this
        engine was opened with, by its name), built once per spec."""
        if spec not in self._graphs:
            given = self.options.model
            if not isinstance(given, str) and spec == self.model:
                model = given
            else:
                model = make_model(
                    spec,
                    think_seconds=self.options.think_seconds,
                    base_url=self.options.base_url,
                    api_key=self.options.api_key,
                )
            self._graphs[spec] = build_graph(model, self._gate, self._saver)
        return self._graphs[spec]


def resolve_policy(
    home: Home, policy: Policy | str | os.PathLike[str] | None, tools: Collection[str]
) -> Policy:
    if isinstance(policy, Policy):
        return policy
    if policy is not None:
        return load_policy(Path(policy), tools)
    if home.policy_file.exists() or home.policy_file.is_symlink():  # a dangling link too
        return load_policy(home.policy_file, tools)
    return parse_policy(DEFAULT_POLICY_TOML, "built-in default policy", tools)
