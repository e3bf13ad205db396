"""A call's arguments in the person's own editor: ``E`` on a card (and ``ctrl+o`` in the
built-in dialog) runs ``$VISUAL``/``$EDITOR`` on a private file; what comes back opens in
the built-in dialog, and only its Submit decides.

A real engine on a temporary home, and a real editor process: a small Python script
given as ``$EDITOR`` (with an argument, as ``code -w`` has), that rewrites the file.
A headless test has no terminal to suspend, so the app hands over nothing
(``hand_over``); the terminal handover itself is in the tmux test.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from engine import Reject
from engine.engine import Engine
from tui.app import HitlApp
from tui.screens.edit import EditScreen
from tui.widgets.json_editor import JsonEditor

from .helpers import EMAIL, paused, running_console, wait_for_notice, wait_until

SCRIPTS = {
    "cfo": """
text = path.read_text(encoding="utf-8")
path.write_text(text.replace("boss@company.com", "cfo@company.com"), encoding="utf-8")
""",
    "broken": """
path.write_text('{"to": "cfo@company.com",\\n  "subject": oops}', encoding="utf-8")
""",
    "fail": """
path.write_text("{}", encoding="utf-8")
sys.exit(3)
""",
    "latin1": """
path.write_bytes('{"to": "caf\\xe9@company.com"}'.encode("latin-1"))
""",
    "huge": """
path.write_text(json.dumps({"body": "x" * 2_000_000}), encoding="utf-8")
""",
    "wait": """
import time
while not (path.parent / (path.name + ".go")).exists() and not GO.exists():
    time.sleep(0.02)
path.write_text(path.read_text(encoding="utf-8").replace("boss@", "cfo@"), encoding="utf-8")
""",
    "same": "",
}


def _editor(tmp_path: Path, behaviour: str) -> str:
    """``$EDITOR``: python, the script, and a flag (a command with arguments, split as
    a shell would). The script notes the file it got, its mode and its text."""
    script = tmp_path / f"editor-{behaviour}.py"
    script.write_text(
        "import json, os, stat, sys\n"
        "from pathlib import Path\n"
        "assert sys.argv[1] == '--wait', sys.argv\n"
        "path = Path(sys.argv[-1])\n"
        f"NOTE = Path({str(tmp_path / 'note.json')!r})\n"
        f"GO = Path({str(tmp_path / 'go')!r})\n"
        "NOTE.write_text(json.dumps({'path': str(path), 'mode': stat.S_IMODE(path.stat().st_mode),"
        " 'text': path.read_text(encoding='utf-8')}))\n" + SCRIPTS[behaviour],
        encoding="utf-8",
    )
    return f"{sys.executable} {script} --wait"


def _note(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "note.json").read_text())  # type: ignore[no-any-return]


def _exists(path: str) -> bool:
    return Path(path).exists()


def _with_editor(app: HitlApp, command: str | None) -> None:
    outside = app.decisions.outside
    outside.environ = {"EDITOR": command} if command else {}
    outside.hand_over = contextlib.nullcontext  # headless: no terminal to hand over


async def _press_E(app: HitlApp, pilot: Any) -> None:
    await wait_until(pilot, lambda: len(app.sidebar) >= 1, "the approval card")
    app.sidebar.focus()
    await pilot.press("E")


async def _dialog(app: HitlApp, pilot: Any) -> JsonEditor:
    await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), "the edit dialog")
    return app.screen.query_one(JsonEditor)


async def test_what_the_editor_wrote_is_reviewed_then_submitted(
    engine: Engine, tmp_path: Path
) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine, notifications=True) as (app, pilot):
        _with_editor(app, _editor(tmp_path, "cfo"))
        await _press_E(app, pilot)
        editor = await _dialog(app, pilot)
        note = _note(tmp_path)
        assert note["mode"] == 0o600  # private: arguments may hold secrets
        assert json.loads(note["text"])["to"] == "boss@company.com"
        assert not _exists(note["path"])  # removed once read back
        assert '"to": "cfo@company.com"' in editor.text  # as written, not re-formatted
        diff = str(app.screen.query_one("#diff").content)
        assert '- to: "boss@company.com"' in diff and '+ to: "cfo@company.com"' in diff
        [approval] = await engine.pending()
        assert approval.args["to"] == "boss@company.com"  # nothing decided before Submit

        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not app.live.pending, "the edit to be decided")
        assert await engine.pending() == []
        [card] = app.sidebar.rows
        assert (card.status, card.args["to"]) == ("edited", "cfo@company.com")


@pytest.mark.parametrize("behaviour", ["broken", "same"])
async def test_invalid_or_unchanged_text_opens_in_the_dialog_as_written(
    engine: Engine, tmp_path: Path, behaviour: str
) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        _with_editor(app, _editor(tmp_path, behaviour))
        await _press_E(app, pilot)
        editor = await _dialog(app, pilot)
        await pilot.pause()
        if behaviour == "broken":
            assert editor.text == '{"to": "cfo@company.com",\n  "subject": oops}'
            assert editor.value is None and "line 2" in editor.problems[0]
            assert app.screen.query_one("#submit").disabled
        else:
            assert editor.text == _note(tmp_path)["text"]
            assert "no changes from the original call" in str(app.screen.query_one("#diff").content)
        assert len(await engine.pending()) == 1


async def test_ctrl_o_takes_the_dialogs_text_to_the_editor_and_back(
    engine: Engine, tmp_path: Path
) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine) as (app, pilot):
        _with_editor(app, _editor(tmp_path, "cfo"))
        await wait_until(pilot, lambda: len(app.sidebar) >= 1, "the approval card")
        app.sidebar.focus()
        await pilot.press("e")
        editor = await _dialog(app, pilot)
        first = app.screen
        typed = '{"to": "boss@company.com", "subject": "typed here", "body": "b"}'
        editor.text_area.load_text(typed)
        await pilot.press("ctrl+o")
        await wait_until(
            pilot,
            lambda: app.screen is not first and isinstance(app.screen, EditScreen),
            "the dialog again",
        )
        assert _note(tmp_path)["text"] == typed  # what was typed went to the editor
        again = app.screen.query_one(JsonEditor)
        assert again.text == typed.replace("boss@", "cfo@")
        assert len(await engine.pending()) == 1


@pytest.mark.parametrize(
    ("behaviour", "says"),
    [
        ("fail", "exited with status 3: cancelled, nothing changed"),
        ("latin1", "not UTF-8"),
        ("huge", "bytes are refused"),
        (None, "Neither $VISUAL nor $EDITOR is set"),
    ],
)
async def test_a_failed_edit_changes_nothing_and_says_why(
    engine: Engine, tmp_path: Path, behaviour: str | None, says: str
) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine, notifications=True) as (app, pilot):
        _with_editor(app, _editor(tmp_path, behaviour) if behaviour else None)
        await _press_E(app, pilot)
        await wait_for_notice(pilot, app, says, says)
        assert not isinstance(app.screen, EditScreen)
        [approval] = await engine.pending()
        assert approval.args["to"] == "boss@company.com" and approval.received == 0
        if behaviour:
            assert not _exists(_note(tmp_path)["path"])


async def test_a_call_decided_while_the_editor_is_open_is_not_submitted(
    engine: Engine, tmp_path: Path
) -> None:
    await paused(engine, EMAIL)
    async with running_console(engine, notifications=True) as (app, pilot):
        _with_editor(app, _editor(tmp_path, "wait"))
        await _press_E(app, pilot)
        await wait_until(pilot, lambda: (tmp_path / "note.json").exists(), "the editor")
        [approval] = await engine.pending()
        await engine.decide(approval.id, Reject("not now"), operator="bob")
        await wait_until(pilot, lambda: not app.live.pending, "bob's decision")
        (tmp_path / "go").touch()
        await wait_for_notice(
            pilot,
            app,
            "the notice",
            "decided while your editor was open",
            "rejected by bob",
            "Nothing was submitted",
        )
        assert not isinstance(app.screen, EditScreen)


@pytest.mark.parametrize("editor_set", [True, False])
async def test_without_a_terminal_to_hand_over_it_says_so(
    engine: Engine, tmp_path: Path, editor_set: bool
) -> None:
    """The web console (textual-serve) and a headless run cannot suspend: said first,
    since setting $EDITOR would not help."""
    await paused(engine, EMAIL)
    async with running_console(engine, notifications=True) as (app, pilot):
        command = _editor(tmp_path, "cfo")
        app.decisions.outside.environ = {"EDITOR": command} if editor_set else {}
        await _press_E(app, pilot)
        await wait_for_notice(pilot, app, "the notice", "cannot hand its terminal to an editor")
        assert not (tmp_path / "note.json").exists()  # the editor never ran
        assert not isinstance(app.screen, EditScreen)
