"""Shared fixtures: a real home directory (SQLite file) per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine import Home
from engine.engine import Engine


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


@pytest.fixture
async def engine(home: Home) -> AsyncIterator[Engine]:
    async with Engine.open(home, operator="alice") as opened:
        yield opened
