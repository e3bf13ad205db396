"""The listings' JSON: the same text the engine's own rows give, and no LangGraph.

``hitl pending --json`` (``threads``, ``show``, ``audit``) writes its JSON with a
writer of its own (the standard library's is pure Python with ``indent``, too slow for
1,000 approvals in 0.3 s). A script that parses the output must not see a byte change:
each listing is compared with ``json.dumps(jsonable(rows), indent=2)`` of what a
``Reader`` reads, on a home with a pending approval of every kind and format, and
each runs in a process that must not have imported LangGraph or pydantic.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from engine import Home
from engine.cli.output import jsonable
from engine.reader import Reader
from tests.cli.own_cli import BATCHED, INBOX, PER_CALL, PLAIN, TASK, Desk, Outbox
from tests.cli.test_cli import EMAIL_TASK, hitl
from tests.engine.processes import killed_mid_call

HEAVY = {"langgraph", "langchain_core", "langchain_openai", "pydantic", "httpx"}
LISTING = """
import sys
from engine.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print(" ".join(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
raise SystemExit(code)
"""


def listed(home: Home, *args: str) -> tuple[str, set[str]]:
    """What ``hitl ARGS`` prints, and the top-level modules its process imported."""
    environment = {**os.environ}
    for inherited in ("HITL_HOME", "HITL_DATABASE_URL", "HITL_SERVER_URL"):
        environment.pop(inherited, None)
    where = ["--home", str(home.path)]
    where += ["--database", home.database_url] if home.database_url else []
    result = subprocess.run(
        [sys.executable, "-c", LISTING, *where, *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, set(result.stderr.split())


def engine_json(value: Any, ensure_ascii: bool = True) -> str:
    return json.dumps(jsonable(value), indent=2, ensure_ascii=ensure_ascii) + "\n"


async def rows(home: Home, thread_id: str) -> dict[str, Any]:
    async with Reader.open(home) as reader:
        return {
            "pending": await reader.pending(),
            "threads": await reader.threads(),
            "show": {
                "thread": await reader.thread(thread_id),
                "approvals": await reader.approvals(thread_id),
                "history": await reader.history(thread_id),
            },
            "audit": await reader.audit(),
        }


def test_listings_print_the_engine_s_json_without_importing_langgraph(
    home: Home, tmp_path: Path
) -> None:
    hitl(home, "run", "email the deck to cto@company.com and order 5 laptops at $900")
    unknown = hitl(home, "run", EMAIL_TASK).stdout.splitlines()[0]
    pending = json.loads(hitl(home, "pending", "--json").stdout)
    [email] = [a for a in pending if a["thread_id"] == unknown]
    killed_mid_call(home, email["id"], "send_email")
    hitl(home, "resume")
    desk = Desk(home.path, home.database_url, Outbox.make(tmp_path / "outbox"))
    for graph in (PER_CALL, BATCHED, INBOX):
        desk.on(graph)("run", TASK if graph != INBOX else "Alpha note for standup")
    desk.on(PLAIN)("run", "--input", '{"order_id": "A-1", "amount": 250, "note": "über ✓"}')

    expected = asyncio.run(rows(home, unknown))
    kinds = {(a.kind, a.format) for a in expected["pending"]}
    assert {k for k, _ in kinds} == {"tool_approval", "outcome_unknown", "interrupt"}, kinds
    assert {"engine", "agent_inbox", "unrecognised"} <= {f for _, f in kinds}, kinds
    assert len(expected["pending"]) >= 8

    for args, want in (
        (["pending", "--json"], engine_json(expected["pending"])),
        (["threads", "--json"], engine_json(expected["threads"])),
        (["show", unknown, "--json"], engine_json(expected["show"])),
        (["audit", "--json"], engine_json(expected["audit"], ensure_ascii=False)),
    ):
        out, modules = listed(home, *args)
        assert out == want, args
        assert not modules & HEAVY, (args, modules & HEAVY)
