"""The policy in force: what the console's policy screen shows, as data."""

from __future__ import annotations

from fastapi import APIRouter

from api.bodies import PolicyDoc, RuleDoc, TierDoc
from api.identity import EngineHere, Reading

router = APIRouter(tags=["policy"])


@router.get("/policy")
async def policy(engine: EngineHere, _: Reading) -> PolicyDoc:
    """Tools and their tiers, the rules, and what each tier asks of people."""
    in_force = engine.policy
    return PolicyDoc(
        source=in_force.source,
        digest=engine.policy_digest,
        default_tier=str(in_force.default),
        tools={tool: str(tier) for tool, tier in sorted(in_force.tiers.items())},
        rules=[
            RuleDoc(name=r.name, tool=r.tool, when=r.when, tier=str(r.tier), line=r.line)
            for r in in_force.rules
        ],
        tiers=[
            TierDoc(
                tier=str(tier),
                approvals=s.approvals,
                distinct_operators=s.distinct_operators,
                expires_after=s.expires_after,
                warn_before=s.warn_before,
            )
            for tier, s in in_force.settings.items()
        ],
        text=in_force.text,
    )
