"""The real console in a real terminal: tmux runs ``hitl console``; we type and read the screen.

On each database a home can live in (the ``home`` fixture), as a person would run it.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Home

pytestmark = pytest.mark.tmux

HITL = Path(sys.executable).parent / "hitl"


@pytest.fixture
def tmux_session() -> Iterator[str]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed; the real-terminal smoke test needs it")
    name = f"hitl-test-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True, check=False)


def screen(session: str) -> str:
    done = subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=False
    )
    return done.stdout


def wait_for_screen(session: str, text: str, limit: float = 20.0) -> str:
    deadline = time.monotonic() + limit
    while True:
        shown = screen(session)
        if text in shown:
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared; the screen was:\n{shown}")
        time.sleep(0.1)  # polling the terminal: the deadline, not the sleep, bounds the wait


def wait_for_any(session: str, *texts: str, limit: float = 20.0) -> str:
    deadline = time.monotonic() + limit
    while True:
        shown = screen(session)
        if any(text in shown for text in texts) or time.monotonic() > deadline:
            return shown
        time.sleep(0.1)


def keys(session: str, *typed: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", session, *typed], check=True)


def start_console(
    session: str, home: Home, width: int = 160, height: int = 45, environ: str = ""
) -> None:
    """One waiting email, and the console on it in a ``width`` x ``height`` terminal, with
    ``environ`` (``NAME=value`` words, shell-quoted) in its environment."""
    where = ["--home", str(home.path)]
    if home.database_url:
        where += ["--database", home.database_url]
    subprocess.run(
        [str(HITL), *where, "run", "email the Q3 report to boss@company.com"],
        check=True,
        capture_output=True,
    )
    # COLUMNS/LINES from the test runner's environment would override the terminal's size.
    command = (
        f"env -u COLUMNS -u LINES {environ} {HITL} {shlex.join(where)} --operator carol console;"
        " echo CONSOLE-EXIT-$?; sleep 30"
    )
    size = ["-x", str(width), "-y", str(height)]
    subprocess.run(["tmux", "new", "-d", "-s", session, *size, command], check=True)
    # A tmux server that is already running may size new windows its own way: pin ours.
    subprocess.run(["tmux", "set-option", "-t", session, "window-size", "manual"], check=False)
    resize(session, width, height)


def resize(session: str, width: int, height: int) -> None:
    size = ["-x", str(width), "-y", str(height)]
    subprocess.run(["tmux", "resize-window", "-t", session, *size], check=False)


def wait_for_engine(session: str) -> None:
    """Painted from the home's rows first; decisions need the engine."""
    deadline = time.monotonic() + 20
    while "opening the engine" in screen(session) and time.monotonic() < deadline:
        time.sleep(0.1)


def approve_until_done(session: str) -> None:
    # A card that just appeared under the cursor ignores decision keys for half a second
    # (the stray-keypress guard): if the key came too soon, the console says so; look, retry.
    for _ in range(20):
        keys(session, "a")
        if "approved by carol" in wait_for_any(session, "approved by carol", limit=0.5):
            break
    wait_for_screen(session, "approved by carol")


def test_approve_in_the_real_console(tmux_session: str, home: Home) -> None:
    start_console(tmux_session, home)
    shown = wait_for_screen(tmux_session, "1 pending approval")
    assert "send_email" in shown and "medium 0/1" in shown

    keys(tmux_session, "Tab", "Tab")  # threads -> thread pane -> approvals
    wait_for_screen(tmux_session, "a Approve")
    approve_until_done(tmux_session)
    wait_for_screen(tmux_session, "✓ 1 done")
    assert list(home.outbox.glob("*.eml"))

    keys(tmux_session, "q")
    wait_for_screen(tmux_session, "CONSOLE-EXIT-0")


def test_a_narrow_terminal_shows_one_region_at_a_time(tmux_session: str, home: Home) -> None:
    """At 80x24 the approvals are a tab of their own: drawn before a key decides."""
    start_console(tmux_session, home, 80, 24)
    shown = wait_for_screen(tmux_session, "1 pending │")  # the short header keeps the count
    assert "1 Threads" in shown and "3 Approvals (1)" in shown
    assert "Pending approvals" not in shown
    keys(tmux_session, "Tab", "Tab")  # threads -> thread -> approvals, each drawn in turn
    shown = wait_for_screen(tmux_session, "Pending approvals")
    assert "send_email" in shown and "Threads 1" not in shown
    assert "? Help" in shown and "q Quit" in shown  # the narrow footer keeps them first
    approve_until_done(tmux_session)
    wait_for_screen(tmux_session, "✓1")  # the short header: one thread done
    assert list(home.outbox.glob("*.eml"))
    resize(tmux_session, 160, 45)  # wide again: the three regions side by side
    shown = wait_for_screen(tmux_session, "Threads 1")
    assert "Pending approvals" in shown and "1 Threads" not in shown
    keys(tmux_session, "q")
    wait_for_screen(tmux_session, "CONSOLE-EXIT-0")


def test_bulk_approve_in_the_real_console(tmux_session: str, home: Home) -> None:
    """Space marks two of three cards, ctrl+a asks once, Tab Enter sends: two emails go,
    the unmarked call still waits."""
    where = ["--home", str(home.path)]
    if home.database_url:
        where += ["--database", home.database_url]
    for n in (1, 2, 3):
        subprocess.run(
            [str(HITL), *where, "run", f"email the note {n} to person{n}@company.com"],
            check=True,
            capture_output=True,
        )
    command = (
        f"env -u COLUMNS -u LINES {HITL} {shlex.join(where)} --operator carol console;"
        " echo CONSOLE-EXIT-$?; sleep 30"
    )
    subprocess.run(
        ["tmux", "new", "-d", "-s", tmux_session, "-x", "160", "-y", "45", command], check=True
    )
    subprocess.run(["tmux", "set-option", "-t", tmux_session, "window-size", "manual"], check=False)
    subprocess.run(
        ["tmux", "resize-window", "-t", tmux_session, "-x", "160", "-y", "45"], check=False
    )
    wait_for_screen(tmux_session, "3 pending approvals")
    wait_for_engine(tmux_session)
    keys(tmux_session, "Tab", "Tab")  # threads -> thread pane -> approvals
    wait_for_screen(tmux_session, "space Mark")
    keys(tmux_session, "Home", "Space", "Space")  # the first two cards
    wait_for_screen(tmux_session, "2 marked")
    keys(tmux_session, "C-a")
    wait_for_screen(tmux_session, "Approve 2 calls — highest tier: medium?")
    wait_for_screen(tmux_session, "Yes, approve 2")  # armed
    keys(tmux_session, "Tab", "Enter")
    wait_for_screen(tmux_session, "1 pending approval")
    wait_for_screen(tmux_session, "✓ 2 done")  # the emails are sent after the decisions
    assert len(list(home.outbox.glob("*.eml"))) == 2
    done = subprocess.run(
        [str(HITL), *where, "pending"], check=True, capture_output=True, text=True
    )
    assert "Note 3" in done.stdout
    assert "Note 1" not in done.stdout and "Note 2" not in done.stdout

    keys(tmux_session, "q")  # one call still waits: the console asks first
    wait_for_screen(tmux_session, "pending")


def test_edit_in_editor_in_the_real_console(tmux_session: str, home: Home) -> None:
    """``E`` hands the terminal to ``$EDITOR`` (a shell that shows a line, waits for
    Enter, then rewrites the file with ``sed -i``); the console comes back with the edit
    dialog showing the change, and ctrl+s sends it: the email goes to the new address."""
    editor = "sh -c 'echo EDITOR-OPEN on $0; read answer; sed -i s/boss@/cfo@/ \"$0\"'"
    start_console(tmux_session, home, environ=f"-u VISUAL EDITOR={shlex.quote(editor)}")
    wait_for_screen(tmux_session, "1 pending approval")
    wait_for_engine(tmux_session)
    keys(tmux_session, "Tab", "Tab")  # threads -> thread pane -> approvals
    wait_for_screen(tmux_session, "a Approve")
    for _ in range(20):  # the stray-keypress guard may refuse a key that came too soon
        keys(tmux_session, "E")
        if "EDITOR-OPEN" in wait_for_any(tmux_session, "EDITOR-OPEN", limit=0.5):
            break
    shown = wait_for_screen(tmux_session, "EDITOR-OPEN on ")
    assert "Pending approvals" not in shown  # the console gave the terminal away
    path = Path(shown.split("EDITOR-OPEN on ", 1)[1].split()[0])
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    keys(tmux_session, "Enter")  # typed into the editor, not the console
    wait_for_screen(tmux_session, "From your editor")
    shown = wait_for_screen(tmux_session, '+ to: "cfo@company.com"')
    assert '- to: "boss@company.com"' in shown and "Submit edit" in shown
    assert not path.exists()
    assert "1 pending approval" in shown  # nothing sent before Submit
    keys(tmux_session, "C-s")
    wait_for_screen(tmux_session, "✓ 1 done")
    [sent] = list(home.outbox.glob("*.eml"))
    assert "cfo@company.com" in sent.read_text() and "boss@company.com" not in sent.read_text()
    keys(tmux_session, "q")
    wait_for_screen(tmux_session, "CONSOLE-EXIT-0")
