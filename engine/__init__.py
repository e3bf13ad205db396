"""hitl-console's headless engine: run agent threads, gate their risky tool calls.

``Engine`` is imported lazily: listings (``hitl pending``) read the engine's plain rows
and should not pay for importing LangGraph and LangChain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.decisions import Approve, Decision, Edit, Reject, Respond
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
    ThreadBusy,
    UnknownApproval,
    UnknownThread,
    UnsupportedDatabase,
)
from engine.home import Home
from engine.policy import Policy, Tier, Verdict
from engine.reader import Reader
from engine.views import (
    ApprovalView,
    HistoryEntry,
    LedgerEntry,
    ThreadStatus,
    ThreadView,
    describe_model,
)

if TYPE_CHECKING:
    from engine import events
    from engine.engine import Engine

__all__ = [
    "AlreadyDecided",
    "ApprovalView",
    "Approve",
    "DatabaseBusy",
    "DatabaseDamaged",
    "DatabaseReadOnly",
    "DatabaseUnavailable",
    "Decision",
    "DiskFull",
    "Edit",
    "EditDenied",
    "Engine",
    "Expired",
    "FourEyes",
    "HistoryEntry",
    "HitlError",
    "Home",
    "HomeNotFound",
    "InvalidArguments",
    "InvalidDecision",
    "InvalidOperator",
    "LedgerEntry",
    "Policy",
    "Reader",
    "Reject",
    "Respond",
    "ThreadBusy",
    "ThreadStatus",
    "ThreadView",
    "Tier",
    "UnknownApproval",
    "UnknownThread",
    "UnsupportedDatabase",
    "Verdict",
    "describe_model",
    "events",
]


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from engine.engine import Engine

        return Engine
    if name == "events":
        import engine.events as events

        return events
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
