"""Adopting an app's threads through the `hitl` command: the app (``examples/app.py``)
runs its agent on its own checkpoint database in a process of its own and pauses;
`hitl --graph ... --database <the app's database>` takes the paused thread in, and a
person's decision resumes it, so the app and hitl share one history. A thread the app
resumed itself closes its cards ("resumed elsewhere") and nothing is sent.

On a SQLite file and on PostgreSQL (a schema of its own per test, dropped after).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.cli.own_cli import BATCHED, EXAMPLES, PER_CALL, ROOT, TASK, Desk, Outbox, one_line

POSTGRES_URL = os.environ.get("HITL_TEST_POSTGRES_URL")
HUNG_SECONDS = 120


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The app's database: a SQLite file it will make, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "app.sqlite")
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set HITL_TEST_POSTGRES_URL (.ci/run does)")
    import psycopg

    schema = f"app_cli_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox.make(tmp_path / "outbox")


@pytest.fixture
def desk(app_database: str, outbox: Outbox, tmp_path: Path) -> Desk:
    """hitl on the app's database, its home directory made (as the console makes it
    the first time it is opened)."""
    home = tmp_path / "home"
    home.mkdir()
    return Desk(home, app_database, outbox, PER_CALL)


def app(
    database: str, outbox: Outbox, thread: str, task: str, graph: str = "per_call"
) -> list[dict[str, Any]]:
    """``python examples/app.py``: runs the agent on its own thread until it pauses;
    the interrupts it printed."""
    ran = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "app.py"),
            "--database",
            database,
            "--thread",
            thread,
            "--graph",
            graph,
            task,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "EXAMPLE_OUTBOX": str(outbox.path)},
        cwd=outbox.path.parent,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    return list(json.loads(ran.stdout))


def app_thread(
    database: str, outbox: Outbox, thread: str, resume: Any = None, graph: str = "per_call"
) -> dict[str, Any]:
    """The thread as the app sees it on its own checkpointer (``tests.cli.own_app``),
    resumed by the app itself first when ``resume`` is given."""
    extra = [json.dumps(resume)] if resume is not None else []
    helper = [sys.executable, "-m", "tests.cli.own_app", "--database", database]
    ran = subprocess.run(
        [*helper, "--graph", graph, thread, *extra],
        capture_output=True,
        text=True,
        env={**os.environ, "EXAMPLE_OUTBOX": str(outbox.path)},
        cwd=ROOT,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    found: dict[str, Any] = json.loads(ran.stdout)
    return found


class Watcher:
    """An engine held open on the desk in another process, as the console holds one."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line.strip())
        self._lines.put("")  # the watcher ended

    def heard(self, kind: str, count: int) -> list[str]:
        """The next ``count`` lines of ``kind`` it prints, as they come. The wait is a
        safety net against a hung test, not a measure of speed."""
        found: list[str] = []
        while len(found) < count:
            line = self._lines.get(timeout=HUNG_SECONDS)
            assert line, "the watcher ended before it heard it"
            if line.split()[0] == kind:
                found.append(line)
        return found


@contextmanager
def watching(desk: Desk) -> Iterator[Watcher]:
    assert desk.graph is not None
    command = [sys.executable, "-m", "tests.cli.own_watch", "--home", str(desk.home)]
    command += ["--database", desk.database] if desk.database else []
    process = subprocess.Popen(
        [*command, "--graph", desk.graph],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "EXAMPLE_OUTBOX": str(desk.outbox.path), "HITL_OPERATOR": "watcher"},
    )
    try:
        watcher = Watcher(process)
        watcher.heard("ready", 1)
        yield watcher
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=HUNG_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def cards(desk: Desk) -> dict[str, dict[str, Any]]:
    return {a["tool"]: a for a in desk.pending()}


def reject_both(paused: list[dict[str, Any]], why: str) -> dict[str, Any]:
    """The app's own answer to its two per-call interrupts: both rejected."""
    return {i["id"]: {"type": "reject", "message": why} for i in paused}


# --- taking a paused thread in, and resuming it ----------------------------------------


def test_a_thread_the_app_paused_is_adopted_and_resumed_by_a_decision(
    desk: Desk, app_database: str, outbox: Outbox
) -> None:
    paused = app(app_database, outbox, "order-7", TASK)
    before = app_thread(app_database, outbox, "order-7")
    assert sorted(before["interrupts"]) == sorted(i["id"] for i in paused)

    # Listings only read hitl's rows; an engine opening (any command that decides or
    # resumes) takes in the threads the app paused.
    assert desk("resume").stdout.strip() == "nothing to resume"
    [thread] = desk.threads()
    assert (thread["id"], thread["model"], thread["status"]) == ("order-7", "adopted", "waiting")
    shown = cards(desk)
    assert {c["interrupt_id"] for c in shown.values()} == {i["id"] for i in paused}
    assert {c["format"] for c in shown.values()} == {"hitl_per_call"}
    assert outbox.emails() == [] and outbox.draft_kept()

    desk("approve", shown["send_email"]["id"])
    assert outbox.emails() == ["bob@company.com"]
    assert outbox.draft_kept()
    desk("approve", shown["delete_file"]["id"])
    assert not outbox.has("draft.txt")

    after = app_thread(app_database, outbox, "order-7")  # the app's own history moved on
    assert after["interrupts"] == []
    assert after["checkpoints"] > before["checkpoints"]
    assert after["last"].startswith("Done.")
    assert "sent to bob@company.com" in after["last"] and "deleted draft.txt" in after["last"]
    [thread] = desk.threads()
    assert thread["status"] == "done"
    assert desk.decisions() == [
        ("send_email", "approve", "carol"),
        ("delete_file", "approve", "carol"),
    ]


def test_an_adopted_batched_turn_runs_once_both_its_cards_are_decided(
    desk: Desk, app_database: str, outbox: Outbox
) -> None:
    [paused] = app(app_database, outbox, "order-9", TASK, graph="batched")
    d = desk.on(BATCHED)
    d("resume")
    shown = cards(d)
    assert {c["interrupt_id"] for c in shown.values()} == {f"{paused['id']}:0", f"{paused['id']}:1"}

    edited = {"to": "ann@company.com", "subject": "Q3", "body": "The checked numbers."}
    d("edit", shown["send_email"]["id"], "--args", json.dumps(edited))
    assert outbox.emails() == []
    assert app_thread(app_database, outbox, "order-9", graph="batched")["interrupts"] == [
        paused["id"]
    ]

    d("reject", shown["delete_file"]["id"], "--reason", "the auditors want it")
    assert outbox.emails() == ["ann@company.com"] and outbox.draft_kept()
    after = app_thread(app_database, outbox, "order-9", graph="batched")
    assert after["interrupts"] == []
    assert "the auditors want it" in after["last"]


def test_a_second_paused_thread_is_taken_in_by_the_next_engine_look(
    desk: Desk, app_database: str, outbox: Outbox
) -> None:
    app(app_database, outbox, "order-1", "Email ann@company.com the Q3 numbers")
    desk("resume")
    first = cards(desk)
    app(app_database, outbox, "order-2", "Email joe@company.com the Q4 plan")
    assert {a["thread_id"] for a in desk.pending()} == {"order-1"}  # nobody looked yet

    desk("approve", first["send_email"]["id"])  # a decision opens an engine: it looks
    assert {a["thread_id"] for a in desk.pending()} == {"order-1", "order-2"}
    assert outbox.emails() == ["ann@company.com"]


def test_a_listing_before_any_engine_looked_does_not_call_the_apps_database_damaged(
    desk: Desk, app_database: str, outbox: Outbox
) -> None:
    app(app_database, outbox, "order-7", TASK)
    listed = desk("pending", ok=False)
    assert "not a whole hitl database" not in listed.stderr
    assert "keep a copy" not in listed.stderr


def test_the_first_look_from_the_cli_needs_no_home_made_before(
    app_database: str, outbox: Outbox, tmp_path: Path
) -> None:
    desk = Desk(tmp_path / "home", app_database, outbox, PER_CALL)
    app(app_database, outbox, "order-7", TASK)
    desk("resume")
    assert {a["thread_id"] for a in desk.pending()} == {"order-7"}


# --- resumed elsewhere -------------------------------------------------------------------


def test_cards_of_a_thread_the_app_resumed_itself_close_while_hitl_watches(
    desk: Desk, app_database: str, outbox: Outbox
) -> None:
    paused = app(app_database, outbox, "order-8", TASK)
    desk("resume")
    shown = cards(desk)

    with watching(desk) as watcher:
        app_thread(app_database, outbox, "order-8", reject_both(paused, "handled by phone"))
        closed = watcher.heard("withdrawn", 2)
    assert sorted(line.split(maxsplit=2)[1] for line in closed) == sorted(
        c["id"] for c in shown.values()
    )
    assert all(line.endswith("resumed elsewhere") for line in closed)

    assert desk.pending() == []
    assert [t["status"] for t in desk.threads()] == ["done"]
    statuses = {a["tool"]: a["status"] for a in desk.approvals("order-8").values()}
    assert statuses == {"send_email": "withdrawn", "delete_file": "withdrawn"}
    one_line(
        desk("approve", shown["send_email"]["id"], ok=False),
        f"approval {shown['send_email']['id']} was already decided",
        "resumed elsewhere: closed, nothing sent",
    )
    assert outbox.emails() == [] and outbox.draft_kept()
    assert desk.decisions() == []
    withdrawn = [e["approval_id"] for e in desk.audit() if e["kind"] == "approval_withdrawn"]
    assert sorted(withdrawn) == sorted(c["id"] for c in shown.values())
    assert "handled by phone" in app_thread(app_database, outbox, "order-8")["last"]


def test_cards_of_a_thread_the_app_resumed_while_no_hitl_ran_close_at_the_next_look(
    desk: Desk, app_database: str, outbox: Outbox
) -> None:
    paused = app(app_database, outbox, "order-8", TASK)
    desk("resume")
    shown = cards(desk)
    app_thread(app_database, outbox, "order-8", reject_both(paused, "handled by phone"))

    desk("resume")  # the next engine look
    assert desk.pending() == []
    statuses = {a["tool"]: a["status"] for a in desk.approvals("order-8").values()}
    assert statuses == {"send_email": "withdrawn", "delete_file": "withdrawn"}
    one_line(
        desk("approve", shown["send_email"]["id"], ok=False),
        f"approval {shown['send_email']['id']} was already decided",
        "resumed elsewhere: closed, nothing sent",
    )
    assert outbox.emails() == [] and outbox.draft_kept()
