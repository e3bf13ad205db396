"""Time as the console shows it: ages and wall-clock times, from an injectable clock.

Widgets never call ``time.time()`` themselves; they ask the clock the app was given, so
a snapshot test can freeze what would otherwise change every second.
"""

from __future__ import annotations

import time
from typing import Protocol

from engine import age, span


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def age(self, at: float) -> str:
        """How long ago ``at`` was, in at most four characters ("12s", "5m", "3h", "2d")."""
        ...

    def time_of(self, at: float) -> str:
        """``at`` as a wall-clock time, "HH:MM:SS", with the date in front when it is not
        today ("Sat 28 Nov 17:40")."""
        ...

    def until(self, at: float) -> str:
        """How long until ``at``, as :func:`engine.durations.span` writes it ("23h 59m";
        "0s" once past)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def age(self, at: float) -> str:
        return age(self.now() - at)

    def time_of(self, at: float) -> str:
        """The time of day; with the date in front when ``at`` is not today."""
        when = time.localtime(at)
        if when[:3] == time.localtime(self.now())[:3]:
            return time.strftime("%H:%M:%S", when)
        return time.strftime("%a %d %b %H:%M", when)

    def until(self, at: float) -> str:
        return span(at - self.now())


class FixedClock:
    """Shows every age and time as the same text: for snapshots, where the engine's
    timestamps are real and would otherwise differ from run to run."""

    def __init__(
        self,
        now: float = 0.0,
        *,
        age: str = "1m",
        time_of: str = "09:30:00",
        until: str = "23h 59m",
    ) -> None:
        self._now = now
        self._age = age
        self._time_of = time_of
        self._until = until

    def now(self) -> float:
        return self._now

    def age(self, at: float) -> str:
        return self._age

    def time_of(self, at: float) -> str:
        return self._time_of

    def until(self, at: float) -> str:
        return self._until
