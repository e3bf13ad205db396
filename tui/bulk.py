"""Deciding many calls at once: what will be sent, one confirmation, then one report.

The plan says, before anything is sent, how many calls the decision covers, the highest
tier among them and how many will still wait for a second approval (four-eyes: a bulk
approval is one approval per call, from this console's operator, never two). Calls a bulk
decision must not cover (an outcome-unknown call, whose approval re-runs it; an interrupt
that wants an answer; a card whose interrupt does not take the decision) are left out and
named. Each call goes through ``engine.decide`` like a single decision, so the engine stays
the truth: a card turns decided only on its ApprovalDecided event, and a call someone else
decided meanwhile is reported, never decided again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from textual.screen import Screen

from engine import AlreadyDecided, ApprovalView, Approve, Decision, HitlError, Reject
from tui.host import Host
from tui.queue import tier_rank
from tui.screens.confirm_bulk import ConfirmBulk
from tui.widgets.approval_sidebar import BulkKind

AnswerT = TypeVar("AnswerT")


@dataclass(frozen=True, slots=True)
class BulkPlan:
    """The calls a bulk decision will send, and those it leaves out (with why)."""

    kind: BulkKind
    calls: tuple[ApprovalView, ...]
    skipped: tuple[tuple[ApprovalView | str, str], ...] = ()
    """(the card, or the id of one no longer waiting; why it is left out)."""

    @classmethod
    def of(cls, kind: BulkKind, ids: Iterable[str], pending: dict[str, ApprovalView]) -> BulkPlan:
        calls: list[ApprovalView] = []
        skipped: list[tuple[ApprovalView | str, str]] = []
        for approval_id in ids:
            approval = pending.get(approval_id)
            if approval is None:
                skipped.append((approval_id, "no longer waiting (decided elsewhere)"))
            elif (why := _left_out(kind, approval)) is not None:
                skipped.append((approval, why))
            else:
                calls.append(approval)
        return cls(kind, tuple(calls), tuple(skipped))

    @property
    def highest_tier(self) -> str:
        return max((a.tier for a in self.calls), key=tier_rank, default="")

    @property
    def still_waiting(self) -> int:
        """Calls that, after this console's approval, wait for another (four-eyes)."""
        if self.kind != "approve":
            return 0
        return sum(1 for a in self.calls if a.received + 1 < a.required)

    def headline(self) -> str:
        """ "approve 12 calls — highest tier: high (3 need a second approval)"."""
        count = len(self.calls)
        text = f"{self.kind} {count} call{'s' * (count != 1)} — highest tier: {self.highest_tier}"
        if waiting := self.still_waiting:
            needs = "needs" if waiting == 1 else "need"
            second = all(a.received == 0 and a.required == 2 for a in self._waiting())
            text += f" ({waiting} {needs} {'a second' if second else 'another'} approval)"
        return text

    def _waiting(self) -> list[ApprovalView]:
        return [a for a in self.calls if a.received + 1 < a.required]


def _left_out(kind: BulkKind, approval: ApprovalView) -> str | None:
    """Why a bulk ``kind`` must not cover ``approval``, if it must not."""
    if approval.status != "pending":
        return "no longer waiting (decided elsewhere)"
    if approval.kind == "interrupt":
        return "an interrupt that wants an answer: decide it on its own"
    if kind == "approve" and approval.kind == "outcome_unknown":
        return "outcome unknown (approving re-runs it): decide it on its own"
    if not approval.allows(kind):
        return f"its interrupt does not take {kind}"
    return None


@dataclass(slots=True)
class BulkReport:
    """What happened to each call sent, for the one notification at the end."""

    decided: list[ApprovalView] = field(default_factory=list)
    waiting: list[ApprovalView] = field(default_factory=list)
    """Approved here, still waiting for another operator."""
    elsewhere: list[str] = field(default_factory=list)
    """Decided by someone (or the clock) meanwhile: not decided again, the engine's words."""
    refused: list[str] = field(default_factory=list)

    def text(self, plan: BulkPlan) -> str:
        done = "approved" if plan.kind == "approve" else "rejected"
        parts = [f"{len(self.decided)} {done}"]
        if self.waiting:
            parts.append(f"{len(self.waiting)} got this approval and wait for another operator's")
        if self.elsewhere:
            parts.append(
                f"{len(self.elsewhere)} decided elsewhere meanwhile, not re-decided: "
                + "; ".join(self.elsewhere[:3])
            )
        if self.refused:
            parts.append(f"{len(self.refused)} refused: " + "; ".join(self.refused[:3]))
        if plan.skipped:
            parts.append(f"{len(plan.skipped)} left out: " + "; ".join(_skips(plan)[:3]))
        return "; ".join(parts) + "."

    @property
    def troubled(self) -> bool:
        return bool(self.elsewhere or self.refused)


def _skips(plan: BulkPlan) -> list[str]:
    return [f"{_named(card)} {why}" for card, why in plan.skipped]


def _named(card: ApprovalView | str) -> str:
    if isinstance(card, str):
        return card
    return f"{card.tool or 'interrupt'} ({card.id})"


class BulkHost(Host, Protocol):
    """The app as a bulk decision sees it: it shows a dialog, and moves the cursor off
    the calls sent and drops their marks."""

    def push_screen(
        self, screen: Screen[AnswerT], callback: Callable[[AnswerT | None], None]
    ) -> object: ...

    def sent_in_bulk(self, approval_ids: tuple[str, ...]) -> None: ...


class BulkFlow:
    def __init__(self, app: BulkHost) -> None:
        self.app = app

    def begin(self, kind: BulkKind, approval_ids: Iterable[str]) -> None:
        """Plans the decision, asks once, and sends it when the person confirms."""
        app = self.app
        if app.engine is None:  # before asking: the marks stay for when it is open
            app.notify("The engine is not open yet; the marks stay.", severity="warning")
            return
        plan = BulkPlan.of(kind, approval_ids, app.live.pending)
        if not plan.calls:
            app.notify(
                f"Nothing to {kind}: " + "; ".join(_skips(plan)[:3]) + ".", severity="warning"
            )
            return

        def titled(approval: ApprovalView) -> str:
            thread = app.live.threads.get(approval.thread_id)
            return thread.title if thread else approval.thread_id

        def confirmed(reason: str | None) -> None:
            if reason is None:
                return
            ids = tuple(a.id for a in plan.calls)
            app.sent_in_bulk(ids)
            decision: Decision = Approve() if kind == "approve" else Reject(reason or None)
            app.run_worker(self._send(plan, decision), group="decisions")

        app.push_screen(
            ConfirmBulk(
                plan.headline(),
                [(a, titled(a)) for a in plan.calls],
                _skips(plan),
                arm_seconds=app.settings.confirm_arm_seconds,
                ask_reason=kind == "reject",
                show_ids=app.settings.show_ids,
            ),
            confirmed,
        )

    async def _send(self, plan: BulkPlan, decision: Decision) -> None:
        app = self.app
        engine = app.engine
        if engine is None:
            app.notify("The engine is not open yet.", severity="error")
            return
        report = BulkReport()

        async def one(approval: ApprovalView) -> None:
            if approval.id not in app.live.pending:  # its ApprovalDecided came meanwhile
                report.elsewhere.append(f"{approval.tool} ({approval.id}) is no longer waiting")
                return
            try:
                decided = await engine.decide(approval.id, decision)
            except AlreadyDecided as error:
                report.elsewhere.append(str(error))
            except HitlError as error:
                report.refused.append(str(error))
            else:
                (report.waiting if decided.status == "pending" else report.decided).append(decided)

        await asyncio.gather(*(one(a) for a in plan.calls))
        app.notify(
            report.text(plan),
            title=plan.headline(),
            severity="warning" if report.troubled or plan.skipped else "information",
            timeout=20 if report.troubled else 10,
        )
