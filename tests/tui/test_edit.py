"""Editing a call in the console: what the policy would ask of the edited call, shown as
you type; a denied edit that cannot be submitted; the Call panel's "why" following the
arguments shown; and who did what when one person edits and another approves.

A real engine on a temporary home (SQLite and PostgreSQL), driven by keys.
"""

from __future__ import annotations

import json
from typing import Any

from textual.widgets import Button, Static

from engine import Edit
from engine.engine import Engine
from tui.app import HitlApp
from tui.calls import plain
from tui.screens.confirm import ConfirmHighRisk
from tui.screens.edit import EditScreen
from tui.widgets.json_editor import JsonEditor

from .helpers import EMAIL, TRANSFER, paused, running_console, wait_for_notice, wait_until

DELETE = "delete the file notes.txt"
OUTSIDE = "rule 'email outside company.com': !args.to.endsWith('@company.com')"


def _words(text: str) -> str:
    return " ".join(text.split())


def _verdict(app: HitlApp) -> str:
    return _words(plain(app.screen.query_one("#verdict", Static).content))


def _detail(app: HitlApp) -> str:
    return _words(plain(app.detail.query_one("#call", Static).content))


def _submit_disabled(app: HitlApp) -> bool:
    return app.screen.query_one("#submit", Button).disabled


async def _open_editor(app: HitlApp, pilot: Any) -> JsonEditor:
    await wait_until(pilot, lambda: len(app.sidebar) >= 1, "the approval card")
    app.sidebar.focus()
    await pilot.press("e")
    await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), "the editor")
    return app.screen.query_one(JsonEditor)


async def test_the_editor_shows_what_the_edited_call_would_need_as_you_type(
    engine: Engine,
) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine, notifications=True) as (app, pilot):
        editor = await _open_editor(app, pilot)
        await wait_until(pilot, lambda: "rules: none match" in _verdict(app), "the first verdict")
        assert _verdict(app).startswith("medium · your edit approves it")
        assert "why: tool send_email is medium" in _verdict(app)
        original: dict[str, Any] = dict(editor.value or {})

        editor.text_area.load_text(json.dumps(dict(original, to="deals@rival.com")))
        await wait_until(pilot, lambda: _verdict(app).startswith("high"), "the stricter verdict")
        verdict = _verdict(app)
        assert "high (now medium) · needs 2 approvals: your edit is the first" in verdict
        assert "rules: email outside company.com" in verdict
        assert f"why: {OUTSIDE}" in verdict
        assert not _submit_disabled(app)

        editor.text_area.load_text(json.dumps(dict(original, to="cfo@company.com")))
        await wait_until(pilot, lambda: _verdict(app).startswith("medium"), "medium again")
        assert "rules: none match" in _verdict(app)

        editor.text_area.load_text(json.dumps(dict(original, to="deals@rival.com")))
        await wait_until(pilot, lambda: _verdict(app).startswith("high"), "high again")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: len(app.screen_stack) == 1, "the editor to close")
        await wait_for_notice(
            pilot, app, "the notice that one more approval is needed", title="edit recorded"
        )
        [card] = app.sidebar.rows
        assert (card.status, card.tier, card.received, card.required) == ("pending", "high", 1, 2)
        assert card.edited_by == "alice"


async def test_an_edit_the_policy_denies_cannot_be_submitted(engine: Engine) -> None:
    await paused(engine, DELETE)
    async with running_console(engine, notifications=True) as (app, pilot):
        editor = await _open_editor(app, pilot)
        await wait_until(pilot, lambda: "why:" in _verdict(app), "the first verdict")
        editor.text_area.load_text('{"path": "../../etc/passwd"}')
        await wait_until(pilot, lambda: "denies" in _verdict(app), "the denial")
        verdict = _verdict(app)
        assert "⊘ the policy denies this edit: rule 'path escapes the sandbox'" in verdict
        assert "it cannot be submitted" in verdict
        assert editor.value == {"path": "../../etc/passwd"}  # valid JSON, valid schema
        assert _submit_disabled(app)

        await pilot.press("ctrl+s")
        await wait_for_notice(pilot, app, "the refusal", "Not submitted")
        assert isinstance(app.screen, EditScreen)
        [approval] = await engine.pending()
        assert (approval.args, approval.received) == ({"path": "notes.txt"}, 0)

        editor.text_area.load_text('{"path": "old-notes.txt"}')
        await wait_until(pilot, lambda: "denies" not in _verdict(app), "a verdict that allows it")
        assert _verdict(app).startswith("medium")
        assert not _submit_disabled(app)


async def test_the_call_panel_says_why_of_the_arguments_shown(engine: Engine) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        await wait_until(pilot, lambda: "why:" in _detail(app), "the call panel")
        assert "why: tool send_email is medium" in _detail(app)
        [approval] = await engine.pending()

        edited = dict(approval.args, to="deals@rival.com")
        await engine.decide(approval.id, Edit(edited), operator="root")  # from elsewhere
        await wait_until(pilot, lambda: "deals@rival.com" in _detail(app), "the edited call")
        detail = _detail(app)
        assert "send_email · high · 1/2 approvals" in detail
        assert f"why: {OUTSIDE}" in detail
        assert "rules: email outside company.com" in detail
        assert "edited by: root" in detail
        assert "approved by" not in detail  # the edit is root's approval, said once
        assert "is medium" not in detail  # nothing left of the unedited call's reason
        assert app.sidebar.rows[0].tier == "high"


async def test_one_edits_another_approves_and_the_console_says_who_did_what(
    engine: Engine,
) -> None:
    await paused(engine, TRANSFER)
    async with running_console(engine, confirm_arm_seconds=0.05) as (app, pilot):
        await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
        [approval] = await engine.pending()
        edited = dict(approval.args, amount=4000)
        await engine.decide(approval.id, Edit(edited), operator="root")
        await wait_until(pilot, lambda: app.sidebar.rows[0].edited_by == "root", "root's edit")
        await wait_until(
            pilot, lambda: "transfer_money edited by root" in app.pane.story_text, "the story"
        )

        app.sidebar.focus()
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmHighRisk), "confirm")
        screen = app.screen
        await wait_until(pilot, lambda: screen.armed, "the approve button to arm")  # type: ignore[attr-defined]
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: app.sidebar.rows[0].status == "edited", "the decision")

        card = app.sidebar.render_line(0).text + "\n" + app.sidebar.render_line(1).text
        assert card.startswith("✎ transfer_money")
        assert "  edited by root · approved by alice" in card
        await wait_until(
            pilot,
            lambda: "✎ transfer_money edited by root · approved by alice" in app.pane.story_text,
            "the final story line",
        )
        assert "edited by alice" not in app.pane.story_text + card
