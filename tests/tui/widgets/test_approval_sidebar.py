"""The approval list: order, a cursor new cards never move, decision intents, decided cards."""

from __future__ import annotations

from dataclasses import replace

from textual.app import App, ComposeResult
from textual.message import Message

from tui.clock import FixedClock
from tui.widgets.approval_sidebar import ApprovalSidebar

from ._factories import approval


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ApprovalSidebar(FixedClock(), settle_seconds=0.0)


async def test_oldest_first_and_new_cards_do_not_move_the_cursor() -> None:
    app = Host()
    async with app.run_test() as pilot:
        sidebar = app.query_one(ApprovalSidebar)
        sidebar.upsert([approval("b", created_at=2), approval("a", created_at=1)])
        sidebar.focus()
        await pilot.press("down")
        assert sidebar.cursor == "b"
        sidebar.upsert([approval("z", created_at=0.5), approval("c", created_at=3)])
        assert sidebar.visible_keys == ["z", "a", "b", "c"]
        assert sidebar.cursor == "b"


async def test_decision_keys_post_intents_for_the_card_under_the_cursor() -> None:
    seen: list[Message] = []
    app = Host()
    async with app.run_test(message_hook=seen.append) as pilot:
        sidebar = app.query_one(ApprovalSidebar)
        sidebar.upsert([approval("a", created_at=1), approval("b", created_at=2)])
        sidebar.focus()
        await pilot.press("j", "a", "r", "e", "s")
        await pilot.pause()
    requested = {id(m): m for m in seen if isinstance(m, ApprovalSidebar.DecisionRequested)}
    intents = [(m.approval_id, m.kind) for m in requested.values()]
    assert intents == [("b", "approve"), ("b", "reject"), ("b", "edit"), ("b", "respond")]


async def test_a_card_turns_decided_only_when_told_and_cannot_be_decided_again() -> None:
    seen: list[Message] = []
    app = Host()
    async with app.run_test(message_hook=seen.append) as pilot:
        sidebar = app.query_one(ApprovalSidebar)
        card = approval("a", created_at=1)
        sidebar.upsert([card])
        sidebar.focus()
        sidebar.upsert([replace(card, status="approved", decided_by="bob")])
        await pilot.pause()
        assert sidebar.render_line(0).text.startswith("✓ send_email")
        assert sidebar.render_line(1).text.startswith("  approved by bob")
        await pilot.press("a")
        await pilot.pause()
    assert not [m for m in seen if isinstance(m, ApprovalSidebar.DecisionRequested)]


async def test_a_decision_for_a_card_it_never_had_is_ignored() -> None:
    app = Host()
    async with app.run_test():
        sidebar = app.query_one(ApprovalSidebar)
        sidebar.upsert([approval("x", created_at=1, status="rejected")])
        assert len(sidebar) == 0


async def test_keys_wait_after_the_card_under_the_cursor_changes_by_itself() -> None:
    seen: list[Message] = []

    class Settling(App[None]):
        def compose(self) -> ComposeResult:
            yield ApprovalSidebar(FixedClock(), settle_seconds=600)

    app = Settling()
    async with app.run_test(message_hook=seen.append) as pilot:
        sidebar = app.query_one(ApprovalSidebar)
        sidebar.upsert([approval("a", created_at=1), approval("b", created_at=2)])
        sidebar.focus()
        await pilot.press("home")
        sidebar.discard(["a"])  # decided elsewhere and gone: the cursor lands on b
        assert sidebar.cursor == "b"
        await pilot.press("a")
        await pilot.pause()
    assert not [m for m in seen if isinstance(m, ApprovalSidebar.DecisionRequested)]


async def test_card_shows_tier_approvals_and_age() -> None:
    app = Host()
    async with app.run_test(size=(60, 10)):
        sidebar = app.query_one(ApprovalSidebar)
        sidebar.upsert([approval("abcd1234", created_at=1, tier="high", received=1)])
        first, second = sidebar.render_line(0).text, sidebar.render_line(1).text
        assert "send_email" in first and "high" in first and "1/2" in first and "1m" in first
        assert 'to="boss@company.com"' in second


async def test_a_card_close_to_expiry_shows_the_time_left() -> None:
    app = Host()
    async with app.run_test(size=(60, 10)) as pilot:
        sidebar = app.query_one(ApprovalSidebar)
        sidebar.upsert(
            [
                approval("soon", created_at=1, expires_at=240.0),  # FixedClock: now is 0
                approval("later", created_at=2, expires_at=86_400.0),
            ]
        )
        await pilot.pause()
        assert "⏱4m medium 0/1" in sidebar.render_line(0).text
        assert "⏱" not in sidebar.render_line(2).text
        sidebar.upsert(
            [approval("soon", created_at=1, status="rejected", decided_by="policy:expiry")]
        )
        await pilot.pause()
        assert sidebar.render_line(0).text.startswith("⏱ send_email")
        assert "expired: rejected by policy:expiry" in sidebar.render_line(1).text


async def test_a_decided_card_says_what_each_person_did() -> None:
    app = Host()
    async with app.run_test(size=(60, 12)) as pilot:
        sidebar = app.query_one(ApprovalSidebar)
        edited = {"to": "cfo@company.com", "subject": "Q3"}
        cards = [
            approval("a", created_at=1, tier="high"),
            approval("b", created_at=2, tier="high"),
            approval("c", created_at=3),
        ]
        sidebar.upsert(cards)
        sidebar.upsert(
            [
                replace(  # root edited (his approval), alice gave the second one
                    cards[0],
                    args=edited,
                    status="edited",
                    edited_by="root",
                    approvers=("root", "alice"),
                    decided_by="alice",
                ),
                replace(cards[1], status="approved", approvers=("alice", "bob"), decided_by="bob"),
                replace(  # bob rejected what root had edited
                    cards[2], args=edited, status="rejected", edited_by="root", decided_by="bob"
                ),
            ]
        )
        await pilot.pause()
        lines = [sidebar.render_line(y).text.rstrip() for y in range(6)]
    assert lines == [
        "✎ send_email",
        "  edited by root · approved by alice",
        "✓ send_email",
        "  approved by alice, bob",
        "✗ send_email",
        "  edited by root · rejected by bob",
    ]
