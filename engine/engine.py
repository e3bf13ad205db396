"""Engine: owns the checkpointer, runs threads, applies decisions, publishes events.

One engine per process runs any number of threads concurrently in one asyncio loop.
Several processes may share a home: a lease in the store makes sure only one of them
runs a given thread at a time, decisions are recorded with a version check so exactly
one of two racing decisions wins, and each engine tails the shared journal so it sees
what the others did.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import getpass
import json
import math
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, Interrupt

from engine.audit import audit_note
from engine.decisions import Decision, Edit, Reject, Respond
from engine.errors import (
    AlreadyDecided,
    EditDenied,
    Expired,
    FourEyes,
    HitlError,
    InvalidArguments,
    InvalidDecision,
)
from engine.events import (
    ApprovalDecided,
    ApprovalExpiring,
    ApprovalRequested,
    Event,
    EventBus,
    MessageAdded,
    Subscription,
    ThreadFailed,
    ThreadFinished,
    ThreadStarted,
    ThreadStatusChanged,
    event_thread_id,
    from_record,
    to_record,
)
from engine.gate import REQUEST, Gate, call_digest
from engine.graph import build_graph
from engine.home import Home
from engine.limits import MAX_JSON_DEPTH, nested_deeper
from engine.models import make_model
from engine.operators import operator_name, same_operator
from engine.policy import Policy, Tier, TierSettings, Verdict
from engine.policy_file import DEFAULT_POLICY_TOML, load_policy, parse_policy
from engine.reader import Reader
from engine.slots import RunSlots, current_priority, urgent
from engine.storage.approvals import Approvals
from engine.storage.audit import AuditNote
from engine.storage.database import Statement, Write, check_home_database
from engine.storage.leases import LEASE_SECONDS
from engine.storage.policies import Policies
from engine.storage.store import Store, open_storage
from engine.storage.threads import Threads
from engine.storage.verdicts import FixedVerdict, Verdicts
from engine.tools import CATALOGUE, ToolSpec, validate_args
from engine.tools.ledger import Ledger
from engine.views import (
    ApprovalStatus,
    ApprovalView,
    ThreadStatus,
    ThreadView,
)

EXPIRY_OPERATOR = "policy:expiry"
WATCH_SECONDS = 0.25
"""How often an engine looks at the shared journal for other processes' changes."""


@dataclass(frozen=True, slots=True)
class EngineOptions:
    model: str = "scripted"
    think_seconds: float = 0.0
    base_url: str | None = None
    api_key: str | None = None
    operator: str | None = None
    watch: bool = True
    """Tail other processes' journal, and warn and expire on time while open. Nothing
    depends on it for correctness: decisions check expiry, runners renew their leases."""
    run_slots: int = 4
    """Threads stepping at once (waits on models and tools do not count)."""
    lease_seconds: float = LEASE_SECONDS
    max_edit_bytes: int = field(default_factory=lambda: _max_edit_bytes())
    """The largest edited arguments a person may send, as JSON (``$HITL_MAX_EDIT_KB``,
    default 256 KB): a 10 MB edit would cost seconds, memory and database space for
    every copy the checkpoints and the journal keep of it."""
    """How long a thread stays taken by a runner that stopped renewing (a dead process
    elsewhere); runners renew every third of it."""


def default_operator() -> str:
    """``$HITL_OPERATOR``, else the login name."""
    with contextlib.suppress(Exception):
        return os.environ.get("HITL_OPERATOR") or getpass.getuser()
    return "operator"


def thread_title(task: str) -> str:
    words = re.sub(r"\s+", " ", task).strip()
    return words if len(words) <= 48 else words[:47] + "…"


def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())[:5])[:40] or "task"


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
    ) -> None:
        self.home = home
        self.policy = policy
        self.tools = tools
        self.options = options
        self.operator = operator_name(options.operator or default_operator())
        super().__init__(store)
        self._saver = saver
        self._bus = EventBus()
        self._policy_digest = policy.digest
        self._policies: dict[str, Policy] = {self._policy_digest: policy}
        self._gate = Gate(
            home, store, policy, self._policy_digest, tools, self._publish, Ledger(store.db)
        )
        self._graphs: dict[str, CompiledStateGraph[Any, Any, Any, Any]] = {}
        self._runners: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._journal_seq = 0
        self._background: list[asyncio.Task[None]] = []
        self._slots = RunSlots(options.run_slots)

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
        **options: Any,
    ) -> AsyncIterator[Engine]:
        """Opens (``create``: and makes) a home; closes everything on exit.

        ``create=False`` is for commands that read or decide: they refuse a home that
        does not exist rather than silently starting an empty one. ``policy`` is a Policy,
        a policy file, or None for ``<home>/policy.toml`` (written with the defaults
        when a home is created). An invalid policy stops here, before anything runs.
        """
        _freeze_import_garbage()
        resolved = home if isinstance(home, Home) else Home.resolve(home)
        if not create:
            resolved.require()
        catalogue = tools or CATALOGUE
        # Everything that can be refused is refused before anything is written.
        if (
            create
            and policy is None
            and not resolved.policy_file.is_symlink()
            and not (resolved.policy_file.exists())
        ):
            in_force = parse_policy(DEFAULT_POLICY_TOML, str(resolved.policy_file), catalogue)
        else:
            in_force = resolve_policy(resolved, policy, catalogue)
        settings = EngineOptions(**options)
        operator_name(settings.operator or default_operator())
        check_home_database(resolved)  # a damaged or foreign database: refuse, write nothing
        if create:
            resolved.create()
            if not resolved.policy_file.exists():
                resolved.policy_file.write_text(DEFAULT_POLICY_TOML)
        async with contextlib.AsyncExitStack() as stack:
            saver, store = await stack.enter_async_context(
                open_storage(resolved, lease_seconds=settings.lease_seconds)
            )
            engine = cls(resolved, saver, store, in_force, catalogue, settings)
            await engine._record_policy()
            await engine._expire_overdue(kick=False)  # whoever opens a home enforces expiry
            engine._journal_seq = await store.journal.head()
            engine._background.append(asyncio.create_task(engine._keep_leases()))
            if engine.options.watch:
                engine._background.append(asyncio.create_task(engine._watch()))
            try:
                yield engine
            finally:
                await engine._close()

    async def _close(self) -> None:
        tasks = [*self._background, *self._runners.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for thread_id in list(self._runners):
            with contextlib.suppress(Exception):
                await self._store.leases.release(thread_id)

    @property
    def policy_digest(self) -> str:
        """Identifies the policy in force here; each approval records the one it was
        requested under (``ApprovalView.policy_digest``)."""
        return self._policy_digest

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
        are fanned out here. A crash leaves all of it or none.

        ``when[i]``: event i is written only if write ``when[i]`` of ``also`` changed a
        row. ``audit``: entries of their own, each tied to a write of ``also`` or None.
        Returns the row counts of ``also``, or None when its guard failed (then nothing
        was written and no event is published).
        """
        writes: list[Statement | Write] = list(also)
        notes = list(audit)
        first = len(writes)
        for index, event in enumerate(events):
            kind, key, body = to_record(event)
            condition = when[index] if when else None
            writes.append(
                self._store.journal.insert_statement(
                    event_thread_id(event), kind, key, body, condition
                )
            )
            if (note := audit_note(event)) is not None:
                notes.append((first + index, note))
        counts = await self._store.commit(writes, notes)
        if counts is None:
            return None
        for index, event in enumerate(events):
            if counts[first + index]:
                self._bus.publish(event)
        return counts[:first]

    async def _watch(self) -> None:
        """Republishes other processes' events, applies their decisions, expires on time."""
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                await self._tail_journal()
                await self._warn_expiring()
                await self._expire_overdue(kick=True)
                for thread_id in await self._store.approvals.threads_with_unapplied():
                    if thread_id not in self._runners:
                        with urgent():  # another process's decision: as urgent as ours
                            self._kick(thread_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # the watcher must outlive a transient database error
                await asyncio.sleep(1.0)

    async def _keep_leases(self) -> None:
        """Renews the lease of every thread this process runs, as long as it is open:
        a model turn longer than the lease must not let another process take the thread."""
        while True:
            await asyncio.sleep(self.options.lease_seconds / 3)
            with contextlib.suppress(Exception):  # retried at the next beat
                await self._store.leases.renew(list(self._runners))

    async def _tail_journal(self) -> None:
        self._journal_seq, rows = await self._store.journal.since(self._journal_seq)
        for _, kind, body in rows:
            event = from_record(kind, body)
            if event is not None:
                self._bus.publish(event)

    # Queries (threads, thread, pending, approval, approvals, history, ledger, audit,
    # verify_audit) are Reader's: an engine reads exactly as a Reader does.

    # --- commands ------------------------------------------------------------

    async def start(
        self, task: str, *, model: str | None = None, title: str | None = None
    ) -> ThreadView:
        """Starts a thread on ``task``; it runs in the background until it pauses or ends."""
        task = task.strip()
        if not task:
            raise HitlError("a task needs some words: what should the agent do?")
        spec = model or self.options.model
        self._graph(spec)  # an unknown model spec fails here, before anything is written
        now = time.time()
        title = title or thread_title(task)
        for attempt in range(5):
            thread = ThreadView(
                id=f"{secrets.token_hex(4)}-{_slug(title)}",
                title=title,
                task=task,
                model=spec,
                status="running",
                created_at=now,
                updated_at=now,
            )
            try:
                await self._publish(
                    ThreadStarted(thread),
                    MessageAdded(thread.id, "user", task),
                    also=[Threads.insert_statement(thread)],
                )
                break
            except Exception as error:  # the same task twice may draw the same id
                if attempt == 4 or not _is_duplicate(error):
                    raise
        self._kick(thread.id, {"messages": [HumanMessage(task)]}, thread)
        return thread

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
        approval = await self._store.approvals.find(ref)
        if approval.status != "pending":
            raise _refusal(approval)
        now = time.time()
        if _overdue(approval, now):
            await self._expire(approval, now, kick=True)
            raise Expired(_expired(approval))
        decided = await self._judge(approval, decision, who, now)
        final = decided.status != "pending"
        kind = type(decision).__name__.lower()
        written = await self._publish(
            ApprovalDecided(decided, kind, who, final=final),
            also=[Approvals.decision_statement(approval, decided, now)],
        )
        if written is None:  # someone was first, or time ran out meanwhile
            current = await self._store.approvals.find(approval.id)
            if current.status == "pending" and _overdue(current, time.time()):
                await self._expire(current, time.time(), kick=True)
                raise Expired(_expired(current))
            raise _refusal(current)
        if final:
            self._kick(decided.thread_id)
        return decided

    async def _judge(
        self, approval: ApprovalView, decision: Decision, operator: str, now: float
    ) -> ApprovalView:
        """The approval as it is after ``operator``'s decision (still pending while it
        needs more approvals). Raises when the decision is not allowed; nothing written."""
        if isinstance(decision, Reject | Respond):
            if isinstance(decision, Respond) and not decision.message.strip():
                raise InvalidDecision("a response needs a message: it becomes the tool's result")
            status: ApprovalStatus = "rejected" if isinstance(decision, Reject) else "responded"
            return _decided(approval, status, decision.wire(), operator, now)
        if isinstance(decision, Edit):
            if approval.kind != "tool_approval":
                raise InvalidDecision(
                    f"approval {approval.id} is an outcome-unknown call: re-run it "
                    "(approve) or mark it done (respond); it cannot be edited"
                )
            args = self._edited_args(approval, decision.args)
            verdict = await self._edit_verdict(approval, args)
            if verdict.denied:
                await self._audit.append(
                    AuditNote(
                        "edit_refused",
                        {"args": args, "original_args": approval.args, "reason": verdict.reason},
                        approval.thread_id,
                        approval.id,
                        approval.tool,
                        operator,
                    )
                )
                raise EditDenied(
                    f"approval {approval.id}: the edited call is denied by policy "
                    f"({verdict.reason}); nothing changed"
                )
            settings = verdict.settings
            expires_at = approval.expires_at
            if expires_at is None and settings.expires_after:
                expires_at = now + settings.expires_after
            approval = replace(
                approval,
                args=args,
                tier=str(verdict.tier),
                reason=verdict.reason,
                rules=verdict.rules,
                required=verdict.approvals_required,
                distinct_operators=settings.distinct_operators,
                expires_at=expires_at,
                edited_by=operator,
                approvers=(),
            )
        elif approval.distinct_operators and any(
            same_operator(operator, earlier) for earlier in approval.approvers
        ):
            raise FourEyes(
                f"approval {approval.id}: {operator} already approved it; the policy wants "
                f"approval {approval.received + 1} of {approval.required} from another operator"
            )
        approvers = (*approval.approvers, operator)
        approval = replace(approval, approvers=approvers, received=len(approvers))
        if len(approvers) < approval.required:
            return replace(approval, version=approval.version + 1)
        if approval.args == approval.original_args:
            wire = {"type": "approve", "call_digest": call_digest(approval.tool, approval.args)}
            return _decided(approval, "approved", wire, operator, now)
        return _decided(approval, "edited", Edit(approval.args).wire(approval.tool), operator, now)

    async def edit_verdict(self, ref: str, args: Mapping[str, Any]) -> Verdict:
        """What the call would need if its arguments were ``args``: the stricter of its
        verdict and the edited arguments' (``denied``: such an edit is refused). Raises
        InvalidArguments when ``args`` fail the tool's schema."""
        approval = await self._store.approvals.find(ref)
        return await self._edit_verdict(approval, self._edited_args(approval, args))

    def _edited_args(self, approval: ApprovalView, args: Mapping[str, Any]) -> dict[str, Any]:
        """The edited arguments as the tool will get them, or InvalidArguments: too big,
        nested too deeply, or failing the tool's schema."""
        limit = self.options.max_edit_bytes
        if nested_deeper(args):
            raise InvalidArguments(
                f"the edited arguments are nested too deeply (limit {MAX_JSON_DEPTH} levels)"
            )
        try:
            size = len(json.dumps(args, ensure_ascii=False).encode())
        except (TypeError, ValueError) as error:
            raise InvalidArguments(f"the edited arguments are not JSON ({error})") from None
        if size > limit:
            raise InvalidArguments(
                f"the edited arguments are {_kb(size)}; the limit is {_kb(limit)} "
                "($HITL_MAX_EDIT_KB); nothing changed"
            )
        return validate_args(self.tools[approval.tool], args)

    async def _edit_verdict(self, approval: ApprovalView, args: dict[str, Any]) -> Verdict:
        """An edit is a new call: judged by the policy in force and by the one the call
        was requested under (another process's laxer policy cannot wave it through),
        and never below what the call asked for before the edit."""
        verdict = self.policy.verdict(approval.tool, args)
        then = await self._policy_of(approval.policy_digest)
        if then is not None:
            verdict = verdict.stricter(then.verdict(approval.tool, args))
        original = await self._store.verdicts.get(
            approval.thread_id,
            approval.tool_call_id,
            call_digest(approval.tool, approval.original_args),
        )
        asked = (
            _as_verdict(original)
            if original is not None
            else Verdict(
                Tier(approval.tier),
                TierSettings(approval.required, approval.distinct_operators),
                approval.reason,
                approval.rules,
            )
        )
        judged = verdict.stricter(asked)
        if asked.tier.severity > verdict.tier.severity:  # say why, of the arguments shown
            judged = replace(
                judged,
                reason=f"{verdict.reason}; kept at {asked.tier} as first asked ({asked.reason})",
            )
        return judged

    async def _policy_of(self, digest: str) -> Policy | None:
        """A policy once in force in this home, rebuilt from its record (cached)."""
        if not digest:
            return None
        if digest not in self._policies:
            found = await self._store.policies.get(digest)
            if found is None:
                return None
            source, body = found
            try:
                self._policies[digest] = Policy.from_canonical(body, source)
            except Exception as error:  # fail closed: no edit without its judge
                raise HitlError(
                    f"cannot rebuild the policy {digest[:12]} this call was requested under "
                    f"({_oneline(error)}); nothing changed"
                ) from None
        return self._policies[digest]

    async def resume(self) -> list[str]:
        """Continues threads left mid-run (e.g. by a crash) and applies stranded decisions."""
        ids = [t.id for t in await self._store.threads.all("running")]
        ids += [t for t in await self._store.approvals.threads_with_unapplied() if t not in ids]
        for thread_id in ids:
            self._kick(thread_id)
        return ids

    async def retry(self, ref: str) -> ThreadView:
        """Runs a failed thread again from its last checkpoint."""
        thread = await self.thread(ref)
        if thread.status != "failed":
            raise HitlError(f"thread {thread.id} is {thread.status}, not failed; nothing to retry")
        self._kick(thread.id)
        return thread

    async def wait(self, thread: str | None = None) -> None:
        """Returns when the thread (or every thread) has paused or ended here, and none of
        its decisions still waits for another process that holds the thread. Bound it
        with ``asyncio.timeout`` where another process may hold the thread for long."""
        while True:
            ids = [thread] if thread else list(self._runners)
            running = [self._runners[i] for i in ids if i in self._runners]
            if running:
                await asyncio.gather(*running, return_exceptions=True)
                continue
            if thread and await self._store.approvals.unapplied(thread):
                await asyncio.sleep(0.05)
                self._kick(thread)
                continue
            return

    async def lease_holder(self, thread_id: str) -> tuple[str, int] | None:
        return await self._store.leases.holder(thread_id)

    # --- policy and audit ----------------------------------------------------

    def explain(self, tool: str, args: Mapping[str, Any]) -> Verdict:
        """What the policy in force says of calling ``tool`` with ``args``."""
        if tool not in self.tools:
            raise HitlError(f"unknown tool {tool!r} (known: {', '.join(sorted(self.tools))})")
        return self.policy.verdict(tool, validate_args(self.tools[tool], args))

    async def _record_policy(self) -> None:
        """Keeps the policy in force (to judge later edits of the calls it judged) and
        audits it whenever it differs from the last one recorded."""
        policy = self.policy
        keep = Policies.insert_statement(
            self._policy_digest, policy.source, policy.canonical(), policy.text
        )
        last = await self._audit.last("policy_in_force")
        if last is not None and last.body.get("digest") == self._policy_digest:
            await self._store.commit([keep])
            return
        body = {"source": policy.source, "digest": self._policy_digest, "text": policy.text}
        await self._audit.append(AuditNote("policy_in_force", body, operator=self.operator), keep)

    async def _warn_expiring(self) -> None:
        """Warns, once per approval across processes, before it expires."""
        windows = {
            str(tier): settings.warn_before
            for tier, settings in self.policy.settings.items()
            if settings.warn_before
        }
        for approval in await self._store.approvals.claim_warnings(time.time(), windows):
            await self._publish(ApprovalExpiring(approval))

    async def _expire_overdue(self, *, kick: bool) -> None:
        """Rejects approvals nobody decided in time (fail-closed). ``kick``: run their
        threads now to tell the model; else whoever runs them next does."""
        now = time.time()
        for approval in await self._store.approvals.expired(now):
            await self._expire(approval, now, kick=kick)

    async def _expire(self, approval: ApprovalView, now: float, *, kick: bool) -> None:
        waited = _duration(now - approval.created_at)
        reason = f"Expired: nobody decided within {waited}; the call was not run."
        expired = _decided(approval, "rejected", Reject(reason).wire(), EXPIRY_OPERATOR, now)
        written = await self._publish(
            ApprovalDecided(expired, "expire", EXPIRY_OPERATOR, True),
            also=[Approvals.expiry_statement(approval, expired, now)],
        )
        if written is not None and kick:
            self._kick(approval.thread_id)

    # --- running threads -----------------------------------------------------

    def _graph(self, spec: str) -> CompiledStateGraph[Any, Any, Any, Any]:
        if spec not in self._graphs:
            model = make_model(
                spec,
                think_seconds=self.options.think_seconds,
                base_url=self.options.base_url,
                api_key=self.options.api_key,
            )
            self._graphs[spec] = build_graph(model, self._gate, self._saver)
        return self._graphs[spec]

    def _kick(self, thread_id: str, first: Any = None, known: ThreadView | None = None) -> None:
        """Makes sure a runner will look at the thread (again) soon."""
        runner = self._runners.get(thread_id)
        if runner is not None and not runner.done():
            self._again.add(thread_id)
            return
        task = asyncio.create_task(self._drive(thread_id, first, known), name=f"thread {thread_id}")
        self._runners[thread_id] = task
        task.add_done_callback(lambda _: self._forget(thread_id, task))

    def _forget(self, thread_id: str, task: asyncio.Task[None]) -> None:
        if self._runners.get(thread_id) is task:
            del self._runners[thread_id]

    async def _drive(self, thread_id: str, first: Any, known: ThreadView | None) -> None:
        """Runs the thread until it pauses or ends, as long as decisions keep arriving.

        The whole run holds a run slot, taken at the priority of whoever kicked it: a
        run that applies a person's decision goes before the background.
        """
        async with self._slots.hold(current_priority()):
            await self._drive_held(thread_id, first, known)

    async def _drive_held(self, thread_id: str, first: Any, known: ThreadView | None) -> None:
        if not await self._store.leases.acquire(thread_id):
            return  # another process runs it; our watcher retries stranded decisions
        try:
            thread = known or await self._store.threads.find(thread_id)
            graph = self._graph(thread.model)
            config: Any = {"configurable": {"thread_id": thread_id}, "recursion_limit": 100}
            pending_input = first
            while True:
                self._again.discard(thread_id)
                applied: list[str] = []
                if pending_input is None:
                    pending_input, applied = await self._resume_input(graph, config)
                if pending_input is None and thread.status not in ("running", "failed"):
                    break
                thread = await self._set_status(thread, "running")
                try:
                    async for chunk in graph.astream(pending_input, config, stream_mode="updates"):
                        await self._relay(thread_id, chunk)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # a model or graph failure fails the thread only
                    thread = replace(
                        thread, status="failed", error=_oneline(error), updated_at=time.time()
                    )
                    await self._publish(
                        ThreadFailed(thread), also=[Threads.update_statement(thread)]
                    )
                    break
                if applied:
                    await self._store.approvals.mark_applied(applied)
                thread = await self._settle(thread, graph, config)
                pending_input = None
                if thread.status == "done":
                    break
                if thread_id not in self._again and not await self._store.approvals.unapplied(
                    thread_id
                ):
                    break
        finally:
            with contextlib.suppress(Exception):
                await self._store.leases.release(thread_id)

    async def _resume_input(
        self, graph: CompiledStateGraph[Any, Any, Any, Any], config: Any
    ) -> tuple[Command[Any] | None, list[str]]:
        """A resume keyed by interrupt id for every decision the graph has not seen."""
        thread_id = config["configurable"]["thread_id"]
        decided = await self._store.approvals.unapplied(thread_id)
        if not decided:
            return None, []
        state = await graph.aget_state(config)
        open_ids = {i.id for i in state.interrupts}
        resume = {a.interrupt_id: a.decision for a in decided if a.interrupt_id in open_ids}
        stale = [a.id for a in decided if a.interrupt_id not in open_ids]
        if stale:  # already consumed by a run that ended before it could say so
            await self._store.approvals.mark_applied(stale)
        if not resume:
            return None, []
        applied = [a.id for a in decided if a.interrupt_id in open_ids]
        return Command(resume=resume), applied

    async def _relay(self, thread_id: str, chunk: Mapping[str, Any]) -> None:
        events: list[Event] = []
        for node, update in chunk.items():
            if node.startswith("__") or not isinstance(update, Mapping):
                continue
            for message in update.get("messages", ()):
                events.append(_message_event(thread_id, message))
        if events:
            await self._publish(*events)

    async def _settle(
        self, thread: ThreadView, graph: CompiledStateGraph[Any, Any, Any, Any], config: Any
    ) -> ThreadView:
        """Reads where the run stopped: records new approvals, sets the thread's status."""
        state = await graph.aget_state(config)
        now = time.time()
        for attempt in range(3):
            try:
                await self._record_approvals(thread.id, state.interrupts, now)
                break
            except Exception as error:  # another process took the same short id first
                if attempt == 2 or not _is_duplicate(error):
                    raise
        if state.interrupts:
            unknown = any(_kind(i.value) == "outcome_unknown" for i in state.interrupts)
            thread = replace(thread, pending=len(state.interrupts))
            return await self._set_status(thread, "unknown" if unknown else "waiting")
        if state.next:
            return await self._set_status(thread, "running")
        answer = ""
        messages = state.values.get("messages", [])
        if messages and isinstance(messages[-1], AIMessage):
            answer = _text(messages[-1])
        done = replace(thread, status="done", answer=answer, error=None, updated_at=now, pending=0)
        await self._publish(ThreadFinished(done), also=[Threads.update_statement(done)])
        return done

    async def _record_approvals(
        self, thread_id: str, interrupts: Sequence[Interrupt], now: float
    ) -> None:
        """Records the approvals of new interrupts, each with its verdict and with the
        audit entry that says it was requested, in one transaction."""
        ids = await self._store.approvals.short_ids([i.id for i in interrupts])
        found: list[tuple[ApprovalView, float]] = []
        for item in interrupts:
            if (approval_id := ids.get(item.id)) is None:
                continue  # recorded by an earlier run
            request = REQUEST.validate_python(item.value)
            requested_at = request.requested_at or now
            found.append(
                (
                    ApprovalView(
                        id=approval_id,
                        thread_id=thread_id,
                        kind=request.type,
                        tool_call_id=request.tool_call_id,
                        tool=request.name,
                        args=request.args,
                        original_args=request.args,
                        description=request.description,
                        tier=request.tier,
                        reason=request.reason,
                        required=request.approvals_required,
                        received=0,
                        status="pending",
                        created_at=now,
                        interrupt_id=item.id,
                        args_schema=request.args_schema,
                        rules=tuple(request.rules),
                        distinct_operators=request.distinct_operators,
                        expires_at=(
                            requested_at + request.expires_after if request.expires_after else None
                        ),
                        policy_digest=request.policy_digest,
                    ),
                    requested_at,
                )
            )
        if found:
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
                if a.kind == "tool_approval"
            ]
            await self._publish(
                *(ApprovalRequested(a) for a, _ in found),
                also=[*(Approvals.insert_statement(a) for a, _ in found), *verdicts],
                when=range(len(found)),
            )

    async def _set_status(self, thread: ThreadView, status: ThreadStatus) -> ThreadView:
        """Writes the new status and its event in one transaction."""
        if thread.status == status:
            return thread
        changed = replace(thread, status=status, error=None, updated_at=time.time())
        await self._publish(ThreadStatusChanged(changed), also=[Threads.update_statement(changed)])
        return changed


def _refusal(approval: ApprovalView) -> AlreadyDecided:
    if approval.decided_by == EXPIRY_OPERATOR:
        return Expired(_expired(approval))
    return AlreadyDecided(_already(approval))


def _already(approval: ApprovalView) -> str:
    if approval.status == "pending":
        return (
            f"approval {approval.id} changed while you were deciding "
            f"({approval.outcome} now); look at it again"
        )
    if approval.decided_by == EXPIRY_OPERATOR:
        return _expired(approval)
    when = time.strftime("%H:%M:%S", time.localtime(approval.decided_at or 0))
    return f"approval {approval.id} was already decided at {when}: {approval.outcome}"


def _expired(approval: ApprovalView) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(approval.expires_at or 0))
    return f"approval {approval.id} expired at {when}; it was rejected and the call did not run"


def _overdue(approval: ApprovalView, now: float) -> bool:
    return approval.expires_at is not None and now >= approval.expires_at


def _decided(
    approval: ApprovalView, status: ApprovalStatus, wire: dict[str, Any], who: str, now: float
) -> ApprovalView:
    return replace(
        approval,
        status=status,
        decision=wire,
        decided_by=who,
        decided_at=now,
        version=approval.version + 1,
    )


def _as_verdict(fixed: FixedVerdict) -> Verdict:
    settings = TierSettings(fixed.required, fixed.distinct_operators, fixed.expires_after)
    return Verdict(Tier(fixed.tier), settings, fixed.reason, fixed.rules)


def _kind(value: object) -> str:
    return str(value.get("type", "")) if isinstance(value, dict) else ""


def _is_duplicate(error: BaseException) -> bool:
    """A unique-key violation, from SQLite or PostgreSQL."""
    return "UNIQUE constraint failed" in str(error) or getattr(error, "sqlstate", "") == "23505"


def _freeze_import_garbage() -> None:
    """Moves everything alive now (mostly LangGraph, LangChain and pydantic, imported
    for good) out of the cyclic collector's sight.

    With hundreds of threads the collector's full passes otherwise walk those objects
    too: measured pauses of ~95 ms, the whole tail of approve-to-executed under load;
    after freezing, ~20-35 ms. Objects made later are collected as usual.
    """
    gc.freeze()


def resolve_policy(
    home: Home, policy: Policy | str | os.PathLike[str] | None, tools: Mapping[str, ToolSpec]
) -> Policy:
    if isinstance(policy, Policy):
        return policy
    if policy is not None:
        return load_policy(Path(policy), tools)
    if home.policy_file.exists() or home.policy_file.is_symlink():  # a dangling link too
        return load_policy(home.policy_file, tools)
    return parse_policy(DEFAULT_POLICY_TOML, "built-in default policy", tools)


def _max_edit_bytes() -> int:
    raw = os.environ.get("HITL_MAX_EDIT_KB", "256")
    try:
        kilobytes = float(raw)
    except ValueError:
        kilobytes = math.nan
    if not 0 < kilobytes < 1024 * 1024:
        raise HitlError(f"$HITL_MAX_EDIT_KB={raw!r} is not a number of kilobytes from 1 to 1048576")
    return max(1, int(kilobytes * 1024))


def _kb(size: int) -> str:
    return f"{size / 1024:,.0f} KB" if size >= 10 * 1024 else f"{size / 1024:.1f} KB"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _oneline(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]
