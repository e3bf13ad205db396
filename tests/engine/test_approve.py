"""Approving a gated call runs exactly that call, and the thread carries on."""

from __future__ import annotations

from engine import Approve, Home
from engine.engine import Engine


async def test_approved_email_lands_in_the_outbox(engine: Engine, home: Home) -> None:
    thread = await engine.start("email the Q3 report to boss@company.com")
    await engine.wait(thread.id)
    [approval] = await engine.pending(thread.id)
    assert (approval.tool, approval.tier, approval.required) == ("send_email", "medium", 1)
    assert approval.args["to"] == "boss@company.com"
    assert not list(home.outbox.glob("*.eml"))

    await engine.decide(approval.id, Approve())
    await engine.wait(thread.id)

    [sent] = list(home.outbox.glob("*.eml"))
    assert "To: boss@company.com" in sent.read_text()
    finished = await engine.thread(thread.id)
    assert finished.status == "done"
    assert "Email sent to boss@company.com" in (finished.answer or "")
    assert await engine.pending() == []
