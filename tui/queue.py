"""Which waiting calls the approval sidebar shows, and in what order.

Pure: no Textual, so the words a person types (``tier:high tool:send thread:q3 invoice``)
are parsed and matched in one place, testable on their own. Matching works on what the
card shows (tool, thread title and id, arguments), case-folded, every word required, as
the thread list's filter does.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal, get_args

from engine import ApprovalView, Tier

QueueOrder = Literal["oldest", "urgent"]
"""Oldest first (the order calls were asked in), or most urgent first (soonest expiry)."""

ORDERS: tuple[QueueOrder, ...] = get_args(QueueOrder)

TIERS: tuple[str, ...] = tuple(tier.value for tier in Tier)


def tier_rank(tier: str) -> int:
    """How much attention ``tier`` asks for: low < medium < high < deny; an unknown
    tier ranks with high (a name the console cannot place is not treated as harmless)."""
    return TIERS.index(tier) if tier in TIERS else TIERS.index("high")


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What the person typed, parsed: tiers (``tier:high``, ``tier:medium+``), tool and
    thread words (``tool:``, ``thread:``), and free words matched against the whole card."""

    tiers: frozenset[str] = frozenset()
    tools: tuple[str, ...] = ()
    threads: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    text: str = ""
    """The text as typed (trimmed), for the sidebar's title."""

    @classmethod
    def parse(cls, text: str) -> QueueFilter:
        tiers: set[str] = set()
        tools: list[str] = []
        threads: list[str] = []
        words: list[str] = []
        for word in text.casefold().split():
            key, colon, value = word.partition(":")
            if colon and key in ("tier", "is", "tool", "thread") and not value:
                continue  # being typed: "tool:" alone narrows nothing yet
            if colon and key in ("tier", "is"):
                tiers |= _tiers_named(value)
            elif colon and key == "tool":
                tools.append(value)
            elif colon and key == "thread":
                threads.append(value)
            else:
                words.append(word)
        return cls(frozenset(tiers), tuple(tools), tuple(threads), tuple(words), text.strip())

    def __bool__(self) -> bool:
        return bool(self.tiers or self.tools or self.threads or self.words)

    def matches(self, approval: ApprovalView, thread_title: str) -> bool:
        if self.tiers and approval.tier not in self.tiers:
            return False
        tool = approval.tool.casefold()
        if not all(word in tool for word in self.tools):
            return False
        thread = f"{approval.thread_id} {thread_title}".casefold()
        if not all(word in thread for word in self.threads):
            return False
        if self.words:
            card = f"{approval.id} {tool} {approval.tier} {thread} {approval.summary}".casefold()
            return all(word in card for word in self.words)
        return True


def _tiers_named(value: str) -> set[str]:
    """``high`` -> {high}; ``medium+`` -> medium and above; ``h`` -> high (a prefix);
    a word naming no tier matches no card (an empty queue says so, never all of it)."""
    at_least = value.endswith("+")
    value = value.rstrip("+")
    named = [tier for tier in TIERS if tier.startswith(value)]
    if not named:
        return {f"no tier {value}"}
    if at_least:
        return {tier for tier in TIERS if tier_rank(tier) >= tier_rank(named[0])}
    return set(named)


def order_key(approval: ApprovalView, order: QueueOrder) -> Hashable:
    """Oldest first, or the soonest to expire first (calls that never expire last,
    oldest first among themselves)."""
    base = (approval.created_at, approval.thread_id, approval.tool_call_id, approval.id)
    if order == "urgent":
        expires = approval.expires_at if approval.expires_at is not None else math.inf
        return (expires, *base)
    return base
