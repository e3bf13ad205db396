"""What the console's helpers (decisions, stories) need of the app that hosts them.

Each helper names its needs as a Protocol built on :class:`Host` rather than importing
``HitlApp``: the app imports its helpers, never the other way round, and what a helper
may touch is written down beside it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tui.live import LiveState
from tui.settings import ConsoleSettings

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from engine import Engine

T = TypeVar("T")


class Host(Protocol):
    """The engine (None until it is open), what the console knows, and how it says things."""

    @property
    def engine(self) -> Engine | None: ...

    @property
    def live(self) -> LiveState: ...

    @property
    def settings(self) -> ConsoleSettings: ...

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
    ) -> None: ...

    async def attempt(self, call: Awaitable[T]) -> T | None:
        """Awaits an engine call; an error becomes a notification and the result None."""
        ...

    def run_worker(
        self,
        work: Coroutine[Any, Any, None],
        *,
        group: str = "default",
        exit_on_error: bool = True,
        exclusive: bool = False,
    ) -> object: ...
