"""A PostgreSQL schema of its own per test, with the engine's tables, for the storage
tests that drive the database with connections of their own."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from engine.storage.postgres import PostgresDatabase, open_postgres
from engine.storage.schema import migrate

POSTGRES_URL = os.environ.get("HITL_TEST_POSTGRES_URL")


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """The URL of a fresh schema holding the engine's tables; dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set HITL_TEST_POSTGRES_URL (.ci/run does)")
    import psycopg

    schema = f"hitl_storage_{uuid.uuid4().hex[:10]}"
    async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as admin:
        await admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    async with open_postgres(url) as db:
        await migrate(db, "the test schema")
    yield url
    async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as admin:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
async def postgres(postgres_url: str) -> AsyncIterator[PostgresDatabase]:
    async with open_postgres(postgres_url) as db:
        yield db
