"""The decision commands (approve, reject, edit, respond, rerun, mark-done): which
approvals they name, deciding each, and following the threads a decision resumes."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine import listing
from engine.cli.arguments import json_object, json_value
from engine.cli.output import jsonable, report
from engine.decisions import Answer, Approve, Decision, Edit, Reject, Respond
from engine.errors import HitlError, InvalidDecision
from engine.home import Home
from engine.reader import Reader
from engine.views import ApprovalView

if TYPE_CHECKING:
    from engine.engine import Engine

DECIDE_WAIT_SECONDS = 60.0
"""How long a decision command runs the threads it resumed before saying another
process holds them."""

BATCH_SHOWN = 20
"""Pending calls listed before ``--all-matching`` asks for confirmation."""

_DONE = {
    "approve": "approved",
    "rerun": "approved a re-run of",
    "reject": "rejected",
    "edit": "edited",
    "respond": "responded to",
    "mark-done": "marked done",
    "answer": "answered",
}
"""What each command did, in the line it prints: "alice approved send_email"."""

DECISION_COMMANDS = frozenset(_DONE)

_ASK = {
    "approve": "approve",
    "rerun": "re-run",
    "reject": "reject",
    "respond": "respond to",
    "mark-done": "mark done",
}
"""The question ``--all-matching`` asks: "approve 12 pending calls? [y/N]"."""


async def _decide_one(engine: Engine, ref: str, args: argparse.Namespace) -> ApprovalView:
    if args.command in ("rerun", "mark-done"):
        approval = await engine.approval(ref)
        if approval.kind != "outcome_unknown":
            instead = "approve" if args.command == "rerun" else "respond"
            raise InvalidDecision(
                f"approval {approval.id} is not an outcome-unknown call; "
                f"`hitl {args.command}` settles only those (use `hitl {instead}`)"
            )
    return await engine.decide(ref, _decision(args), operator=args.operator)


async def decide_and_report(engine: Engine, args: argparse.Namespace) -> int:
    """One approval decided, then its thread run here until it pauses or ends, unless
    another process holds it (that process applies the decision). Exit 1 when the
    thread failed."""
    decided = await _decide_one(engine, args.approval, args)
    said = _what_was_done(args.command, engine.operator, decided)
    if decided.status == "pending":
        print(json.dumps({"approval": jsonable(decided)}, indent=2) if args.json else said)
        return 0
    thread = await engine.thread(decided.thread_id)
    if thread.graph and thread.graph not in engine.graphs:
        elsewhere = (
            f"the thread runs graph {thread.graph!r}, which this command was not given: it "
            "resumes where that graph runs (the console, or `hitl --graph SPEC resume`)"
        )
        print(
            json.dumps({"approval": jsonable(decided), "note": elsewhere}, indent=2)
            if args.json
            else f"{said}; {elsewhere}"
        )
        return 0
    try:
        async with asyncio.timeout(DECIDE_WAIT_SECONDS):
            await engine.wait(decided.thread_id)
    except TimeoutError:
        elsewhere = await _held_elsewhere(engine, decided.thread_id)
        if args.json:
            print(json.dumps({"approval": jsonable(decided), "note": elsewhere}, indent=2))
        else:
            print(f"{said}; {elsewhere}")
        return 0
    if not args.json:
        print(said)
    thread = await engine.thread(decided.thread_id)
    return report(thread, await engine.pending(thread.id), args, decided)


async def decide_each(engine: Engine, refs: Sequence[str], args: argparse.Namespace) -> int:
    """Several approvals in one process: each decided on its own, one line each (a
    refusal on stderr, the others still go through), then the threads they resume are
    run here. Exit 1 when any was refused or a resumed thread failed."""
    failed = False
    seen: set[str] = set()
    resumed: dict[str, None] = {}
    results: list[dict[str, Any]] = []
    for ref in refs:
        try:
            approval = await engine.approval(ref)
            if approval.id in seen:
                raise InvalidDecision(f"approval {approval.id} is named twice; decided once")
            seen.add(approval.id)
            decided = await _decide_one(engine, approval.id, args)
        except HitlError as error:
            failed = True
            said = str(error) if ref and ref in str(error) else f"{ref}: {error}"
            print(f"hitl: {listing.one_line(said)}", file=sys.stderr, flush=True)
            results.append({"ref": ref, "error": str(error)})
            continue
        line = _what_was_done(args.command, engine.operator, decided)
        results.append({"ref": ref, "approval": jsonable(decided)})
        if not args.json:
            print(line, flush=True)
        if decided.status != "pending":
            resumed[decided.thread_id] = None
    waits = {t: asyncio.ensure_future(engine.wait(t)) for t in resumed}
    if waits:
        await asyncio.wait(waits.values(), timeout=DECIDE_WAIT_SECONDS)
    for thread_id, waiting in waits.items():
        if not waiting.done():
            waiting.cancel()
            print(f"thread {thread_id}: {await _held_elsewhere(engine, thread_id)}")
            continue
        thread = await engine.thread(thread_id)
        if thread.status == "failed":
            failed = True
            why = listing.one_line(thread.error or "")
            print(f"hitl: thread {thread.id} failed: {why}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if failed else 0


async def _held_elsewhere(engine: Engine, thread_id: str) -> str:
    holder = await engine.lease_holder(thread_id)
    where = f" by pid {holder[1]} on {holder[0]}" if holder else ""
    return f"the thread is being run{where}, which applies it"


async def named_approvals(home: Home, args: argparse.Namespace) -> list[str] | None:
    """The approvals a decision command names: its ids, or every pending call matching
    ``--all-matching`` once a person has confirmed the count (None: they declined)."""
    if args.all_matching is None:
        if not args.approvals:
            raise InvalidDecision(
                f"`hitl {args.command}` needs approval ids or --all-matching FILTER; "
                "`hitl pending` lists the open ones"
            )
        return list(args.approvals)
    if args.approvals:
        raise InvalidDecision("give approval ids or --all-matching, not both")
    wanted = _approval_filter(args.all_matching, own_graphs=bool(getattr(args, "graph", None)))
    kind = "outcome_unknown" if args.command in ("rerun", "mark-done") else "tool_approval"
    async with Reader.open(home) as reader:
        threads = {(await reader.thread(ref)).id for ref in wanted.get("thread", ())}
        chosen = [
            a
            for a in await reader.pending()
            if a.kind == kind
            and a.tool in wanted.get("tool", {a.tool})
            and a.tier in wanted.get("tier", {a.tier})
            and a.thread_id in (threads or {a.thread_id})
        ]
    if not chosen:
        what = "outcome-unknown call" if kind == "outcome_unknown" else "pending call"
        print("[]" if args.json else f"no {what} matches {args.all_matching}")
        return []
    count = f"{len(chosen)} pending call{'s' * (len(chosen) != 1)}"
    if not args.yes:
        if not sys.stdin.isatty():
            raise InvalidDecision(
                f"--all-matching {args.all_matching} picks {count}; add --yes to "
                f"{_ASK[args.command]} them without a terminal to ask on"
            )
        for line in listing.approval_lines(chosen[:BATCH_SHOWN]):
            print(line, file=sys.stderr)
        if len(chosen) > BATCH_SHOWN:
            print(f"… and {len(chosen) - BATCH_SHOWN} more", file=sys.stderr)
        print(f"{_ASK[args.command]} {count}? [y/N] ", end="", file=sys.stderr, flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            print("hitl: nothing was decided", file=sys.stderr)
            return None
    return [a.id for a in chosen]


_FILTER_KEYS = ("tool", "tier", "thread")


def _approval_filter(raw: str, *, own_graphs: bool = False) -> dict[str, set[str]]:
    """``tool=send_email,tier=medium,thread=abc``: every key given must match; a key
    given twice matches either value. Unknown keys, tools and tiers are refused (any
    tool name is taken with ``--graph``: those graphs' tools are their own)."""
    from engine.policy import Tier
    from engine.tools import CATALOGUE

    wanted: dict[str, set[str]] = {}
    for part in raw.split(","):
        key, equals, value = (x.strip() for x in part.partition("="))
        if key not in _FILTER_KEYS or not equals or not value:
            raise InvalidDecision(
                f"--all-matching {raw!r}: {part.strip()!r} is not KEY=VALUE with KEY one of "
                f"{', '.join(_FILTER_KEYS)} (e.g. tool=send_email,tier=medium)"
            )
        tools = None if own_graphs else sorted(CATALOGUE)
        known = {"tool": tools, "tier": [t.value for t in Tier]}.get(key)
        if known is not None and value not in known:
            raise InvalidDecision(
                f"--all-matching: unknown {key} {value!r} (known: {', '.join(known)})"
            )
        wanted.setdefault(key, set()).add(value)
    return wanted


def _what_was_done(command: str, operator: str, approval: ApprovalView) -> str:
    """What this operator did, then the call's state: "alice approved send_email; the
    call is edited by root, approved by alice"; and what a pending call still needs."""
    did = f"{operator} {_DONE[command]} {approval.tool}"
    said = f"{approval.id}: {did}; the call is {approval.outcome}"
    if approval.status != "pending":
        return said
    more = approval.required - approval.received
    return (
        f"{said}; {more} more approval{'s' * (more != 1)} needed before it runs "
        f"({approval.tier}: {listing.one_line(approval.reason)})"
    )


def _decision(args: argparse.Namespace) -> Decision:
    match args.command:
        case "approve" | "rerun":
            return Approve()
        case "reject":
            return Reject(args.reason)
        case "respond":
            return Respond(args.message)
        case "mark-done":
            return Respond(args.note)
        case "edit":
            return Edit(json_object(args.args, "--args"))
        case "answer":
            return Answer(json_value(args.value, "the answer"))
    raise InvalidDecision(f"unknown decision {args.command}")
