"""The commands that check a home rather than use it: ``doctor`` and ``policy``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine import listing
from engine.cli.arguments import json_object
from engine.cli.output import jsonable
from engine.errors import HitlError, InvalidDecision
from engine.home import Home
from engine.reader import Reader


async def doctor(home: Home, args: argparse.Namespace) -> int:
    """One line per finding, exit 1 when any is a problem. Nothing is opened here
    first: the doctor is for homes whose database may not open."""
    try:
        from engine.doctor import diagnose
    except ImportError as error:
        raise HitlError(f"this installation has no doctor ({error})") from None

    policy_file = Path(args.policy) if args.policy else None
    try:
        findings = await diagnose(home, policy_file)
    except HitlError:
        raise
    except Exception as error:  # a doctor that crashes on a damaged home helps nobody
        raise HitlError(
            f"the diagnosis stopped: {type(error).__name__}: {listing.one_line(str(error))}"
        ) from None
    if args.json:
        print(json.dumps(jsonable(list(findings)), indent=2, ensure_ascii=False))
    for finding in findings if not args.json else ():
        mark = "ok" if finding.ok else "PROBLEM"
        print(f"{mark:7} {listing.one_line(finding.check)}: {listing.one_line(finding.message)}")
    return 0 if all(finding.ok for finding in findings) else 1


async def check_policy(home: Home, args: argparse.Namespace) -> int:
    """``policy check``: the file is valid, and pending calls judged under another
    policy are named (they keep their verdicts)."""
    from engine.engine import resolve_policy
    from engine.tools import CATALOGUE

    target = args.file or args.policy or home.policy_file
    policy = resolve_policy(home, target, CATALOGUE)
    print(
        f"{policy.source}: valid: {len(policy.tiers)} tools, {len(policy.rules)} rules, "
        f"unlisted tools are {policy.default}"
    )
    if home.exists():
        async with Reader.open(home) as reader:
            pending = await reader.pending()
        other = [a for a in pending if a.policy_digest not in ("", policy.digest)]
        if other:
            calls = f"{len(other)} pending call{'s were' if len(other) > 1 else ' was'}"
            print(
                f"note: {calls} requested under another policy; they keep the verdict "
                "they were given (see `hitl pending`). New calls get this one."
            )
    return 0


async def explain_policy(home: Home, args: argparse.Namespace) -> int:
    """``policy explain``: a call's base tier, every rule that could match it and
    whether it did, and what the verdict asks for before the call runs."""
    from engine.engine import resolve_policy
    from engine.tools import CATALOGUE

    policy = resolve_policy(home, args.policy, CATALOGUE)
    if args.tool not in CATALOGUE:
        raise InvalidDecision(f"unknown tool {args.tool!r} (known: {', '.join(sorted(CATALOGUE))})")
    call_args = json_object(args.args, "--args")
    verdict = policy.verdict(args.tool, call_args)
    print(f"policy: {policy.source}")
    base = policy.tiers.get(args.tool, policy.default)
    print(f"tool {args.tool}: {base}{'' if args.tool in policy.tiers else ' (default tier)'}")
    for rule in policy.rules:
        if rule.tool not in (None, args.tool):
            continue
        hit, problem = rule.matches(args.tool, call_args)
        mark = "matches" if hit else "no match"
        print(f"  rule {rule.name!r} (line {rule.line}) -> {rule.tier}: {mark}: {rule.when}")
        if problem:
            print(f"    {listing.one_line(problem)}")
    settings = verdict.settings
    needs = (
        "never runs (deny)"
        if verdict.denied
        else "runs at once"
        if not verdict.gated
        else f"{verdict.approvals_required} approval(s)"
        + (" from distinct operators" if settings.distinct_operators else "")
        + (f", expires after {settings.expires_after:.0f}s" if settings.expires_after else "")
    )
    print(f"result: {verdict.tier}: {needs} ({listing.one_line(verdict.reason)})")
    return 0
