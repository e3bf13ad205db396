"""Plain typed values that cross the engine's boundary.

Never a LangGraph or LangChain object: the console, the CLI and scripts read these,
so the engine's internals can change without touching them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

ThreadStatus = Literal["running", "waiting", "unknown", "done", "failed"]
"""``unknown``: a gated tool may or may not have run; a person must say which."""

ApprovalKind = Literal["tool_approval", "outcome_unknown", "interrupt"]
"""``interrupt``: a graph's own interrupt of a shape the engine does not know; a person
answers it with a JSON value."""
ApprovalStatus = Literal[
    "pending", "approved", "edited", "rejected", "responded", "answered", "withdrawn"
]
"""``withdrawn``: the thread went on without this card (resumed elsewhere)."""


DEMO_LABEL = "scripted (demo model)"

CHOICES = ("approve", "edit", "reject", "respond", "answer")
"""Every decision a card may take, in the order they are offered."""

FORMAT_LABELS = {
    "engine": "hitl-console gate",
    "hitl_per_call": "LangChain HITL (per call)",
    "hitl_batched": "LangChain HITL (batched)",
    "agent_inbox": "Agent Inbox",
    "unrecognised": "unrecognised interrupt",
}
"""How each interrupt format is named to a person (``engine.foreign.formats.Format``)."""

_UNKNOWN_WORDS = {"approved": "re-run", "responded": "marked done", "rejected": "marked not run"}
"""What each decision means for a call whose outcome is unknown after a crash."""

_AUTO_WORDS = {"approved": "approved", "rejected": "denied", "responded": "denied"}
"""What the policy did alone to a call of a graph of one's own (low: approve, deny)."""


def describe_model(spec: str) -> str:
    """How a model spec is shown to a person; the demo model always says it is one."""
    return DEMO_LABEL if spec == "scripted" else spec


def one_line(args: dict[str, Any], width: int = 80) -> str:
    """A one-line summary of a call's arguments, for lists."""
    parts = [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items()]
    text = " ".join(parts).replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True, slots=True)
class ThreadView:
    id: str
    title: str
    task: str
    model: str
    status: ThreadStatus
    created_at: float
    updated_at: float
    error: str | None = None
    answer: str | None = None
    pending: int = 0
    graph: str = ""
    """The graph it runs, by the name it was configured with; "" for the built-in agent."""


@dataclass(frozen=True, slots=True)
class ApprovalView:
    """One pending (or decided) gated tool call."""

    id: str
    thread_id: str
    kind: ApprovalKind
    tool_call_id: str
    tool: str
    args: dict[str, Any]
    original_args: dict[str, Any]
    description: str
    tier: str
    reason: str
    required: int
    received: int
    status: ApprovalStatus
    created_at: float
    interrupt_id: str
    args_schema: dict[str, Any] = field(default_factory=dict)
    approvers: tuple[str, ...] = ()
    decision: dict[str, Any] | None = None
    decided_by: str | None = None
    decided_at: float | None = None
    version: int = 0
    rules: tuple[str, ...] = ()
    """Names of the policy rules that matched this call."""
    distinct_operators: bool = False
    """Four-eyes: each approval must come from a different operator."""
    expires_at: float | None = None
    """When the approval is rejected automatically if nobody decides it."""
    policy_digest: str = ""
    """The policy in force when the call was first judged; its verdict stays fixed."""
    edited_by: str | None = None
    """Who changed the arguments (the edit counts as that operator's approval)."""
    format: str = "engine"
    """The interrupt's wire format (``engine.foreign.formats.Format``)."""
    action_index: int = 0
    action_count: int = 1
    """This card's place among its interrupt's actions: all are decided before the
    thread resumes (LangChain's batched review, an Agent Inbox list)."""
    allowed: tuple[str, ...] = ()
    """The decisions the interrupt accepts; () for the engine's own (all its kind allows)."""
    protected: bool = True
    """False: the tool does not record that it started, so after a crash it may run twice."""
    value: Any = None
    """An unrecognised interrupt's value, as the graph raised it."""

    @property
    def interrupt(self) -> str:
        """The graph's interrupt id (several cards of one interrupt share it)."""
        return self.interrupt_id.split(":", 1)[0]

    def allows(self, choice: str) -> bool:
        """Whether this card accepts ``choice`` (approve, edit, reject, respond, answer)."""
        if self.allowed:
            return choice in self.allowed
        if self.kind == "outcome_unknown":
            return choice in ("approve", "reject", "respond")
        return choice in ("approve", "edit", "reject", "respond")

    @property
    def choices(self) -> tuple[str, ...]:
        """The decisions this card takes, in the order they are offered."""
        return tuple(c for c in CHOICES if self.allows(c))

    @property
    def summary(self) -> str:
        return one_line(self.args)

    @property
    def outcome(self) -> str:
        """Who did what, in words: "edited by root, approved by alice"."""
        if self.status == "pending":
            done = f"{self.received}/{self.required} approvals"
            return f"pending ({done}; edited by {self.edited_by})" if self.edited_by else done
        return ", ".join(self.deeds())

    def deeds(self) -> list[str]:
        """What each person did to the decided call, in order: ["edited by root",
        "approved by alice"]. The engine counts an edit as its editor's approval, so the
        editor is named once, as the editor: a call one person changed and another let
        run never reads as if one person did both."""
        if self.status == "withdrawn":
            return ["resumed elsewhere: closed, nothing sent"]
        if self.decided_by == "policy:auto":
            return [f"{_AUTO_WORDS.get(self.status, self.status)} by policy:auto"]
        if (self.decided_by or "").startswith("policy:"):
            return [f"expired: rejected by {self.decided_by}"]
        if self.status == "answered":
            return [f"answered by {self.decided_by or '?'}"]
        if self.kind == "outcome_unknown" and self.status in _UNKNOWN_WORDS:
            return [f"{_UNKNOWN_WORDS[self.status]} by {self.decided_by or '?'}"]
        approvers = list(dict.fromkeys(self.approvers))
        editor = self.edited_by or (self.decided_by if self.status == "edited" else None)
        deeds: list[str] = []
        if editor:
            deeds.append(f"edited by {editor}")
            if editor in approvers:
                approvers.remove(editor)
        if self.status == "rejected":
            deeds.append(f"rejected by {self.decided_by or '?'}")
        elif self.status == "responded":
            deeds.append(f"answered by {self.decided_by or '?'}")
        elif approvers:
            deeds.append(f"approved by {', '.join(approvers)}")
        elif self.status == "approved":
            deeds.append(f"approved by {self.decided_by or '?'}")
        return deeds

    @property
    def edited(self) -> bool:
        return self.args != self.original_args


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of a thread's story, from the engine's journal."""

    seq: int
    at: float
    kind: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One event as the journal holds it, whichever process wrote it: what an HTTP
    client receives (its ``seq`` is the event's id, to resume from)."""

    seq: int
    at: float
    thread_id: str | None
    kind: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A row the demo money and data tools wrote: proof of what ran."""

    id: int
    thread_id: str
    tool_call_id: str
    kind: str
    body: dict[str, Any]
    at: float


TokenScope = Literal["read", "start", "decide"]
"""What a bearer token lets its holder do over HTTP: ``read`` threads, approvals, the
policy, the audit log and events; ``start`` threads; ``decide`` approvals."""

TOKEN_SCOPES: tuple[TokenScope, ...] = ("read", "start", "decide")


@dataclass(frozen=True, slots=True)
class TokenView:
    """A bearer token as listed: never its secret, which is shown once, when it is made."""

    id: str
    operator: str
    """Whom every decision made with it is recorded as: four-eyes counts people by this."""
    scopes: tuple[TokenScope, ...]
    created_at: float
    created_by: str
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None
