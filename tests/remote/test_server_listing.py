"""The first listing of a home on a server with many waiting threads takes them in
together (their commits share the database's group commit), and stays whole when it is
killed part way: the next listing finishes it, each call a card once, each judged."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter

import pytest

from tests.remote.conftest import HITL, Console

pytestmark = pytest.mark.agent_server

THREADS = 60
TASK = "Email bob@example.com the notes and delete draft.txt"


def cards_in(home_db: str) -> int:
    """Cards committed in the home so far (read as another process would)."""
    try:
        with sqlite3.connect(f"file:{home_db}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM hitl_approvals").fetchone()[0])
    except sqlite3.OperationalError:  # not made yet, or its tables not yet
        return 0


def test_a_listing_killed_part_way_is_finished_by_the_next(per_call: Console) -> None:
    threads = set(
        asyncio.run(per_call.server.interrupted_threads(per_call.assistant, TASK, THREADS))
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    listing = subprocess.Popen(
        [
            *(str(HITL), "--home", str(per_call.home), "--server", per_call.server.url),
            *("--assistant", per_call.assistant, "pending", "--json"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    home_db = str(per_call.home / "hitl.sqlite")
    deadline = time.monotonic() + 120
    while cards_in(home_db) == 0 and listing.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # watching another process's file: no event to wait on
    listing.send_signal(signal.SIGKILL)
    listing.wait()
    taken = cards_in(home_db)
    assert 0 < taken < 2 * THREADS, "the listing was not killed part way"

    cards = json.loads(per_call.ok("pending", "--json"))

    assert {c["thread_id"] for c in cards} == threads
    calls = Counter((c["thread_id"], c["tool"]) for c in cards)
    assert set(calls.values()) == {1}  # each call once, whatever the kill cut
    assert len(calls) == 2 * THREADS
    assert {c["tier"] for c in cards if c["tool"] == "send_email"} == {"high"}  # judged
    assert cards_in(home_db) == 2 * THREADS
    again = json.loads(per_call.ok("pending", "--json"))
    assert sorted(c["id"] for c in again) == sorted(c["id"] for c in cards)
