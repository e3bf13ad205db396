"""The `hitl` command run on people's own graphs (the examples), as a user runs it.

A :class:`Desk` is one user's setup: a home, the database it keeps (its own, a
PostgreSQL schema, or an app's checkpoint database to share), the ``--graph`` given,
and the examples' outbox, where their tools have real effects (emails written as
``.eml`` files, ``draft.txt`` deleted, notes and refunds written).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

HITL = Path(sys.executable).with_name("hitl")
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PER_CALL = f"{EXAMPLES}/hitl_agent.py:per_call_agent"
BATCHED = f"{EXAMPLES}/hitl_agent.py:batched_agent"
INBOX = f"{EXAMPLES}/inbox_agent.py:graph"
PLAIN = f"{EXAMPLES}/plain_interrupt.py:graph"
TASK = "Email bob@company.com the Q3 numbers and delete draft.txt"
"""Both gated calls of the HITL agent, each tier medium under the default policy."""
DRAFT = "an old draft"


@dataclass(frozen=True)
class Outbox:
    """Where the examples' tools act (``$EXAMPLE_OUTBOX``); it starts with a draft."""

    path: Path

    @classmethod
    def make(cls, where: Path) -> Outbox:
        where.mkdir(parents=True)
        (where / "draft.txt").write_text(DRAFT)
        return cls(where)

    def emails(self) -> list[str]:
        """The recipient of each email sent, sorted."""
        return sorted(self._email(p)["To"] for p in self.path.glob("*.eml"))

    def email_to(self, address: str) -> email.message.EmailMessage:
        [found] = [m for p in self.path.glob("*.eml") if (m := self._email(p))["To"] == address]
        return found

    def draft_kept(self) -> bool:
        return (self.path / "draft.txt").read_text() == DRAFT if self.has("draft.txt") else False

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def files(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir())

    @staticmethod
    def _email(path: Path) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


@dataclass(frozen=True)
class Desk:
    """One user's ``hitl``: ``desk("approve", id)`` runs ``hitl --home H [--database D]
    [--policy P] --graph G approve ID`` with the examples acting on ``outbox``."""

    home: Path
    database: str | None
    outbox: Outbox
    graph: str | None = None
    policy: Path | None = None

    def on(self, graph: str | None) -> Desk:
        return replace(self, graph=graph)

    def __call__(
        self, *args: str, ok: bool = True, operator: str | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "HITL_OPERATOR": "carol"}
        for inherited in ("HITL_HOME", "HITL_DATABASE_URL", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
            environment.pop(inherited, None)
        environment["EXAMPLE_OUTBOX"] = str(self.outbox.path)
        where = ["--home", str(self.home)]
        where += ["--database", self.database] if self.database else []
        where += ["--policy", str(self.policy)] if self.policy else []
        where += ["--graph", self.graph] if self.graph else []
        where += ["--operator", operator] if operator else []
        result = subprocess.run(
            [str(HITL), *where, *args],
            capture_output=True,
            text=True,
            env=environment,
            cwd=cwd or ROOT,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    def pending(self) -> list[dict[str, Any]]:
        return list(json.loads(self("pending", "--json").stdout))

    def card(self, tool: str) -> dict[str, Any]:
        """The one pending card of ``tool``."""
        [found] = [a for a in self.pending() if a["tool"] == tool]
        return found

    def threads(self) -> list[dict[str, Any]]:
        return list(json.loads(self("threads", "--json").stdout))

    def thread(self, thread_id: str) -> dict[str, Any]:
        shown: dict[str, Any] = json.loads(self("show", thread_id, "--json").stdout)
        return shown

    def approvals(self, thread_id: str) -> dict[str, dict[str, Any]]:
        """The thread's approvals as ``hitl show`` has them, decided or not, by id."""
        return {a["id"]: a for a in self.thread(thread_id)["approvals"]}

    def audit(self) -> list[dict[str, Any]]:
        return list(json.loads(self("audit", "--json").stdout))

    def decisions(self) -> list[tuple[str, str, str]]:
        """The audit log's decisions: (tool, decision, operator), in order."""
        return [
            (e["tool"], e["body"]["decision"], e["operator"])
            for e in self.audit()
            if e["kind"] == "decision"
        ]


def one_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The one line a refusal prints on stderr, exit 1; each needle in it."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hitl: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
