"""What the words typed over the approval queue match, and what a bulk plan covers
(pure: no console)."""

from __future__ import annotations

import pytest

from tests.tui.widgets._factories import approval
from tui.bulk import BulkPlan
from tui.queue import QueueFilter, order_key

EMAIL = approval("e1", created_at=1.0, args={"to": "bob@company.com", "amount": 3})
TRANSFER = approval("t1", created_at=2.0, tier="high", tool="transfer_money", expires_at=50.0)
SEARCH = approval("s1", created_at=3.0, tier="low", tool="search", expires_at=10.0)
CARDS = (EMAIL, TRANSFER, SEARCH)


def _matching(text: str) -> list[str]:
    wanted = QueueFilter.parse(text)
    return [a.id for a in CARDS if wanted.matches(a, f"thread of {a.id}")]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("", ["e1", "t1", "s1"]),
        ("tier:high", ["t1"]),
        ("TIER:HIGH", ["t1"]),
        ("tier:h", ["t1"]),
        ("tier:medium+", ["e1", "t1"]),
        ("tier:low tier:high", ["t1", "s1"]),
        ("tier:nonsense", []),  # a tier that does not exist matches nothing, never all
        ("tier:", ["e1", "t1", "s1"]),  # being typed: narrows nothing yet
        ("tool:trans", ["t1"]),
        ("thread:of s1", ["s1"]),
        ("bob@company", ["e1"]),
        ("tool:send bob", ["e1"]),
        ("tool:send nobody", []),
        ("\u200btier:high", []),  # a hidden character is not "tier:" (it is a word)
    ],
)
def test_words_match_tier_tool_thread_and_the_card(text: str, ids: list[str]) -> None:
    assert _matching(text) == ids


def test_expiring_first_puts_calls_that_never_expire_last() -> None:
    urgent = sorted(CARDS, key=lambda a: order_key(a, "urgent"))
    assert [a.id for a in urgent] == ["s1", "t1", "e1"]
    oldest = sorted(CARDS, key=lambda a: order_key(a, "oldest"))
    assert [a.id for a in oldest] == ["e1", "t1", "s1"]


def test_a_bulk_approval_leaves_out_what_it_must_not_cover() -> None:
    unknown = approval("u1", created_at=4.0, kind="outcome_unknown")
    asks = approval("i1", created_at=5.0, kind="interrupt", tool="")
    no_approve = approval("n1", created_at=6.0, allowed=("reject",))
    pending = {a.id: a for a in (*CARDS, unknown, asks, no_approve)}
    plan = BulkPlan.of("approve", [*pending, "gone"], pending)
    assert [a.id for a in plan.calls] == ["e1", "t1", "s1"]
    assert [card if isinstance(card, str) else card.id for card, _ in plan.skipped] == [
        "u1",
        "i1",
        "n1",
        "gone",
    ]
    assert plan.headline() == "approve 3 calls — highest tier: high (1 needs a second approval)"
    rejecting = BulkPlan.of("reject", list(pending), pending)
    assert [a.id for a in rejecting.calls] == ["e1", "t1", "s1", "u1", "n1"]
    assert rejecting.headline() == "reject 5 calls — highest tier: high"


def test_the_second_approval_of_a_high_risk_call_is_not_counted_as_waiting() -> None:
    second = approval("t2", created_at=1.0, tier="high", received=1, approvers=("bob",))
    plan = BulkPlan.of("approve", ["t2"], {"t2": second})
    assert plan.headline() == "approve 1 call — highest tier: high"


def test_a_tier_the_console_cannot_place_counts_as_high_not_harmless() -> None:
    odd = approval("x1", created_at=1.0, tier="critical")
    plan = BulkPlan.of("approve", ["e1", "x1"], {"e1": EMAIL, "x1": odd})
    assert plan.highest_tier == "critical"
