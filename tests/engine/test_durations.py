"""Durations read the same in the listings, the console and the engine's messages."""

from __future__ import annotations

import pytest

from engine.durations import age, span

MINUTE, HOUR, DAY = 60, 3600, 86_400


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (0.9, "0s"),
        (59, "59s"),
        (59.99, "59s"),
        (60, "1m"),
        (HOUR - 1, "59m"),
        (HOUR, "1h"),
        (DAY - MINUTE, "23h"),
        (DAY - 1, "23h"),
        (DAY, "1d"),
        (3 * DAY + 5 * HOUR, "3d"),
        (400 * DAY, "400d"),
        (-5, "0s"),
    ],
)
def test_age_is_the_largest_whole_unit(seconds: float, shown: str) -> None:
    assert age(seconds) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (61, "1m 1s"),
        (4 * MINUTE + 10, "4m 10s"),
        (HOUR - 1, "59m 59s"),
        (HOUR, "1h"),
        (HOUR + 30, "1h"),
        (DAY - MINUTE, "23h 59m"),
        (DAY, "1d"),
        (DAY + 2 * HOUR + 59 * MINUTE, "1d 2h"),
        (-1, "0s"),
        (-3 * DAY, "0s"),
    ],
)
def test_span_is_the_two_largest_whole_units(seconds: float, shown: str) -> None:
    assert span(seconds) == shown
