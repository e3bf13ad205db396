"""Calling a person back to the console: the terminal bell and the terminal's title.

A new approval, or one the policy is about to reject, rings the bell when its tier is one
the settings name (``ConsoleSettings.bell_tiers``); the title always says how many calls
wait ("hitl · 3 pending"), so a person in another window or tab sees it without looking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from textual.app import App

    from engine import ApprovalView


def title_of(base: str, pending: int) -> str:
    """The console's title with ``pending`` approvals waiting."""
    return f"{base} · {pending} pending" if pending else base


class Attention:
    """Rings and retitles for one app."""

    def __init__(self, app: App[Any], bell_tiers: Iterable[str], base_title: str) -> None:
        self._app = app
        self._bell_tiers = frozenset(bell_tiers)
        self._base = base_title

    def call_for(self, approvals: Iterable[ApprovalView]) -> None:
        """One bell for a batch that holds any approval of a ringing tier."""
        if any(a.tier in self._bell_tiers for a in approvals):
            self._app.bell()

    def show_pending(self, pending: int) -> None:
        title = title_of(self._base, pending)
        if self._app.title == title:
            return
        # Quietly: assigning App.title repaints the whole screen (nothing on it shows the
        # title), and with calls coming and going that was a full repaint every frame.
        self._app.set_reactive(type(self._app).title, title)
        driver = self._app._driver
        if driver is not None and not self._app.is_headless:
            driver.write(f"\x1b]2;{title}\x07")  # OSC 2: the terminal window's title
