"""The audit log: filtered as ``hitl audit``, exported as JSON Lines, and verified."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from api.identity import EngineHere, Reading
from engine import AuditEntry, Verification

router = APIRouter(prefix="/audit", tags=["audit"])


_Thread = Annotated[str | None, Query(description="only this thread's (id or prefix)")]
_Tool = Annotated[str | None, Query(description="only entries about this tool")]
_By = Annotated[str | None, Query(description="only entries by this operator")]
_Moment = Annotated[datetime | None, Query(description="ISO time or epoch seconds")]


async def _entries(
    engine: EngineHere,
    _: Reading,
    thread: _Thread = None,
    tool: _Tool = None,
    by: _By = None,
    since: _Moment = None,
    until: _Moment = None,
) -> list[AuditEntry]:
    """The entries the filters pick (every filter given must match), oldest first."""
    return await engine.audit(
        thread=thread,
        tool=tool,
        operator=by,
        since=since.timestamp() if since else None,
        until=until.timestamp() if until else None,
    )


Picked = Annotated[list[AuditEntry], Depends(_entries)]


@router.get("")
async def audit_log(entries: Picked) -> list[AuditEntry]:
    """The entries, oldest first, as ``hitl audit --json``."""
    return entries


@router.get(
    ".jsonl",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def audit_export(entries: Picked) -> StreamingResponse:
    """The same entries as JSON Lines, one entry a line, as ``hitl audit --jsonl``."""

    async def lines() -> AsyncIterator[str]:
        for entry in entries:
            yield json.dumps(dataclasses.asdict(entry), ensure_ascii=False) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/verify")
async def verify(engine: EngineHere, _: Reading) -> Verification:
    """Walks the hash chain: ``ok``, or the first entry that was changed, removed or moved."""
    return await engine.verify_audit()
