"""Risk tiers and the rules that give each tool call its tier.

The policy is the only place that decides how risky a call is; the gate asks it,
widgets and the CLI only show its answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Tier(StrEnum):
    """How much human attention a tool call needs before it runs."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


APPROVALS_REQUIRED: Mapping[Tier, int] = {Tier.LOW: 0, Tier.MEDIUM: 1, Tier.HIGH: 2}
"""Approvals a call of each tier needs before it runs."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's answer for one call: its tier and why."""

    tier: Tier
    approvals_required: int
    reason: str

    @property
    def gated(self) -> bool:
        return self.approvals_required > 0

    @property
    def audited(self) -> bool:
        return self.tier is Tier.HIGH


@dataclass(frozen=True, slots=True)
class Policy:
    """Tool name -> tier, with a default for tools the policy does not name."""

    tiers: Mapping[str, Tier] = field(default_factory=dict)
    default: Tier = Tier.MEDIUM

    def verdict(self, tool: str, args: Mapping[str, Any] | None = None) -> Verdict:
        """The tier of calling ``tool`` with ``args``; ``args`` is for rules that read them."""
        if tool in self.tiers:
            tier, reason = self.tiers[tool], f"tool {tool} is {self.tiers[tool]}"
        else:
            tier, reason = self.default, f"unlisted tool: default tier {self.default}"
        return Verdict(tier=tier, approvals_required=APPROVALS_REQUIRED[tier], reason=reason)

    @classmethod
    def from_mapping(cls, tiers: Mapping[str, str], default: str = "medium") -> Policy:
        return cls({name: Tier(t) for name, t in tiers.items()}, Tier(default))


DEMO_POLICY = Policy.from_mapping(
    {
        "search": "low",
        "read_file": "low",
        "send_email": "medium",
        "create_order": "medium",
        "delete_file": "medium",
        "delete_data": "high",
        "transfer_money": "high",
    }
)
"""The tiers of the demo tool catalogue."""
