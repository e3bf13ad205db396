"""The commands that only read a home: listings, one thread's story, the audit log."""

from __future__ import annotations

import argparse
import json
import sys
import time

from engine import listing
from engine.cli.arguments import moment
from engine.cli.json_text import indented_json
from engine.cli.output import jsonable, print_listing
from engine.home import Home
from engine.reader import Reader
from engine.views import describe_model


async def read(home: Home, args: argparse.Namespace) -> int:
    """``threads``, ``show``, ``pending``, ``ledger`` and ``audit``: plain rows through
    a ``Reader``, so none of them waits for LangGraph to import."""
    async with Reader.open(home) as reader:
        if args.command == "audit":
            return await _audit(reader, args)
        if args.command == "threads":
            threads = await reader.threads(args.status)
            print_listing(threads, args, listing.thread_lines, "no threads")
        elif args.command == "pending":
            pending = await reader.pending(args.thread)
            print_listing(pending, args, listing.approval_lines, "no pending approvals")
        elif args.command == "ledger":
            print_listing(
                await reader.ledger(),
                args,
                lambda entries: [
                    f"#{e.id} {e.kind:9} {e.thread_id} {json.dumps(e.body)}" for e in entries
                ],
                "the ledger is empty",
            )
        else:
            thread = await reader.thread(args.thread)
            approvals = await reader.approvals(thread.id)
            history = await reader.history(thread.id)
            if args.json:
                print(indented_json({"thread": thread, "approvals": approvals, "history": history}))
            else:
                print(listing.thread_line(thread))
                print(
                    f"model: {describe_model(thread.model)}   task: {listing.one_line(thread.task)}"
                )
                for entry in history:
                    if line := listing.story_line(entry.kind, entry.body, entry.at):
                        print(line)
                for line in listing.approval_lines(approvals):
                    print(line)
    return 0


async def _audit(reader: Reader, args: argparse.Namespace) -> int:
    """The log, filtered, as lines, JSON or JSON Lines; or ``verify``: its hash chain,
    exit 1 at the first broken entry."""
    if args.action == "verify":
        result = await reader.verify_audit()
        if result.ok:
            print(f"audit log intact: {result.entries} entries, head {result.head[:16]}")
            return 0
        problem = listing.one_line(result.problem or "")
        print(f"hitl: audit log broken at entry #{result.seq}: {problem}", file=sys.stderr)
        return 1
    entries = await reader.audit(
        thread=args.thread,
        tool=args.tool,
        operator=args.by_operator,
        since=moment(args.since, "--since"),
        until=moment(args.until, "--until"),
    )
    if args.jsonl:
        for entry in entries:
            print(json.dumps(jsonable(entry), ensure_ascii=False))
    elif args.json:
        print(indented_json(entries, ensure_ascii=False))
    elif not entries:
        print("no audit entries")
    for entry in entries if not (args.jsonl or args.json) else ():
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.at))
        who = f" by {listing.one_line(entry.operator)}" if entry.operator else ""
        what = " ".join(x for x in (entry.tool, entry.approval_id, entry.thread_id) if x)
        decision, reason = entry.body.get("decision"), entry.body.get("reason")
        said = f"{decision}: {reason}" if decision and reason else decision or reason or ""
        detail = listing.one_line(str(said), limit=120)
        shown = listing.visible(what)
        print(f"#{entry.seq:<5} {stamp} {entry.kind:18} {shown}{who} {detail}".rstrip())
    return 0
