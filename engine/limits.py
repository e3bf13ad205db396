"""How much a person's input may hold: one limit for the CLI, the console and scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_JSON_DEPTH = 100
"""Lists and objects nested deeper than this are refused (Ruby's JSON default): no tool's
arguments come near it, and deeper input only serves to exhaust a parser's stack."""


def nested_deeper(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` nests lists and objects more than ``limit`` deep; without
    recursion, so the check itself cannot run out of stack."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in _children(item))
    return False


def _children(item: dict[str, Any] | list[Any] | tuple[Any, ...]) -> Sequence[Any]:
    return list(item.values()) if isinstance(item, dict) else item
