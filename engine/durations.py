"""Durations as a person reads them, in one rule set for the listings, the console and
the engine's own messages.

Whole units, counted down (59 s is "59s", never "1m"); nothing shorter than a second;
a negative duration (a time already past, a clock a little ahead) reads as "0s".
"""

from __future__ import annotations

from itertools import pairwise

UNITS = (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1))
"""Each unit a duration is written in, largest first, with its length in seconds."""


def age(seconds: float) -> str:
    """``seconds`` in its largest unit only, in at most four characters where a column
    is narrow: "0s", "59s", "1m", "59m", "1h", "23h", "1d", "400d"."""
    whole = max(0, int(seconds))
    for unit, size in UNITS:
        if whole >= size:
            return f"{whole // size}{unit}"
    return "0s"


def span(seconds: float) -> str:
    """``seconds`` in its two largest units, the smaller left out when it is zero:
    "12s", "4m 10s", "1h", "23h 59m", "1d 2h"."""
    whole = max(0, int(seconds))
    for (unit, size), (smaller, small_size) in pairwise(UNITS):
        if whole >= size:
            rest = (whole % size) // small_size
            return f"{whole // size}{unit}" + (f" {rest}{smaller}" if rest else "")
    return f"{whole}s"
