"""What a command prints: a thread after a run or a decision, a listing, JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from engine import listing
from engine.cli.json_text import indented_json
from engine.views import ApprovalView, ThreadView


def report(
    thread: ThreadView,
    pending: list[ApprovalView],
    args: argparse.Namespace,
    decided: ApprovalView | None = None,
) -> int:
    """The thread after a run or a decision (``decided``: the decision's approval, in
    the JSON); exit 1 when it failed."""
    if getattr(args, "json", False):
        shown = {"thread": thread, "pending": pending}
        print(json.dumps(jsonable(shown | ({"approval": decided} if decided else {})), indent=2))
        return 0 if thread.status != "failed" else 1
    print(thread.id)
    print(listing.thread_line(thread))
    for line in listing.approval_lines(pending):
        print(line)
    if thread.status == "done" and thread.answer:
        print(listing.visible(thread.answer, keep="\n\t"))
    if thread.status == "failed":
        error = listing.one_line(thread.error or "")
        print(f"hitl: thread {thread.id} failed: {error}", file=sys.stderr)
        return 1
    return 0


def print_listing(
    items: Sequence[Any],
    args: argparse.Namespace,
    lines: Callable[[Sequence[Any]], list[str]],
    empty: str,
) -> None:
    """A listing: JSON, or the lines made from all the items at once (so each row can
    be told from the others)."""
    if args.json:
        print(indented_json(items))
    elif not items:
        print(empty)
    else:
        for line in lines(items):
            print(line)


def jsonable(value: Any) -> Any:
    """The engine's plain dataclasses as JSON-ready dicts and lists, field by field."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
