"""Test-only crash points: the process dies at a commit, as a power cut or an OOM kill.

``HITL_CRASH_AT=after:decision`` kills the process right after the first transaction
that records a ``decision`` audit entry commits; ``before:KIND`` right before it does.
The crash-injection tests use it to prove that a state change and its audit entry
are never separated. Unset (always, outside those tests), it costs one comparison.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

_CRASH_AT = os.environ.get("HITL_CRASH_AT", "")


def crash_point(moment: str, labels: Iterable[str]) -> None:
    if not _CRASH_AT:
        return
    when, _, kind = _CRASH_AT.partition(":")
    if when == moment and kind in labels:
        os.kill(os.getpid(), signal.SIGKILL)
