"""What an engine may be told when it opens, and the defaults it falls back on."""

from __future__ import annotations

import contextlib
import getpass
import math
import os
from dataclasses import dataclass, field

from engine.errors import HitlError
from engine.observe import Observer
from engine.storage.leases import LEASE_SECONDS


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Everything ``Engine.open`` takes besides the home, the policy and the tools."""

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
    observer: Observer | None = None
    """Told where runs spend their time (database hops, run-slot waits, which thread a
    run is), for a benchmark or a profiler; None costs nothing."""


def default_operator() -> str:
    """``$HITL_OPERATOR``, else the login name."""
    with contextlib.suppress(Exception):
        return os.environ.get("HITL_OPERATOR") or getpass.getuser()
    return "operator"


def _max_edit_bytes() -> int:
    raw = os.environ.get("HITL_MAX_EDIT_KB", "256")
    try:
        kilobytes = float(raw)
    except ValueError:
        kilobytes = math.nan
    if not 0 < kilobytes < 1024 * 1024:
        raise HitlError(f"$HITL_MAX_EDIT_KB={raw!r} is not a number of kilobytes from 1 to 1048576")
    return max(1, int(kilobytes * 1024))
