"""The call under the cursor: why it is risky, on what terms, and the time left, live."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static

from tui.calls import plain
from tui.clock import SystemClock
from tui.widgets.approval_detail import ApprovalDetail

from ._factories import approval


class SteppedClock(SystemClock):
    """The real formatting, with a time the test moves."""

    def __init__(self, now: float) -> None:
        self.at = now

    def now(self) -> float:
        return self.at


class Host(App[None]):
    def __init__(self, clock: SteppedClock) -> None:
        super().__init__()
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield ApprovalDetail(self.clock, show_ids=False)


def shown(app: Host) -> str:
    return " ".join(plain(app.query_one("#call", Static).content).split())


async def test_rule_four_eyes_approvers_and_a_live_countdown() -> None:
    reason = "rule 'large transfer': args.amount > 1000.0"
    clock = SteppedClock(now=1000.0)
    app = Host(clock)
    async with app.run_test(size=(100, 30)) as pilot:
        detail = app.query_one(ApprovalDetail)
        detail.show(
            approval(
                "a",
                created_at=900.0,
                tier="high",
                reason=reason,
                description=f"Transfer money. Risk high: {reason}.",
                rules=("large transfer", "new payee"),
                distinct_operators=True,
                approvers=("alice",),
                received=1,
                expires_at=1000.0 + 5 * 60 + 30,
            ),
            "pay the invoice",
        )
        await pilot.pause()
        text = shown(app)
        assert "why: rule 'large transfer': args.amount > 1000.0" in text
        assert "rules: large transfer, new payee" in text
        assert "four-eyes: each approval from a different operator" in text
        assert "approved by: alice" in text
        assert "expires: in 5m 30s" in text
        assert "Risk high" not in text  # said once, in "why"
        clock.at += 60
        detail.tick()
        await pilot.pause()
        assert "expires: in 4m 30s" in shown(app)
        clock.at += 300
        detail.tick()
        await pilot.pause()
        assert "expires: now: the policy rejects it" in shown(app)


async def test_a_call_without_rules_or_expiry_says_only_its_tier_reason() -> None:
    app = Host(SteppedClock(now=0.0))
    async with app.run_test(size=(100, 30)) as pilot:
        detail = app.query_one(ApprovalDetail)
        detail.show(approval("a", created_at=0.0, reason="tool send_email is medium"))
        await pilot.pause()
        text = shown(app)
        assert "why: tool send_email is medium" in text
        assert "rules:" not in text and "four-eyes" not in text and "expires" not in text
