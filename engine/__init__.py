"""hitl-console's headless engine: run agent threads, gate their risky tool calls.

Everything a caller passes to the engine or receives from it is exported here; the
modules behind it are the engine's own and may change. ``engine.events`` is public
too: the event classes a subscriber matches on.

``Engine``, the options and the tools are imported lazily: listings (``hitl pending``)
read the engine's plain rows and should not pay for importing LangGraph, LangChain or
the tools' pydantic models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine import events
from engine.decisions import Answer, Approve, Decision, Edit, Reject, Respond
from engine.durations import age, span
from engine.errors import (
    AlreadyDecided,
    DatabaseBusy,
    DatabaseDamaged,
    DatabaseReadOnly,
    DatabaseUnavailable,
    DiskFull,
    EditDenied,
    Expired,
    FourEyes,
    HitlError,
    HomeNotFound,
    InvalidArguments,
    InvalidDecision,
    InvalidOperator,
    InvalidOption,
    ModelUnavailable,
    PolicyError,
    UnknownApproval,
    UnknownOption,
    UnknownThread,
    UnsupportedDatabase,
)
from engine.event_codec import decode as decode_event
from engine.event_codec import journal_entry
from engine.events import Event
from engine.hidden import is_hidden
from engine.hidden import marker as hidden_marker
from engine.home import Home
from engine.listing import call_summaries, text_summaries
from engine.observe import Hop, Observer
from engine.policy import Policy, Tier, Verdict
from engine.reader import Reader
from engine.slots import urgent
from engine.storage.audit import AuditEntry, Verification
from engine.subscription import Subscription
from engine.views import (
    FORMAT_LABELS,
    TOKEN_SCOPES,
    ApprovalView,
    HistoryEntry,
    JournalEntry,
    LedgerEntry,
    ThreadStatus,
    ThreadView,
    TokenScope,
    TokenView,
    describe_model,
)

if TYPE_CHECKING:
    from engine.engine import Engine
    from engine.foreign.guarded import guarded
    from engine.foreign.loading import LoadedGraph, load_graph
    from engine.options import EngineOptions, EngineOptionsDict
    from engine.tools import CATALOGUE, ToolContext, ToolRefused, ToolSpec

__all__ = [
    "CATALOGUE",
    "FORMAT_LABELS",
    "TOKEN_SCOPES",
    "AlreadyDecided",
    "Answer",
    "ApprovalView",
    "Approve",
    "AuditEntry",
    "DatabaseBusy",
    "DatabaseDamaged",
    "DatabaseReadOnly",
    "DatabaseUnavailable",
    "Decision",
    "DiskFull",
    "Edit",
    "EditDenied",
    "Engine",
    "EngineOptions",
    "EngineOptionsDict",
    "Event",
    "Expired",
    "FourEyes",
    "HistoryEntry",
    "HitlError",
    "Home",
    "HomeNotFound",
    "Hop",
    "InvalidArguments",
    "InvalidDecision",
    "InvalidOperator",
    "InvalidOption",
    "JournalEntry",
    "LedgerEntry",
    "LoadedGraph",
    "ModelUnavailable",
    "Observer",
    "Policy",
    "PolicyError",
    "Reader",
    "Reject",
    "Respond",
    "Subscription",
    "ThreadStatus",
    "ThreadView",
    "Tier",
    "TokenScope",
    "TokenView",
    "ToolContext",
    "ToolRefused",
    "ToolSpec",
    "UnknownApproval",
    "UnknownOption",
    "UnknownThread",
    "UnsupportedDatabase",
    "Verdict",
    "Verification",
    "age",
    "call_summaries",
    "decode_event",
    "describe_model",
    "events",
    "guarded",
    "hidden_marker",
    "is_hidden",
    "journal_entry",
    "load_graph",
    "span",
    "text_summaries",
    "urgent",
]


_LAZY = {
    "Engine": "engine.engine",
    "EngineOptions": "engine.options",
    "EngineOptionsDict": "engine.options",
    "CATALOGUE": "engine.tools",
    "ToolContext": "engine.tools",
    "ToolRefused": "engine.tools",
    "ToolSpec": "engine.tools",
    "LoadedGraph": "engine.foreign.loading",
    "load_graph": "engine.foreign.loading",
    "guarded": "engine.foreign.guarded",
}
"""Names whose modules are imported on first use, and where they live."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
