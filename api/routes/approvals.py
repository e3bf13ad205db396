"""Approvals: the pending ones (filtered as ``hitl pending`` and ``--all-matching``),
one of them, and deciding it as the token's operator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response
from pydantic import TypeAdapter

from api.bodies import DecisionBody, Problem, decision_of
from api.encoding import json_response
from api.identity import Deciding, EngineHere, Reading
from engine import ApprovalView, Tier

router = APIRouter(prefix="/approvals", tags=["approvals"])
_LISTING = TypeAdapter(list[ApprovalView])

_REFUSALS: dict[int | str, dict[str, object]] = {
    code: {"model": Problem, "description": said}
    for code, said in (
        (403, "four-eyes: this operator approved already; or the policy denies the edit"),
        (404, "no such approval"),
        (409, "someone decided first: the message names who, and when"),
        (410, "the approval expired: it was rejected automatically"),
        (422, "the decision does not fit (arguments failing the tool's schema are listed)"),
    )
}


@router.get("", response_model=list[ApprovalView])
async def list_pending(
    engine: EngineHere,
    _: Reading,
    thread: Annotated[str | None, Query(description="only this thread's (id or prefix)")] = None,
    tool: Annotated[list[str] | None, Query(description="only calls of these tools")] = None,
    tier: Annotated[list[Tier] | None, Query(description="only calls of these tiers")] = None,
) -> Response:
    """Every pending approval, oldest first; each filter given must match, a filter
    given twice matches either value."""
    tiers = {t.value for t in tier or ()}
    pending = await engine.pending(thread)
    return json_response(
        [a for a in pending if (not tool or a.tool in tool) and (not tiers or a.tier in tiers)],
        _LISTING,
    )


@router.get("/{approval}", responses={404: {"model": Problem}})
async def show_approval(engine: EngineHere, _: Reading, approval: str) -> ApprovalView:
    """One approval, pending or decided (an id or a unique prefix)."""
    return await engine.approval(approval)


@router.post("/{approval}/decide", responses=_REFUSALS)
async def decide(
    engine: EngineHere,
    token: Deciding,
    approval: str,
    body: Annotated[DecisionBody, Body()],
) -> ApprovalView:
    """Records the decision as the token's operator; when it is the last one needed
    the thread resumes in the server's process. Exactly the engine's checks apply."""
    return await engine.decide(approval, decision_of(body), operator=token.operator)
