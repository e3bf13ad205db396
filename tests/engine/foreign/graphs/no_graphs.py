"""Nothing graph-like, only a function that might build one."""

from typing import Any

retries = 3


def build_agent() -> Any:
    return None
