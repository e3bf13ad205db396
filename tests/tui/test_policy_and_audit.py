"""The policy's part in the console: why a call is risky, the policy and audit screens,
denied calls, four-eyes and expiry. A real engine on a temporary home, driven by keys."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from textual.command import CommandList
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from engine import Edit, Home
from engine.engine import Engine
from engine.policy_file import DEFAULT_POLICY_TOML
from tests.conftest import run_sql
from tui.app import HitlApp
from tui.calls import plain
from tui.screens.audit import AuditEntryScreen, AuditScreen
from tui.screens.confirm import ConfirmHighRisk
from tui.screens.policy import PolicyScreen

from .helpers import EMAIL, TRANSFER, paused, running_console, wait_for_notice, wait_until

RIVAL = "email the deck to x@rival.com"


def _detail_text(app: HitlApp) -> str:
    return plain(app.detail.query_one("#call", Static).content)


def _table_rows(screen: AuditScreen) -> list[list[str]]:
    table = screen.query_one("#entries", DataTable)
    return [[plain(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


@contextlib.asynccontextmanager
async def _engine_with_policy(home: Home, policy: str) -> AsyncIterator[Engine]:
    home.create()
    home.policy_file.write_text(policy)
    async with Engine.open(home, operator="alice") as engine:
        yield engine


async def test_the_detail_shows_the_rule_that_made_a_call_risky(engine: Engine) -> None:
    await paused(engine, RIVAL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        assert app.sidebar.rows[0].tier == "high"
        await wait_until(pilot, lambda: "rules:" in _detail_text(app), "the rules in the detail")
        detail = " ".join(_detail_text(app).split())
        assert "why: rule 'email outside company.com': !args.to.endsWith('@company.com')" in detail
        assert "rules: email outside company.com" in detail
        assert "expires: in 23h 59m" in detail  # the default policy: 24 hours
        await wait_until(pilot, lambda: app.header.operator == "alice", "the operator")
        assert plain(app.header.render()).startswith("hitl · alice │")
        await wait_until(pilot, lambda: app.pane.thread is not None, "the thread")
        head = plain(app.pane.query_one("#head", Static).content)
        assert "scripted (demo model) · started" in head


async def test_the_policy_screen_lists_tools_rules_and_tiers(engine: Engine) -> None:
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.engine is not None, "the engine")
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PolicyScreen), "the policy")
        screen = app.screen

        def shown(widget_id: str) -> str:
            return " ".join(plain(screen.query_one(widget_id, Static).content).split())

        assert str(engine.home.policy_file) in shown("#source")
        assert "default tier medium" in shown("#source")
        assert "transfer_money high" in shown("#tools")
        assert "search low" in shown("#tools")
        rules = shown("#rules")
        assert (
            "email outside company.com send_email !args.to.endsWith('@company.com') high" in rules
        )
        assert "path escapes the sandbox delete_file" in rules and "deny" in rules
        assert "high 2 no 1d 10m" in shown("#tiers")
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(app.screen_stack) == 1, "the screen to close")
        await pilot.press("ctrl+p", *"policy: show")
        await wait_until(
            pilot, lambda: app.screen.query_one(CommandList).option_count > 0, "palette hits"
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PolicyScreen), "from the palette")


async def test_the_audit_screen_shows_the_decision_and_a_broken_chain(
    engine: Engine, home: Home
) -> None:
    await paused(engine, EMAIL)
    transfer = await paused(engine, TRANSFER)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 2, "the approval cards")
        app.sidebar.focus()
        await pilot.press("a")
        await wait_until(pilot, lambda: app.sidebar.rows[0].status == "approved", "approved")
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, AuditScreen), "the audit screen")
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        await wait_until(pilot, lambda: screen.verification is not None, "the entries")
        assert "✓ intact" in screen.verify_line
        assert f"head {screen.verification.head[:16]}" in screen.verify_line  # type: ignore[union-attr]
        rows = _table_rows(screen)
        [decision] = [r for r in rows if r[2] == "decision"]
        assert decision[4:6] == ["send_email", "alice"]
        assert decision[6].startswith("approve → approved · 1/1")
        assert any(r[2] == "approval_requested" and r[4] == "transfer_money" for r in rows)

        await pilot.press("t")  # the thread in the pane: the next call's, the transfer
        await wait_until(pilot, lambda: screen.thread_id == transfer, "the thread's entries")
        await wait_until(
            pilot,
            lambda: {r[4] for r in _table_rows(screen)} == {"transfer_money"},
            "only its rows",
        )

        run_sql(home, "UPDATE hitl_audit SET operator = 'mallory' WHERE kind = 'decision'")
        await pilot.press("r")
        await wait_until(pilot, lambda: "broken" in screen.verify_line, "the broken chain")
        assert "was changed after it was written" in screen.verify_line
        assert screen.query_one("#verify").has_class("-broken")


async def test_the_thread_list_opens_the_audit_of_its_thread(engine: Engine) -> None:
    email = await paused(engine, EMAIL)
    await paused(engine, TRANSFER)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: len(app.thread_list) == 2, "both threads")
        app.thread_list.focus()
        app.thread_list.select(email)
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, AuditScreen), "the audit screen")
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        await wait_until(pilot, lambda: screen.verification is not None, "the entries")
        assert screen.thread_id == email
        assert {r[4] for r in _table_rows(screen)} == {"send_email"}
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(app.screen_stack) == 1, "the screen to close")


async def test_a_denied_call_shows_in_the_thread_pane(engine: Engine) -> None:
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: app.engine is not None, "the engine")
        app._start_thread("delete the file /etc/passwd")
        await wait_until(
            pilot, lambda: "denied by policy: delete_file" in app.pane.story_text, "the denial"
        )
        assert '{"path": "/etc/passwd"}' in app.pane.story_text
        assert "rule 'path escapes the sandbox'" in app.pane.story_text
        assert len(app.sidebar) == 0  # nobody was asked


async def test_four_eyes_refuses_the_same_operator_twice(home: Home) -> None:
    policy = DEFAULT_POLICY_TOML.replace("distinct_operators = false", "distinct_operators = true")
    async with _engine_with_policy(home, policy) as engine:
        await paused(engine, TRANSFER)
        async with running_console(engine, confirm_arm_seconds=0.05, notifications=True) as (
            app,
            pilot,
        ):
            await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
            assert "four-eyes: each approval from a different operator" in _detail_text(app)
            app.sidebar.focus()
            for attempt in (1, 2):
                await pilot.press("a")
                await wait_until(pilot, lambda: isinstance(app.screen, ConfirmHighRisk), "confirm")
                screen = app.screen
                await wait_until(pilot, lambda s=screen: s.armed, "the approve button to arm")
                await pilot.press("tab", "enter")
                if attempt == 1:
                    await wait_until(
                        pilot, lambda: app.sidebar.rows[0].received == 1, "approval 1 of 2"
                    )
                    assert "approved by: alice" in _detail_text(app)
            await wait_for_notice(
                pilot, app, "the four-eyes error", "alice already approved it", severity="error"
            )
            assert app.is_running
            [approval] = await engine.pending()
            assert (approval.received, approval.approvers) == (1, ("alice",))
            assert app.sidebar.rows[0].received == 1


async def test_an_expiring_approval_warns_then_shows_expired(home: Home) -> None:
    policy = DEFAULT_POLICY_TOML.replace(
        '[tiers.medium]\napprovals = 1\nexpires_after = "24h"\nwarn_before = "10m"',
        '[tiers.medium]\napprovals = 1\nexpires_after = "2.5s"\nwarn_before = "1.5s"',
    )
    assert 'expires_after = "2.5s"' in policy
    async with _engine_with_policy(home, policy) as engine:
        async with running_console(engine, notifications=True) as (app, pilot):
            await wait_until(pilot, lambda: app.engine is not None, "the engine")
            rang: list[None] = []
            app.bell = lambda: rang.append(None)  # type: ignore[method-assign]  # headless
            app._start_thread(EMAIL)
            await wait_for_notice(
                pilot, app, "the expiry warning", "send_email in “", severity="warning"
            )
            assert len(rang) == 2  # the bell: once when it came, once when it warned
            await wait_until(
                pilot, lambda: "send_email expired by policy" in app.pane.story_text, "the expiry"
            )
            assert "nobody decided in time; it did not run" in app.pane.story_text
            assert app.sidebar.rows[0].decided_by == "policy:expiry"
        assert not list(home.outbox.glob("*.eml"))


async def test_the_console_says_when_pending_calls_were_asked_under_another_policy(
    home: Home,
) -> None:
    async with Engine.open(home, operator="alice") as first:
        await paused(first, EMAIL)
    home.policy_file.write_text(DEFAULT_POLICY_TOML.replace('search = "low"', 'search = "medium"'))
    async with Engine.open(home, operator="alice") as engine:
        async with running_console(engine, notifications=True) as (app, pilot):
            await wait_until(
                pilot,
                lambda: any(n.title == "policy changed" for n in app._notifications),
                "the warning",
            )
            [warning] = [n for n in app._notifications if n.title == "policy changed"]
            assert warning.message.startswith("1 pending call was requested under another")


async def test_the_console_says_nothing_when_the_policy_is_the_same(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine, notifications=True) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        await pilot.pause()
        assert not [n for n in app._notifications if n.title == "policy changed"]


async def _open_audit(app: HitlApp, pilot: Pilot[int], more_than: int) -> AuditScreen:
    """Opens the whole home's audit log with its key, once it holds enough entries."""
    await wait_until(pilot, lambda: app.engine is not None, "the engine")
    await pilot.press("A")
    await wait_until(pilot, lambda: isinstance(app.screen, AuditScreen), "the audit screen")
    screen = app.screen
    assert isinstance(screen, AuditScreen)
    await wait_until(pilot, lambda: len(screen.shown) > more_than, "the entries")
    return screen


async def test_the_audit_log_opens_focused_newest_first_and_shows_an_edit_whole(
    engine: Engine,
) -> None:
    email = await paused(engine, EMAIL)
    await paused(engine, TRANSFER)
    [approval] = await engine.pending(email)
    edited = {**approval.args, "to": "cfo@company.com"}
    await engine.decide(approval.id, Edit(edited), operator="alice")
    async with running_console(engine) as (app, pilot):
        screen = await _open_audit(app, pilot, more_than=3)
        assert screen.focused is screen.table  # keys move through it at once
        seqs = [int(r[0]) for r in _table_rows(screen)]
        assert seqs == sorted(seqs, reverse=True)  # newest first
        assert {r[3] for r in _table_rows(screen)} >= {email[:8]}  # a thread column

        await pilot.press("slash", *"decision")
        await wait_until(pilot, lambda: len(screen.shown) == 1, "the filter")
        await pilot.press("enter", "home", "enter")  # to the table, first row, open it
        await wait_until(pilot, lambda: isinstance(app.screen, AuditEntryScreen), "the entry")
        entry = app.screen
        assert isinstance(entry, AuditEntryScreen)
        assert '- to: "boss@company.com"' in entry.text
        assert '+ to: "cfo@company.com"' in entry.text
        assert approval.id in entry.text and email in entry.text
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, "back to the log")
        await pilot.press("escape")  # first clears the filter…
        await wait_until(pilot, lambda: len(screen.shown) > 3, "every entry again")
        assert app.screen is screen
        await pilot.press("escape")  # …then closes
        await wait_until(pilot, lambda: len(app.screen_stack) == 1, "the log to close")


async def test_the_audit_table_moves_with_the_list_keys(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        screen = await _open_audit(app, pilot, more_than=1)
        await pilot.press("j")
        assert screen.table.cursor_row == 1
        await pilot.press("k")
        assert screen.table.cursor_row == 0
        await pilot.press("end")
        assert screen.table.cursor_row == len(screen.shown) - 1
        await pilot.press("home")
        assert screen.table.cursor_row == 0
