"""The engine stays headless, and listings stay light.

Each module is imported in a fresh interpreter: what it drags in is what a script,
the CLI or a remote backend would pay for.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import engine

MODULES = [
    *sorted(m.name for m in pkgutil.walk_packages(engine.__path__, "engine.") if not m.ispkg),
    "engine",
]


def _loaded_after(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in out.stdout.split()}


@pytest.mark.parametrize("module", MODULES)
def test_no_engine_module_imports_the_console(module: str) -> None:
    """Rich is not checked here: httpx (under LangGraph's SDK) loads it for its own CLI
    whenever it is installed. That the engine's code never imports Rich or Textual
    itself is checked by import-linter (`make lint`)."""
    loaded = _loaded_after(f"import {module}")
    assert not loaded & {"textual", "tui"}


def test_listing_commands_do_not_import_langgraph() -> None:
    """Nor pydantic (the options' SecretStr, the tools' argument models): a listing
    paid ~200 ms more for it before the engine's package imported those lazily."""
    loaded = _loaded_after("import engine, engine.cli, engine.storage.store, tui.entry")
    assert not loaded & {"langgraph", "langchain_core", "langchain_openai", "textual", "pydantic"}
