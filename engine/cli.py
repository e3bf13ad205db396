"""The ``hitl`` command: parses, calls the engine, prints. No logic of its own.

Listings read the engine's plain rows without importing LangGraph, so they answer at
once. Every error the engine raises on purpose becomes one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import listing
from engine.decisions import Approve, Decision, Edit, Reject, Respond
from engine.errors import HitlError, InvalidDecision
from engine.home import Home
from engine.limits import MAX_JSON_DEPTH, nested_deeper
from engine.options import EngineOptionsDict
from engine.reader import Reader
from engine.views import ApprovalView, ThreadView, describe_model

if TYPE_CHECKING:
    from engine.engine import Engine

DECIDE_WAIT_SECONDS = 60.0

"""How deeply ``--args`` may nest (Ruby's JSON default): a call's arguments are a flat
object in practice, and deeper input only serves to exhaust the stack of whatever reads it."""

MAX_ARGS_FILE_BYTES = 16 * 1024 * 1024
"""The most ``--args @FILE`` / ``--args -`` reads (the engine limits edits far below it):
``--args @/dev/zero`` must end."""

BATCH_SHOWN = 20
"""Pending calls listed before ``--all-matching`` asks for confirmation."""


def _global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """Where the home is and who decides: accepted before the command and after it.

    The copies after the command default to ``SUPPRESS``, so they only overwrite the
    top-level value when given; the environment is read later (``Home.resolve``, the
    engine's operator), so a flag given anywhere wins over it."""
    parser.add_argument(
        "--home", default=default, help="home directory (default: $HITL_HOME, else ./.hitl)"
    )
    parser.add_argument(
        "--operator",
        default=default,
        help="who is deciding (default: $HITL_OPERATOR, else login)",
    )
    parser.add_argument(
        "--policy", default=default, help="policy file (default: <home>/policy.toml)"
    )
    parser.add_argument(
        "--database",
        default=default,
        help="PostgreSQL URL (default: $HITL_DATABASE_URL, else <home>/hitl.sqlite)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hitl", description="Supervise AI agents; approve their risky actions first."
    )
    _global_options(parser, None)
    anywhere = argparse.ArgumentParser(add_help=False)
    _global_options(anywhere, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str, *, json_flag: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[anywhere])
        if json_flag:
            p.add_argument("--json", action="store_true", help="print JSON")
        return p

    def model_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--model", default="scripted", help="'scripted' (offline demo) or 'openai:NAME'"
        )
        p.add_argument("--base-url", help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL)")
        p.add_argument("--api-key", help="API key (default: $OPENAI_API_KEY)")
        p.add_argument("--think", type=float, default=0.0, help="demo model think delay, seconds")

    p = command("run", "start a thread on TASK and run it until it pauses or ends", json_flag=True)
    p.add_argument("task", help="what the agent should do, in plain words")
    model_flags(p)
    p = command("threads", "list threads", json_flag=True)
    p.add_argument("--status", choices=["running", "waiting", "unknown", "done", "failed"])
    p = command("show", "show one thread: its story and its approvals", json_flag=True)
    p.add_argument("thread")
    p = command("pending", "list pending approvals, oldest first", json_flag=True)
    p.add_argument("--thread", help="only this thread's")
    p = command("ledger", "list what the money and data tools did", json_flag=True)

    def decision(name: str, help_text: str, *, many: bool = True) -> argparse.ArgumentParser:
        """A decision resumes its thread here: the thread's model may need its endpoint.
        ``many``: several ids, or ``--all-matching``, each decided on its own."""
        p = command(name, help_text, json_flag=True)
        if many:
            p.add_argument("approvals", nargs="*", metavar="ID", help="approval ids or prefixes")
            p.add_argument(
                "--all-matching",
                metavar="FILTER",
                help="every pending call matching FILTER: tool=NAME,tier=TIER,thread=ID "
                "(a key twice: either value); asks first unless --yes",
            )
            p.add_argument("--yes", action="store_true", help="do not ask (--all-matching)")
        else:
            p.add_argument("approval", metavar="ID")
        model_flags(p)
        return p

    decision("approve", "approve calls (a high-risk call needs two approvals)")
    decision("rerun", "run outcome-unknown calls again")
    p = decision("reject", "reject calls; the model is told why")
    p.add_argument("--reason", help="told to the model")
    p = decision("edit", "run a call with edited arguments", many=False)
    p.add_argument(
        "--args",
        required=True,
        help="the new arguments: a JSON object, @FILE, or - (read from stdin)",
    )
    p = decision("respond", "answer in place of the tool; the calls do not run")
    p.add_argument("--message", required=True)
    p = decision("mark-done", "say outcome-unknown calls did take effect")
    p.add_argument("--note", default="A person confirmed this call took effect.")
    p = command("resume", "continue threads left mid-run and apply stranded decisions")
    model_flags(p)
    p = command("retry", "run a failed thread again from its last step")
    p.add_argument("thread")
    model_flags(p)
    p = command("policy", "check or explain the approval policy")
    policy = p.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    check = policy.add_parser(
        "check", help="validate a policy file; list every problem", parents=[anywhere]
    )
    check.add_argument("file", nargs="?", help="default: --policy, else <home>/policy.toml")
    explain = policy.add_parser(
        "explain", help="which rules match a call, and its tier", parents=[anywhere]
    )
    explain.add_argument("tool")
    explain.add_argument(
        "--args",
        default="{}",
        help="the call's arguments: a JSON object, @FILE, or - (read from stdin)",
    )
    p = command("audit", "list the audit log, or verify its hash chain", json_flag=True)
    p.add_argument("action", nargs="?", choices=["list", "verify"], default="list")
    p.add_argument("--thread")
    p.add_argument("--tool")
    p.add_argument("--by", dest="by_operator", metavar="OPERATOR")
    p.add_argument("--since", help="ISO time, or an age like 30m / 2h / 7d")
    p.add_argument("--until", help="ISO time, or an age like 30m / 2h / 7d")
    p.add_argument("--jsonl", action="store_true", help="export as JSON Lines")
    command(
        "doctor", "check the home: database, audit chain, policy; one line each", json_flag=True
    )
    p = command("console", "open the console (the default command)")
    p.add_argument("--demo", type=int, default=0, metavar="N", help="start N demo tasks")
    model_flags(p)
    return parser


ConsoleRunner = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None, *, console: ConsoleRunner | None = None) -> int:
    """Runs one command. ``console`` opens the console: the engine knows nothing of it,
    so the ``hitl`` entry point (in ``tui``) passes it in."""
    args = _parser().parse_args(argv)
    if args.command in (None, "console"):
        if console is None:
            print("hitl: the console is not installed; use the subcommands", file=sys.stderr)
            return 1
        return console(args)
    try:
        return asyncio.run(_dispatch(args))
    except HitlError as error:
        print(f"hitl: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `hitl pending | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


async def _dispatch(args: argparse.Namespace) -> int:
    home = Home.resolve(args.home, args.database)
    if args.command == "doctor":  # before anything opens the home: it may be damaged
        return await _doctor(home, args)
    if args.command == "policy":
        return await _policy(home, args)
    if args.command in ("threads", "show", "pending", "ledger", "audit"):
        return await _read(home, args)  # Reader.open names a bad URL, then a missing home
    refs: list[str] | None = None
    if args.command in _DONE and args.command != "edit":
        refs = await _selection(home, args)
        if refs is None:
            return 1
        if not refs:
            return 0
        if len(refs) == 1 and args.all_matching is None:
            args.approval, refs = refs[0], None
    from engine.engine import Engine

    freeze_import_garbage()
    options: EngineOptionsDict = {
        "operator": args.operator,
        # One command, then gone: nobody to show other processes' events or warnings
        # to, and other threads' decisions are theirs to apply.
        "follow_journal": False,
        "warn_expiring": False,
        "expire_on_time": False,
        "apply_stranded_decisions": False,
    }
    if hasattr(args, "model"):
        options["model"] = args.model
        options["base_url"] = args.base_url
        options["api_key"] = args.api_key
        options["think_seconds"] = args.think
    create = args.command == "run"
    async with Engine.open(home, policy=args.policy, create=create, **options) as engine:
        if refs is not None:
            return await _decide_each(engine, refs, args)
        if args.command == "run":
            thread = await engine.start(args.task)
            await engine.wait(thread.id)
            return _report(await engine.thread(thread.id), await engine.pending(thread.id), args)
        if args.command == "resume":
            ids = await engine.resume()
            await engine.wait()
            for thread_id in ids:
                print(listing.thread_line(await engine.thread(thread_id)))
            if not ids:
                print("nothing to resume")
            return 0
        if args.command == "retry":
            thread = await engine.retry(args.thread)
            await engine.wait(thread.id)
            return _report(await engine.thread(thread.id), await engine.pending(thread.id), args)
        decided = await _decide_one(engine, args.approval, args)
        said = _what_was_done(args.command, engine.operator, decided)
        if decided.status == "pending":
            print(json.dumps({"approval": _jsonable(decided)}, indent=2) if args.json else said)
            return 0
        try:
            async with asyncio.timeout(DECIDE_WAIT_SECONDS):
                await engine.wait(decided.thread_id)
        except TimeoutError:
            elsewhere = await _held_elsewhere(engine, decided.thread_id)
            if args.json:
                print(json.dumps({"approval": _jsonable(decided), "note": elsewhere}, indent=2))
            else:
                print(f"{said}; {elsewhere}")
            return 0
        if not args.json:
            print(said)
        thread = await engine.thread(decided.thread_id)
        return _report(thread, await engine.pending(thread.id), args, decided)


_DONE = {
    "approve": "approved",
    "rerun": "approved a re-run of",
    "reject": "rejected",
    "edit": "edited",
    "respond": "responded to",
    "mark-done": "marked done",
}

_ASK = {
    "approve": "approve",
    "rerun": "re-run",
    "reject": "reject",
    "respond": "respond to",
    "mark-done": "mark done",
}
"""The question ``--all-matching`` asks: "approve 12 pending calls? [y/N]"."""


def freeze_import_garbage() -> None:
    """Moves everything alive now (mostly LangGraph, LangChain and pydantic, imported
    for good) out of the cyclic collector's sight. Done by the ``hitl`` process (here,
    and in the console it opens), never by ``Engine.open``: in a program that embeds
    the engine, the process-wide collector is that program's to tune.

    With hundreds of threads the collector's full passes otherwise walk those objects
    too: measured pauses of ~95 ms, the whole tail of approve-to-executed under load;
    after freezing, ~20-35 ms. Objects made later are collected as usual.
    """
    gc.freeze()


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


async def _decide_each(engine: Engine, refs: Sequence[str], args: argparse.Namespace) -> int:
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
        results.append({"ref": ref, "approval": _jsonable(decided)})
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


async def _selection(home: Home, args: argparse.Namespace) -> list[str] | None:
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
    wanted = _approval_filter(args.all_matching)
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


def _approval_filter(raw: str) -> dict[str, set[str]]:
    """``tool=send_email,tier=medium,thread=abc``: every key given must match; a key
    given twice matches either value. Unknown keys, tools and tiers are refused."""
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
        known = {"tool": sorted(CATALOGUE), "tier": [t.value for t in Tier]}.get(key)
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
            return Edit(_json_object(args.args, "--args"))
    raise InvalidDecision(f"unknown decision {args.command}")


async def _doctor(home: Home, args: argparse.Namespace) -> int:
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
        print(json.dumps(_jsonable(list(findings)), indent=2, ensure_ascii=False))
    for finding in findings if not args.json else ():
        mark = "ok" if finding.ok else "PROBLEM"
        print(f"{mark:7} {listing.one_line(finding.check)}: {listing.one_line(finding.message)}")
    return 0 if all(finding.ok for finding in findings) else 1


async def _read(home: Home, args: argparse.Namespace) -> int:
    async with Reader.open(home) as reader:
        if args.command == "audit":
            return await _audit(reader, args)
        if args.command == "threads":
            _print(await reader.threads(args.status), args, listing.thread_lines, "no threads")
        elif args.command == "pending":
            pending = await reader.pending(args.thread)
            _print(pending, args, listing.approval_lines, "no pending approvals")
        elif args.command == "ledger":
            _print(
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
                print(
                    json.dumps(
                        _jsonable({"thread": thread, "approvals": approvals, "history": history}),
                        indent=2,
                    )
                )
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


async def _policy(home: Home, args: argparse.Namespace) -> int:
    from engine.engine import resolve_policy
    from engine.tools import CATALOGUE

    if args.policy_command == "check":
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
    policy = resolve_policy(home, args.policy, CATALOGUE)
    if args.tool not in CATALOGUE:
        raise InvalidDecision(f"unknown tool {args.tool!r} (known: {', '.join(sorted(CATALOGUE))})")
    call_args = _json_object(args.args, "--args")
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


async def _audit(reader: Reader, args: argparse.Namespace) -> int:
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
        since=_when(args.since, "--since"),
        until=_when(args.until, "--until"),
    )
    if args.jsonl:
        for entry in entries:
            print(json.dumps(_jsonable(entry), ensure_ascii=False))
    elif args.json:
        print(json.dumps(_jsonable(entries), indent=2, ensure_ascii=False))
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


def _when(raw: str | None, flag: str) -> float | None:
    if raw is None:
        return None
    from datetime import datetime

    from engine.policy_file import parse_duration

    try:
        return time.time() - parse_duration(raw)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        raise InvalidDecision(f"{flag} {raw!r} is neither an ISO time nor an age like 2h") from None


def _json_object(raw: str, flag: str) -> dict[str, Any]:
    """A JSON object given inline, as ``@FILE`` or as ``-`` (stdin). Every way it can
    be wrong (unreadable, not UTF-8, not JSON, nested too deeply, not an object) is one
    line naming where the text came from."""
    source, text = _json_text(raw, flag)
    try:
        parsed = json.loads(text)
        too_deep = nested_deeper(parsed)
    except json.JSONDecodeError as error:
        raise InvalidDecision(
            f"{source} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:  # the parser's own limit, far deeper than ours
        too_deep = True
    if too_deep:
        raise InvalidDecision(
            f"{source}: the JSON is nested too deeply (limit {MAX_JSON_DEPTH} levels)"
        )
    if not isinstance(parsed, dict):
        raise InvalidDecision(f"{source} must be a JSON object of argument names to values")
    return parsed


def _json_text(raw: str, flag: str) -> tuple[str, str]:
    """(where the text came from, the text) for an inline value, ``@FILE`` or ``-``."""
    if raw != "-" and not raw.startswith("@"):
        return flag, raw
    if raw == "-":
        source = f"{flag} - (stdin)"
        data = sys.stdin.buffer.read(MAX_ARGS_FILE_BYTES + 1)
    else:
        path = Path(raw[1:]).expanduser()
        source = f"{flag} file {path}"
        try:
            with path.open("rb") as file:
                data = file.read(MAX_ARGS_FILE_BYTES + 1)
        except OSError as error:
            raise InvalidDecision(f"cannot read {source}: {error.strerror or error}") from None
    if len(data) > MAX_ARGS_FILE_BYTES:
        raise InvalidDecision(f"{source} is larger than {MAX_ARGS_FILE_BYTES // 2**20} MB")
    try:
        return source, data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InvalidDecision(
            f"{source} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
            f"{error.start}, line {line})"
        ) from None


def _report(
    thread: ThreadView,
    pending: list[ApprovalView],
    args: argparse.Namespace,
    decided: ApprovalView | None = None,
) -> int:
    """The thread after a run or a decision (``decided``: the decision's approval, in
    the JSON); exit 1 when it failed."""
    if getattr(args, "json", False):
        report = {"thread": thread, "pending": pending}
        print(json.dumps(_jsonable(report | ({"approval": decided} if decided else {})), indent=2))
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


def _print(
    items: Sequence[Any],
    args: argparse.Namespace,
    lines: Callable[[Sequence[Any]], list[str]],
    empty: str,
) -> None:
    """A listing: JSON, or the lines made from all the items at once (so each row can
    be told from the others)."""
    if args.json:
        print(json.dumps(_jsonable(list(items)), indent=2))
    elif not items:
        print(empty)
    else:
        for line in lines(items):
            print(line)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


if __name__ == "__main__":
    raise SystemExit(main())
