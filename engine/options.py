"""What an engine may be told when it opens, and the defaults it falls back on.

``EngineOptions`` holds the values; ``EngineOptionsDict`` names the same keywords for
``Engine.open(home, **options)``, so that a type checker flags a misspelt option at
the call, and :func:`engine_options` refuses one at run time before a home is touched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import getpass
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from pydantic import SecretStr

from engine.errors import HitlError, InvalidOption, UnknownOption
from engine.models.factory import model_problem
from engine.observe import Observer
from engine.storage.leases import LEASE_SECONDS
from engine.storage.sqlite_file import DURABILITIES, Durability

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Everything ``Engine.open`` takes besides the home, the policy and the tools.

    Values are checked when it is made (:class:`~engine.errors.InvalidOption`, one line
    each), so a bad one stops ``Engine.open`` before the home is created.
    """

    model: str | BaseChatModel = "scripted"
    """A model spec ("scripted", "openai:<model name>"), or a chat model of your own:
    threads started on it record its name (``ClassName:model_name``) and resume only
    in an engine opened with that model."""
    think_seconds: float = 0.0
    """The demo model's pause before each reply, so that a demo looks alive."""
    base_url: str | None = None
    """An OpenAI-compatible endpoint (else ``$OPENAI_BASE_URL``, else OpenAI's)."""
    api_key: SecretStr | None = None
    """The endpoint's key (else ``$OPENAI_API_KEY``); a plain str is wrapped, so that
    no ``repr`` shows it."""
    operator: str | None = None
    """Who this engine decides as (else ``$HITL_OPERATOR``, else the login name)."""
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
    send_notifications: bool = True
    """Deliver, while open, the notifications the policy's ``[[notify]]`` targets are
    owed (this process's and others'); queued either way, with their events."""
    adopt_threads: bool = True
    """With people's own graphs: take in the threads their app paused on the same
    checkpoint database (polled twice a second)."""
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
    durability: Durability = field(default_factory=lambda: default_durability())
    """SQLite: ``full`` (default, ``$HITL_DURABILITY``), every commit on disk before it
    is acknowledged; ``fast`` may lose the last commits to a power cut or an OS crash
    (never to a process crash): the "started" row of a call, a decision already
    acknowledged. PostgreSQL: see ``engine.storage.store.open_storage``."""

    def __post_init__(self) -> None:
        if isinstance(self.api_key, str):
            object.__setattr__(self, "api_key", SecretStr(self.api_key))
        if problems := _problems(self):
            raise InvalidOption("; ".join(problems))


class EngineOptionsDict(TypedDict, total=False):
    """The keywords ``Engine.open`` takes for :class:`EngineOptions`, field for field
    (a test keeps the two in step). ``api_key`` may be a plain str here."""

    model: str | BaseChatModel
    think_seconds: float
    base_url: str | None
    api_key: str | SecretStr | None
    operator: str | None
    follow_journal: bool
    warn_expiring: bool
    expire_on_time: bool
    apply_stranded_decisions: bool
    send_notifications: bool
    adopt_threads: bool
    run_slots: int
    lease_seconds: float
    max_edit_bytes: int
    observer: Observer | None
    durability: Durability


OPTION_NAMES = tuple(f.name for f in dataclasses.fields(EngineOptions))


def one_job(**options: Unpack[EngineOptionsDict]) -> EngineOptionsDict:
    """``options`` for a command that opens the engine for one job and closes it (a
    token, a sync with an Agent Server): the cross-process duties (the journal tail,
    expiry, stranded decisions) stay with the long-running processes."""
    return {
        **options,
        "follow_journal": False,
        "warn_expiring": False,
        "expire_on_time": False,
        "apply_stranded_decisions": False,
    }


def engine_options(options: Mapping[str, Any]) -> EngineOptions:
    """``options`` as checked :class:`EngineOptions`. Raises UnknownOption (a TypeError)
    naming a misspelt keyword and its likely meaning, InvalidOption for a bad value."""
    for name in options:
        if name not in OPTION_NAMES:
            close = difflib.get_close_matches(name, OPTION_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UnknownOption(
                f"Engine.open got an unknown option {name!r}{hint}; "
                f"known: {', '.join(OPTION_NAMES)}"
            )
    return EngineOptions(**options)


def _problems(options: EngineOptions) -> list[str]:
    problems: list[str] = []
    if isinstance(options.model, str):
        if (problem := model_problem(options.model)) is not None:
            problems.append(problem)
    elif not _is_chat_model(options.model):
        problems.append(f"model must be a model spec or a BaseChatModel, not {options.model!r}")
    if not (_whole(options.run_slots) and options.run_slots >= 1):
        problems.append(f"run_slots must be a whole number >= 1, not {options.run_slots!r}")
    if not (_finite(options.lease_seconds) and options.lease_seconds > 0):
        problems.append(f"lease_seconds must be a number > 0, not {options.lease_seconds!r}")
    if not (_finite(options.think_seconds) and options.think_seconds >= 0):
        problems.append(f"think_seconds must be a number >= 0, not {options.think_seconds!r}")
    if not (_whole(options.max_edit_bytes) and options.max_edit_bytes > 0):
        problems.append(
            f"max_edit_bytes must be a whole number > 0, not {options.max_edit_bytes!r}"
        )
    if options.durability not in DURABILITIES:
        problems.append(_durability_problem("durability", options.durability))
    if not isinstance(options.api_key, SecretStr | None):
        problems.append(f"api_key must be a str or SecretStr, not {type(options.api_key).__name__}")
    return problems


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_chat_model(model: object) -> bool:
    # A model object means LangChain is imported already; a spec never imports it.
    from langchain_core.language_models import BaseChatModel

    return isinstance(model, BaseChatModel)


def default_operator() -> str:
    """``$HITL_OPERATOR``, else the login name."""
    with contextlib.suppress(Exception):
        return os.environ.get("HITL_OPERATOR") or getpass.getuser()
    return "operator"


def default_durability() -> Durability:
    """``$HITL_DURABILITY``, else ``full``; a value it cannot take is an InvalidOption."""
    raw = os.environ.get("HITL_DURABILITY", "").strip()
    if not raw:
        return "full"
    for durability in DURABILITIES:
        if raw == durability:
            return durability
    raise InvalidOption(_durability_problem("$HITL_DURABILITY", raw))


def _durability_problem(name: str, value: object) -> str:
    """Names the value escaped (``'f\\u0430st'``): a look-alike letter must show."""
    return f"{name} must be 'full' or 'fast', not {value!a}"


def _max_edit_bytes() -> int:
    raw = os.environ.get("HITL_MAX_EDIT_KB", "256")
    try:
        kilobytes = float(raw)
    except ValueError:
        kilobytes = math.nan
    if not 0 < kilobytes < 1024 * 1024:
        raise HitlError(f"$HITL_MAX_EDIT_KB={raw!r} is not a number of kilobytes from 1 to 1048576")
    return max(1, int(kilobytes * 1024))
