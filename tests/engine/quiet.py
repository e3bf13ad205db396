"""Engine options for tests that act themselves: no duty done on a beat."""

from __future__ import annotations

NO_WATCHER = {
    "follow_journal": False,
    "warn_expiring": False,
    "expire_on_time": False,
    "apply_stranded_decisions": False,
}
"""Every duty an open engine does on a beat, switched off: each test acts itself."""
