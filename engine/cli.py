"""The ``hitl`` command: parses, calls the engine, prints. No logic of its own.

Listings read the engine's plain rows without importing LangGraph, so they answer at
once. Every error the engine raises on purpose becomes one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from engine.decisions import Approve, Decision, Edit, Reject, Respond
from engine.errors import HitlError, InvalidDecision
from engine.home import Home
from engine.reader import Reader
from engine.views import ApprovalView, ThreadView, describe_model

DECIDE_WAIT_SECONDS = 60.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hitl", description="Supervise AI agents; approve their risky actions first."
    )
    parser.add_argument("--home", help="home directory (default: $HITL_HOME, else ./.hitl)")
    parser.add_argument("--operator", help="who is deciding (default: $HITL_OPERATOR, else login)")
    parser.add_argument("--policy", help="policy file (default: <home>/policy.toml)")
    parser.add_argument(
        "--database", help="PostgreSQL URL (default: $HITL_DATABASE_URL, else <home>/hitl.sqlite)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str, *, json_flag: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
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

    def decision(name: str, help_text: str) -> argparse.ArgumentParser:
        """A decision resumes its thread here: the thread's model may need its endpoint."""
        p = command(name, help_text, json_flag=True)
        p.add_argument("approval")
        model_flags(p)
        return p

    decision("approve", "approve a call (a high-risk call needs two approvals)")
    decision("rerun", "run an outcome-unknown call again")
    p = decision("reject", "reject a call; the model is told why")
    p.add_argument("--reason", help="told to the model")
    p = decision("edit", "run a call with edited arguments")
    p.add_argument("--args", required=True, help="the new arguments, a JSON object")
    p = decision("respond", "answer in place of the tool; the call does not run")
    p.add_argument("--message", required=True)
    p = decision("mark-done", "say an outcome-unknown call did take effect")
    p.add_argument("--note", default="A person confirmed this call took effect.")
    p = command("resume", "continue threads left mid-run and apply stranded decisions")
    model_flags(p)
    p = command("retry", "run a failed thread again from its last step")
    p.add_argument("thread")
    model_flags(p)
    p = command("policy", "check or explain the approval policy")
    policy = p.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    check = policy.add_parser("check", help="validate a policy file; list every problem")
    check.add_argument("file", nargs="?", help="default: --policy, else <home>/policy.toml")
    explain = policy.add_parser("explain", help="which rules match a call, and its tier")
    explain.add_argument("tool")
    explain.add_argument("--args", default="{}", help="the call's arguments, a JSON object")
    p = command("audit", "list the audit log, or verify its hash chain", json_flag=True)
    p.add_argument("action", nargs="?", choices=["list", "verify"], default="list")
    p.add_argument("--thread")
    p.add_argument("--tool")
    p.add_argument("--by", dest="by_operator", metavar="OPERATOR")
    p.add_argument("--since", help="ISO time, or an age like 30m / 2h / 7d")
    p.add_argument("--until", help="ISO time, or an age like 30m / 2h / 7d")
    p.add_argument("--jsonl", action="store_true", help="export as JSON Lines")
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
    if args.command == "policy":
        return await _policy(home, args)
    if args.command in ("threads", "show", "pending", "ledger", "audit"):
        home.require()
        return await _read(home, args)
    from engine.engine import Engine

    options: dict[str, Any] = {"operator": args.operator, "watch": False, "policy": args.policy}
    if hasattr(args, "model"):
        options |= {
            "model": args.model,
            "base_url": args.base_url,
            "api_key": args.api_key,
            "think_seconds": args.think,
        }
    async with Engine.open(home, create=args.command == "run", **options) as engine:
        if args.command == "run":
            thread = await engine.start(args.task)
            await engine.wait(thread.id)
            return _report(await engine.thread(thread.id), await engine.pending(thread.id), args)
        if args.command == "resume":
            ids = await engine.resume()
            await engine.wait()
            for thread_id in ids:
                print(_thread_line(await engine.thread(thread_id)))
            if not ids:
                print("nothing to resume")
            return 0
        if args.command == "retry":
            thread = await engine.retry(args.thread)
            await engine.wait(thread.id)
            return _report(await engine.thread(thread.id), await engine.pending(thread.id), args)
        if args.command in ("rerun", "mark-done"):
            approval = await engine.approval(args.approval)
            if approval.kind != "outcome_unknown":
                instead = "approve" if args.command == "rerun" else "respond"
                raise InvalidDecision(
                    f"approval {approval.id} is not an outcome-unknown call; "
                    f"`hitl {args.command}` settles only those (use `hitl {instead}`)"
                )
        decided = await engine.decide(args.approval, _decision(args), operator=args.operator)
        said = _what_was_done(args.command, engine.operator, decided)
        if decided.status == "pending":
            more = decided.required - decided.received
            print(
                f"{said}; {more} more approval{'s' * (more != 1)} needed before it runs "
                f"({decided.tier}: {decided.reason})"
            )
            return 0
        try:
            async with asyncio.timeout(DECIDE_WAIT_SECONDS):
                await engine.wait(decided.thread_id)
        except TimeoutError:
            holder = await engine.lease_holder(decided.thread_id)
            where = f" by pid {holder[1]} on {holder[0]}" if holder else ""
            print(f"{said}; the thread is being run{where}, which applies it")
            return 0
        print(said)
        thread = await engine.thread(decided.thread_id)
        return _report(thread, await engine.pending(thread.id), args)


_DONE = {
    "approve": "approved",
    "rerun": "approved a re-run of",
    "reject": "rejected",
    "edit": "edited",
    "respond": "responded to",
    "mark-done": "marked done",
}


def _what_was_done(command: str, operator: str, approval: ApprovalView) -> str:
    """What this operator did, then the call's state: "alice approved send_email; the
    call is edited by root, approved by alice"."""
    did = f"{operator} {_DONE[command]} {approval.tool}"
    return f"{approval.id}: {did}; the call is {approval.outcome}"


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


async def _read(home: Home, args: argparse.Namespace) -> int:
    async with Reader.open(home) as reader:
        if args.command == "audit":
            return await _audit(reader, args)
        if args.command == "threads":
            threads = await reader.threads(args.status)
            _print(threads, args, _thread_line, "no threads")
        elif args.command == "pending":
            _print(await reader.pending(args.thread), args, _approval_line, "no pending approvals")
        elif args.command == "ledger":
            _print(
                await reader.ledger(),
                args,
                lambda e: f"#{e.id} {e.kind:9} {e.thread_id} {json.dumps(e.body)}",
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
                print(_thread_line(thread))
                print(f"model: {describe_model(thread.model)}   task: {thread.task}")
                for entry in history:
                    if line := _story_line(entry.kind, entry.body, entry.at):
                        print(line)
                for approval in approvals:
                    print(_approval_line(approval))
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
            print(f"    {problem}")
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
    print(f"result: {verdict.tier}: {needs} ({verdict.reason})")
    return 0


async def _audit(reader: Reader, args: argparse.Namespace) -> int:
    if args.action == "verify":
        result = await reader.verify_audit()
        if result.ok:
            print(f"audit log intact: {result.entries} entries, head {result.head[:16]}")
            return 0
        print(f"hitl: audit log broken at entry #{result.seq}: {result.problem}", file=sys.stderr)
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
        who = f" by {entry.operator}" if entry.operator else ""
        what = " ".join(x for x in (entry.tool, entry.approval_id, entry.thread_id) if x)
        detail = entry.body.get("decision") or entry.body.get("reason") or ""
        print(f"#{entry.seq:<5} {stamp} {entry.kind:18} {what}{who} {detail}".rstrip())
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
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidDecision(
            f"{flag} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidDecision(f"{flag} must be a JSON object of argument names to values")
    return parsed


def _report(thread: ThreadView, pending: list[ApprovalView], args: argparse.Namespace) -> int:
    if getattr(args, "json", False):
        print(json.dumps(_jsonable({"thread": thread, "pending": pending}), indent=2))
        return 0 if thread.status != "failed" else 1
    print(thread.id)
    print(_thread_line(thread))
    for approval in pending:
        print(_approval_line(approval))
    if thread.status == "done" and thread.answer:
        print(thread.answer)
    if thread.status == "failed":
        print(f"hitl: thread {thread.id} failed: {thread.error}", file=sys.stderr)
        return 1
    return 0


def _print(items: Sequence[Any], args: argparse.Namespace, line: Any, empty: str) -> None:
    if args.json:
        print(json.dumps(_jsonable(list(items)), indent=2))
    elif not items:
        print(empty)
    else:
        for item in items:
            print(line(item))


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _age(at: float) -> str:
    seconds = max(0, int(time.time() - at))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _thread_line(thread: ThreadView) -> str:
    extra = f"  {thread.pending} pending" if thread.pending else ""
    error = f"  error: {thread.error}" if thread.error else ""
    return f"{thread.status:8} {thread.id}  {_age(thread.created_at):>4}{extra}{error}"


def _approval_line(approval: ApprovalView) -> str:
    kind = " OUTCOME UNKNOWN" if approval.kind == "outcome_unknown" else ""
    state = "" if approval.status == "pending" else f" [{approval.outcome}]"
    if approval.status == "pending" and approval.expires_at and approval.expires_at <= time.time():
        state = " [expired: refused if decided; rejected when an engine next opens the home]"
    return (
        f"{approval.id}  {approval.tool:14} {approval.tier:6} "
        f"{approval.received}/{approval.required}  {approval.thread_id}{kind}{state}\n"
        f"          {approval.summary}"
    )


def _story_line(kind: str, body: dict[str, Any], at: float) -> str | None:
    stamp = time.strftime("%H:%M:%S", time.localtime(at))
    if kind == "MessageAdded":
        text = " ".join(str(body.get("content", "")).split())
        calls = "".join(
            f"\n           -> {c['name']}({json.dumps(c['args'])})"
            for c in body.get("tool_calls", [])
        )
        return f"{stamp} {body['role']:9} {text[:200]}{calls}"
    if kind == "ApprovalDecided":
        a = body["approval"]
        return f"{stamp} decision  {body['decision']} {a['id']} {a['tool']} by {body['operator']}"
    if kind == "ThreadFailed":
        return f"{stamp} failed    {body['thread'].get('error')}"
    return None


if __name__ == "__main__":
    raise SystemExit(main())
