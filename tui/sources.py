"""Where the app gets its engine and its first look at the home, as the types it is given.

Apart from ``tui.launch`` (which builds the app, so imports it) so that the app can name
them without importing its builder.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, NamedTuple

from engine import ApprovalView, ThreadView

if TYPE_CHECKING:
    from engine import Engine

EngineOpener = Callable[[], AbstractAsyncContextManager["Engine"]]
"""Opens the engine inside the app's event loop and closes it when the app ends."""


class HomeSnapshot(NamedTuple):
    """What the home holds, read without the engine: enough for the first paint."""

    threads: list[ThreadView]
    pending: list[ApprovalView]


ReadHome = Callable[[], Awaitable[HomeSnapshot | None]]
"""Reads the home's plain rows (``engine.Reader``); None when there is no home yet."""
