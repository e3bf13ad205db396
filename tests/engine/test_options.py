"""``Engine.open``'s options: typed, checked before a home is touched, the key kept out of
sight, and no process-wide side effect."""

from __future__ import annotations

import dataclasses
import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import engine
from engine import (
    EngineOptions,
    EngineOptionsDict,
    HitlError,
    Home,
    InvalidOption,
    UnknownOption,
)
from engine.engine import Engine
from tests.engine.chat_server import ChatServer, PlannedCall

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-do-not-print-me"
MYPY_FLAGS = ("--strict", "--follow-imports=silent", "--cache-dir=/dev/null")


async def test_a_misspelt_option_is_a_type_error_before_the_home_exists(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    options: dict[str, Any] = {"operater": "alice"}
    with pytest.raises(TypeError, match="unknown option 'operater' \\(did you mean 'operator'"):
        async with Engine.open(home, **options):
            pass
    assert not home.path.exists()
    with pytest.raises(UnknownOption):  # and a HitlError: the CLI prints it as one line
        async with Engine.open(home, **options):
            pass


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("run_slots", 0, "run_slots must be a whole number >= 1, not 0"),
        ("run_slots", 1.5, "run_slots must be a whole number >= 1, not 1.5"),
        ("lease_seconds", 0, "lease_seconds must be a number > 0, not 0"),
        ("lease_seconds", float("nan"), "lease_seconds must be a number > 0, not nan"),
        ("think_seconds", -1, "think_seconds must be a number >= 0, not -1"),
        ("max_edit_bytes", 0, "max_edit_bytes must be a whole number > 0, not 0"),
        ("model", "gpt-4o", "unknown model 'gpt-4o': use 'scripted' or 'openai:<model name>'"),
        ("model", 42, "model must be a model spec or a BaseChatModel, not 42"),
    ],
)
async def test_a_bad_value_is_one_line_before_the_home_exists(
    tmp_path: Path, option: str, value: object, says: str
) -> None:
    home = Home(tmp_path / "home")
    options: dict[str, Any] = {option: value}
    with pytest.raises(InvalidOption) as raised:
        async with Engine.open(home, **options):
            pass
    assert str(raised.value) == says
    assert not home.path.exists()


def test_every_bad_value_is_named_at_once() -> None:
    with pytest.raises(InvalidOption) as raised:
        EngineOptions(run_slots=0, think_seconds=-1)
    assert str(raised.value) == (
        "run_slots must be a whole number >= 1, not 0; think_seconds must be a number >= 0, not -1"
    )


def test_the_keywords_of_open_are_the_fields_of_the_options() -> None:
    keywords = set(EngineOptionsDict.__annotations__)
    assert keywords == {f.name for f in dataclasses.fields(EngineOptions)}


def test_a_type_checker_flags_a_misspelt_option(tmp_path: Path) -> None:
    caller = tmp_path / "caller.py"
    caller.write_text(
        "from engine import Engine\n\n"
        "async def main() -> None:\n"
        '    async with Engine.open("home", operater="alice", run_slots="4") as engine:\n'
        "        print(engine)\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "mypy", *MYPY_FLAGS, str(caller)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert 'Unexpected keyword argument "operater"' in out.stdout
    assert 'Argument "run_slots" to "open" of "Engine" has incompatible type "str"' in out.stdout


async def test_the_api_key_is_never_shown_and_reaches_the_endpoint(home: Home) -> None:
    options = EngineOptions(api_key=SECRET)
    assert SECRET not in repr(options) and SECRET not in str(options)
    calls = [PlannedCall("send_email", {"to": "a@company.com", "subject": "s", "body": "b"})]
    with ChatServer(calls) as server:
        async with Engine.open(
            home, model="openai:m", base_url=server.base_url, api_key=SECRET, operator="alice"
        ) as opened:
            assert SECRET not in repr(opened) and SECRET not in str(opened)
            assert SECRET not in repr(opened.options)
            thread = await opened.start("email a@company.com")
            await opened.wait(thread.id)
    assert server.keys and set(server.keys) == {SECRET}


async def test_opening_an_engine_freezes_nothing_process_wide(home: Home) -> None:
    before = gc.get_freeze_count()
    async with Engine.open(home, operator="alice") as opened:
        await opened.pending()
    assert gc.get_freeze_count() == before


def test_the_hitl_process_freezes_its_imports(tmp_path: Path) -> None:
    """The freeze moved to the ``hitl`` entry point; under load it keeps the collector's
    full passes off LangGraph's objects (see ``engine.cli.freeze_import_garbage``)."""
    code = (
        "import gc, sys\n"
        "from tui.entry import main\n"
        f"sys.argv = ['hitl', '--home', {str(tmp_path / 'home')!r}, 'run', 'search for cats']\n"
        "code = main()\n"
        "print('frozen', gc.get_freeze_count() > 0, 'exit', code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.splitlines()[-1] == "frozen True exit 0"


def test_what_a_caller_receives_is_exported() -> None:
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
    for name in ("EngineOptions", "AuditEntry", "Verification", "ToolSpec", "ToolContext"):
        assert name in engine.__all__
    assert engine.Event is engine.events.Event
    assert issubclass(engine.UnknownOption, HitlError)
