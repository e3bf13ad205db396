"""``hitl notify status`` and ``hitl notify test``: what the outbox holds, and a trial
delivery to every target the policy configures."""

from __future__ import annotations

import argparse
import json
import time

from engine import listing
from engine.cli.output import jsonable
from engine.errors import HitlError
from engine.home import Home
from engine.reader import Reader


async def notify(home: Home, args: argparse.Namespace) -> int:
    if args.notify_command == "test":
        return await _test(home, args)
    return await _status(home, args)


async def _status(home: Home, args: argparse.Namespace) -> int:
    """Counts by status, then the notifications asked for (dead ones by default: those
    are what a person must see to), newest first."""
    async with Reader.open(home) as reader:
        counts = await reader.notification_counts()
        shown = await reader.notifications(None if args.all else "dead", args.limit)
    if args.json:
        print(json.dumps({"counts": counts, "notifications": jsonable(shown)}, indent=2))
        return 0
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("pending", "sent", "dead"))
    print(f"notifications: {summary}")
    for n in shown:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(n.created_at))
        about = n.approval_id or n.thread_id or "-"
        line = f"{n.id:>6} {n.status:7} {when} {n.target} ({n.kind}) {n.event} {about}"
        line += f" · {n.attempts} tr{'ies' if n.attempts != 1 else 'y'}"
        if n.last_error:
            line += f" · {listing.one_line(n.last_error, 160)}"
        print(line)
    return 1 if counts.get("dead") else 0


async def _test(home: Home, args: argparse.Namespace) -> int:
    from engine.engine import resolve_policy
    from engine.notify.trial import send_tests
    from engine.tools import CATALOGUE

    policy = resolve_policy(home, args.policy or home.policy_file, CATALOGUE)
    if not policy.notify:
        raise HitlError(f"{policy.source} configures no notifications ([[notify]] tables)")
    failed = 0
    for target, problem in await send_tests(policy.notify):
        if problem is None:
            print(f"ok      {target.name} ({target.kind}): delivered")
        else:
            failed += 1
            print(f"FAILED  {target.name} ({target.kind}): {listing.one_line(problem, 300)}")
    return 1 if failed else 0
