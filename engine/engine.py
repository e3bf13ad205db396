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
import gc
import getpass
import math
import os
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from engine.audit import AuditNote, audit_note
from engine.database import (
    Statement,
    Write,
    check_home_database,
    dialect_of,
    is_postgres,
    open_postgres,
    open_sqlite,
)
from engine.decisions import Decision, Edit
from engine.errors import EditDenied, Expired, HitlError
from engine.events import (
    ApprovalDecided,
    Event,
    EventBus,
    MessageAdded,
    Subscription,
    ThreadStarted,
    event_thread_id,
    to_record,
)
from engine.gate import Gate, call_digest
from engine.graph import build_graph
from engine.home import Home
from engine.judge import (
    EditedCall,
    already_decided,
    edit_verdict,
    edited_args,
    expired,
    judge,
    overdue,
    refusal,
)
from engine.models import make_model
from engine.operators import operator_name
from engine.policy import Policy, Tier, TierSettings, Verdict
from engine.policy_file import DEFAULT_POLICY_TOML, load_policy, parse_policy
from engine.reader import Reader
from engine.runner import Runner, error_line, is_duplicate
from engine.slots import urgent
from engine.sqlite_saver import ThreadedSqliteSaver
from engine.store import LEASE_SECONDS, FixedVerdict, Store
from engine.tools import CATALOGUE, ToolSpec, validate_args
from engine.views import ApprovalView, ThreadView
from engine.watcher import Watcher


@dataclass(frozen=True, slots=True)
class EngineOptions:
    model: str = "scripted"
    think_seconds: float = 0.0
    base_url: str | None = None
    api_key: str | None = None
    operator: str | None = None
    follow_journal: bool = True
    """Republish here, while open, the events other processes write to the journal."""
    warn_expiring: bool = True
    """Warn, while open, before an approval expires (``ApprovalExpiring``)."""
    expire_on_time: bool = True
    """Reject overdue approvals as their deadline passes, while open. Correctness does
    not depend on it: a decision checks the deadline, and opening a home expires."""
    apply_stranded_decisions: bool = True
    """Run, while open, threads whose decisions another process recorded but did not
    apply (it died, or held the thread then)."""
    run_slots: int = 4
    """Threads stepping at once (waits on models and tools do not count)."""
    lease_seconds: float = LEASE_SECONDS
    """How long a thread stays taken by a runner that stopped renewing (a dead process
    elsewhere); runners renew every third of it."""
    max_edit_bytes: int = field(default_factory=lambda: _max_edit_bytes())
    """The largest edited arguments a person may send, as JSON (``$HITL_MAX_EDIT_KB``,
    default 256 KB): a 10 MB edit would cost seconds, memory and database space for
    every copy the checkpoints and the journal keep of it."""


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
        self._gate = Gate(home, store, policy, self._policy_digest, tools, self._publish)
        self._graphs: dict[str, CompiledStateGraph[Any, Any, Any, Any]] = {}
        self._runner = Runner(
            store,
            self._publish,
            lambda thread: self._graph(thread.model),
            run_slots=options.run_slots,
            lease_seconds=options.lease_seconds,
        )
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
                _storage(resolved, settings.lease_seconds)
            )
            engine = cls(resolved, saver, store, in_force, catalogue, settings)
            await engine._audit.setup()
            await engine._record_policy()
            await engine._watcher.expire_overdue(kick=False)  # whoever opens a home expires
            engine._runner.start()
            try:
                await engine._watcher.start()
                yield engine
            finally:
                await engine._watcher.close()
                await engine._runner.close()

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
                self._store.journal_insert(event_thread_id(event), kind, key, body, condition)
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
                    also=[Store.thread_insert(thread)],
                )
                break
            except Exception as error:  # the same task twice may draw the same id
                if attempt == 4 or not is_duplicate(error):
                    raise
        self._runner.kick(thread.id, {"messages": [HumanMessage(task)]}, thread)
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
        approval = await self._store.approval(ref)
        now = time.time()
        edit: EditedCall | None = None
        try:
            if isinstance(decision, Edit):
                if (error := refusal(approval, decision, now)) is not None:
                    raise error
                args = self._edited_args(approval, decision.args)
                edit = EditedCall(args, await self._edit_verdict(approval, args))
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
        written = await self._publish(
            ApprovalDecided(decided, outcome.kind, who, final=outcome.final),
            also=[Store.approval_decision(approval, decided, now)],
        )
        if written is None:  # someone was first, or time ran out meanwhile
            current = await self._store.approval(approval.id)
            if current.status == "pending" and overdue(current, time.time()):
                await self._watcher.expire(current, time.time(), kick=True)
                raise expired(current)
            raise already_decided(current)
        if outcome.final:
            self._runner.kick(decided.thread_id)
        return decided

    async def _audit_refused_edit(self, approval: ApprovalView, edit: EditedCall, who: str) -> None:
        body = {"args": edit.args, "original_args": approval.args, "reason": edit.verdict.reason}
        note = AuditNote("edit_refused", body, approval.thread_id, approval.id, approval.tool, who)
        await self._audit.append(note)

    async def edit_verdict(self, ref: str, args: Mapping[str, Any]) -> Verdict:
        """What the call would need if its arguments were ``args``: the stricter of its
        verdict and the edited arguments' (``denied``: such an edit is refused). Raises
        InvalidArguments when ``args`` fail the tool's schema."""
        approval = await self._store.approval(ref)
        return await self._edit_verdict(approval, self._edited_args(approval, args))

    def _edited_args(self, approval: ApprovalView, args: Mapping[str, Any]) -> dict[str, Any]:
        return edited_args(self.tools[approval.tool], args, self.options.max_edit_bytes)

    async def _edit_verdict(self, approval: ApprovalView, args: dict[str, Any]) -> Verdict:
        """The edited call's verdict, judged by :func:`engine.judge.edit_verdict` with
        the policies and the verdict first asked for, as this home recorded them."""
        then = await self._policy_of(approval.policy_digest)
        original = await self._store.fixed_verdict(
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
        return edit_verdict(
            self.policy.verdict(approval.tool, args),
            then.verdict(approval.tool, args) if then is not None else None,
            asked,
        )

    async def _policy_of(self, digest: str) -> Policy | None:
        """A policy once in force in this home, rebuilt from its record (cached)."""
        if not digest:
            return None
        if digest not in self._policies:
            found = await self._store.policy(digest)
            if found is None:
                return None
            source, body = found
            try:
                self._policies[digest] = Policy.from_canonical(body, source)
            except Exception as error:  # fail closed: no edit without its judge
                raise HitlError(
                    f"cannot rebuild the policy {digest[:12]} this call was requested under "
                    f"({error_line(error)}); nothing changed"
                ) from None
        return self._policies[digest]

    async def resume(self) -> list[str]:
        """Continues threads left mid-run (e.g. by a crash) and applies stranded decisions."""
        ids = [t.id for t in await self._store.threads("running")]
        ids += [t for t in await self._store.threads_with_unapplied() if t not in ids]
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
        return await self._store.lease_holder(thread_id)

    # --- policy --------------------------------------------------------------

    def explain(self, tool: str, args: Mapping[str, Any]) -> Verdict:
        """What the policy in force says of calling ``tool`` with ``args``."""
        if tool not in self.tools:
            raise HitlError(f"unknown tool {tool!r} (known: {', '.join(sorted(self.tools))})")
        return self.policy.verdict(tool, validate_args(self.tools[tool], args))

    async def _record_policy(self) -> None:
        """Keeps the policy in force (to judge later edits of the calls it judged) and
        audits it whenever it differs from the last one recorded."""
        policy = self.policy
        keep = Store.policy_insert(
            self._policy_digest, policy.source, policy.canonical(), policy.text
        )
        last = await self._audit.last("policy_in_force")
        if last is not None and last.body.get("digest") == self._policy_digest:
            await self._store.commit([keep])
            return
        body = {"source": policy.source, "digest": self._policy_digest, "text": policy.text}
        await self._audit.append(AuditNote("policy_in_force", body, operator=self.operator), keep)

    # --- graphs --------------------------------------------------------------

    def _graph(self, spec: str) -> CompiledStateGraph[Any, Any, Any, Any]:
        """The demo agent graph on the model ``spec`` names, built once per spec."""
        if spec not in self._graphs:
            model = make_model(
                spec,
                think_seconds=self.options.think_seconds,
                base_url=self.options.base_url,
                api_key=self.options.api_key,
            )
            self._graphs[spec] = build_graph(model, self._gate, self._saver)
        return self._graphs[spec]


def _as_verdict(fixed: FixedVerdict) -> Verdict:
    settings = TierSettings(fixed.required, fixed.distinct_operators, fixed.expires_after)
    return Verdict(Tier(fixed.tier), settings, fixed.reason, fixed.rules)


@contextlib.asynccontextmanager
async def _storage(
    home: Home, lease_seconds: float
) -> AsyncIterator[tuple[BaseCheckpointSaver[Any], Store]]:
    """The checkpointer and the engine's store, on the home's database.

    SQLite: one connection per process, shared by both (one writer, one lock).
    PostgreSQL: the saver and the store each have a connection; the server serialises.
    """

    dialect_of(home.database_url)  # a URL of another kind is refused, naming what works
    origin = uuid.uuid4().hex
    if home.database_url and is_postgres(home.database_url):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with (
            open_postgres(home.database_url) as db,
            AsyncPostgresSaver.from_conn_string(home.database_url) as pg_saver,
        ):
            await pg_saver.setup()
            store = Store(db, origin, lease_seconds=lease_seconds)
            await store.setup()
            yield pg_saver, store
        return
    async with open_sqlite(home.db) as sqlite:
        saver = ThreadedSqliteSaver(sqlite.thread)
        await saver.asetup()
        store = Store(sqlite, origin, lease_seconds=lease_seconds)
        await store.setup()
        yield saver, store


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
