"""The ``hitl`` command line: commands, flags and help text, and nothing they do."""

from __future__ import annotations

import argparse
from typing import Any


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
        help="PostgreSQL URL, or an app's LangGraph SQLite file to share "
        "(default: $HITL_DATABASE_URL, else <home>/hitl.sqlite)",
    )
    parser.add_argument(
        "--graph",
        action="append",
        default=default,
        metavar="SPEC",
        help="your own LangGraph graph: FILE.py:ATTR, package.module:ATTR, or a NAME from "
        "./langgraph.json (repeatable; the first is the default)",
    )
    parser.add_argument(
        "--server",
        default=default,
        metavar="URL",
        help="supervise the threads of a LangGraph Agent Server (default: $HITL_SERVER_URL)",
    )
    parser.add_argument(
        "--assistant",
        default=default,
        metavar="ID|NAME",
        help="--server's assistant: its id, graph id or name (default: $HITL_ASSISTANT; "
        "needed when the server has several)",
    )
    parser.add_argument(
        "--durability",
        choices=("full", "fast"),
        default=default,
        help="SQLite: full (default: $HITL_DURABILITY, else full) puts every commit on "
        "disk before it is acknowledged; fast may lose the last ones to a power cut",
    )


def build_parser() -> argparse.ArgumentParser:
    """Every command, its flags and its help text; the help is the manual, so wording
    here is what a person reads."""
    parser = argparse.ArgumentParser(
        prog="hitl", description="Supervise AI agents; approve their risky actions first."
    )
    _global_options(parser, None)
    parser.add_argument(
        "--api-key",
        dest="server_api_key",
        metavar="KEY",
        help="--server's API key, given before the command (default: $LANGGRAPH_API_KEY)",
    )
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
    p.add_argument("task", nargs="?", default="", help="what the agent should do, in plain words")
    p.add_argument(
        "--input",
        metavar="JSON",
        help="--graph's input, for a graph without messages: a JSON object, @FILE, or -",
    )
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
    p = decision("answer", "answer an unrecognised interrupt with a JSON value", many=False)
    p.add_argument("value", help="the answer: JSON, @FILE, or - (read from stdin)")
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
    p = command("notify", "the notifications the policy's [[notify]] targets are owed")
    notify = p.add_subparsers(dest="notify_command", metavar="ACTION", required=True)
    status = notify.add_parser(
        "status", help="counts, and the dead notifications (exit 1 if any)", parents=[anywhere]
    )
    status.add_argument("--all", action="store_true", help="every notification, not only dead")
    status.add_argument("--limit", type=int, default=200, help="at most this many (newest)")
    status.add_argument("--json", action="store_true", help="print JSON")
    notify.add_parser(
        "test", help="send a test notification to every configured target", parents=[anywhere]
    )
    p = command("serve", "serve the HTTP API (and run the threads) in this process")
    _bind_flags(p)
    p.add_argument(
        "--run-slots", type=int, metavar="N", help="threads run at once (default: the engine's, 4)"
    )
    model_flags(p)
    p = command("token", "create, list or revoke the HTTP API's bearer tokens")
    token = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = token.add_parser(
        "create",
        help="a token bound to --operator NAME (required); its secret is shown once",
        parents=[anywhere],
    )
    create.add_argument(
        "--scope", default="read,decide", help="read, start, decide (default: read,decide)"
    )
    create.add_argument("--json", action="store_true", help="print JSON")
    listed = token.add_parser("list", help="every token, never its secret", parents=[anywhere])
    listed.add_argument("--json", action="store_true", help="print JSON")
    revoke = token.add_parser("revoke", help="refuse a token from now on", parents=[anywhere])
    revoke.add_argument("token", metavar="ID")
    p = command("console", "open the console (the default command)")
    p.add_argument("--demo", type=int, default=0, metavar="N", help="start N demo tasks")
    p.add_argument(
        "--web",
        action="store_true",
        help="serve the console in a browser instead (a token in the URL it prints)",
    )
    p.add_argument("--web-host", default="127.0.0.1", help="--web: address (default: loopback)")
    p.add_argument("--web-port", type=int, default=8767, help="--web: port (default: 8767)")
    p.add_argument(
        "--serve",
        action="store_true",
        help="serve the HTTP API too, over the console's engine (--host, --port, TLS as serve)",
    )
    _bind_flags(p)
    model_flags(p)
    return parser


def _bind_flags(p: argparse.ArgumentParser) -> None:
    """Where ``hitl serve`` and ``hitl console --serve`` listen, and the TLS they need."""
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    p.add_argument("--tls-cert", metavar="FILE", help="TLS certificate (PEM)")
    p.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM)")
    p.add_argument(
        "--insecure", action="store_true", help="allow a non-loopback --host without TLS"
    )
