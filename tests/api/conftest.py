from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from engine import Home
from tests.api.served import Served, served_home


@pytest.fixture
async def served(home: Home) -> AsyncIterator[Served]:
    async with served_home(home) as running:
        yield running
