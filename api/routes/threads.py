"""Threads: list them (by status), read one with its story, start one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.bodies import StartBody, ThreadStory
from api.identity import EngineHere, Reading, Starting
from engine import ThreadStatus, ThreadView

router = APIRouter(prefix="/threads", tags=["threads"])


@router.get("")
async def list_threads(
    engine: EngineHere,
    _: Reading,
    status: Annotated[ThreadStatus | None, Query(description="only threads in this status")] = None,
) -> list[ThreadView]:
    """Every thread, oldest first, as ``hitl threads`` lists them."""
    return await engine.threads(status)


@router.get("/{thread}")
async def show_thread(engine: EngineHere, _: Reading, thread: str) -> ThreadStory:
    """One thread (an id or a unique prefix), its approvals and its story."""
    found = await engine.thread(thread)
    return ThreadStory(
        thread=found,
        approvals=await engine.approvals(found.id),
        history=await engine.history(found.id),
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def start_thread(engine: EngineHere, _: Starting, body: StartBody) -> ThreadView:
    """Starts a thread; it runs in the server's process until it pauses or ends."""
    return await engine.start(body.task, graph=body.graph, input=body.input)
