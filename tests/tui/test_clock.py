"""Wall-clock times as the console writes them."""

from __future__ import annotations

import re
import time

from tui.clock import SystemClock


def test_a_time_of_today_is_the_time_alone() -> None:
    assert re.fullmatch(r"\d\d:\d\d:\d\d", SystemClock().time_of(time.time()))


def test_a_time_of_another_day_names_the_day() -> None:
    later = SystemClock().time_of(time.time() + 3 * 86400)  # an expiry, days ahead
    assert re.fullmatch(r"\w{3} \d\d \w{3} \d\d:\d\d", later), later
    assert time.strftime("%d %b", time.localtime(time.time() + 3 * 86400)) in later
