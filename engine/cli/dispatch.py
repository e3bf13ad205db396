"""From a parsed command line to the module that carries it out, and to an exit code.

Every error the engine raises on purpose becomes one line on stderr and exit 1. The
engine itself (and with it LangGraph) is imported only by the commands that run
threads or decide; the others read plain rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from engine import listing
from engine.cli import checking, deciding, notifying, reading, tokens
from engine.cli.arguments import json_object
from engine.cli.freeze import freeze_import_garbage
from engine.cli.output import report
from engine.cli.parser import build_parser
from engine.errors import HitlError, InvalidDecision
from engine.home import Home
from engine.remote import SERVER_URL_ENV

if TYPE_CHECKING:  # the options module imports pydantic, which listings never need
    from engine.engine import Engine
    from engine.foreign.loading import LoadedGraph
    from engine.options import EngineOptionsDict
    from engine.remote.server import AgentServer
    from engine.views import ThreadView

ConsoleRunner = Callable[[argparse.Namespace], int]


def main(
    argv: Sequence[str] | None = None,
    *,
    console: ConsoleRunner | None = None,
    serve: ConsoleRunner | None = None,
) -> int:
    """Runs one command. ``console`` opens the console, ``serve`` the HTTP API: the
    engine knows nothing of either, so the ``hitl`` entry point passes them in."""
    args = build_parser().parse_args(argv)
    if getattr(args, "durability", None):
        # Where the engine reads its default: so the flag reaches the console's engine too.
        os.environ["HITL_DURABILITY"] = args.durability
    if args.command in (None, "console"):
        if console is None:
            print("hitl: the console is not installed; use the subcommands", file=sys.stderr)
            return 1
        return console(args)
    if args.command == "serve":
        if serve is None:
            print(
                "hitl: the HTTP API is not installed (pip install 'hitl-console[serve]')",
                file=sys.stderr,
            )
            return 1
        return serve(args)
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
        return await checking.doctor(home, args)
    if args.command == "policy":
        if args.policy_command == "check":
            return await checking.check_policy(home, args)
        return await checking.explain_policy(home, args)
    if args.command == "token":
        return await tokens.tokens(home, args)
    if args.command == "notify":
        return await notifying.notify(home, args)
    server = _server(args)
    if args.command in ("threads", "show", "pending", "ledger", "audit"):
        if server is not None:  # what the server has now, taken into the home first
            await _sync(home, args, server)
        return await reading.read(home, args)  # Reader.open names a bad URL, then a missing home
    refs: list[str] | None = None
    if args.command in deciding.DECISION_COMMANDS and args.command not in ("edit", "answer"):
        refs = await deciding.named_approvals(home, args)
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
        # Queued with their events; the console, a script's engine or the next
        # command to stay open delivers them.
        "send_notifications": False,
    }
    if hasattr(args, "model"):
        options["model"] = args.model
        options["base_url"] = args.base_url
        options["api_key"] = args.api_key
        options["think_seconds"] = args.think
    graphs = load_graphs(args.graph)
    if server is not None:
        from engine.remote.graph import served_graph

        graphs = [await served_graph(server), *graphs]
    if args.command == "run":
        _check_first_input(graphs, args)  # refused before a home is made
    # Sharing an app's database: whatever opens an engine first takes its threads in.
    shared = home.sqlite_file is not None or home.database_url is not None
    create = args.command == "run" or (bool(graphs) and (shared or server is not None))
    async with Engine.open(
        home, policy=args.policy, create=create, graphs=graphs, **options
    ) as engine:
        if refs is not None:
            return await deciding.decide_each(engine, refs, args)
        if args.command == "run":
            thread = await _start(engine, args)
            await engine.wait(thread.id)
            return report(await engine.thread(thread.id), await engine.pending(thread.id), args)
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
            return report(await engine.thread(thread.id), await engine.pending(thread.id), args)
        return await deciding.decide_and_report(engine, args)


def _server(args: argparse.Namespace) -> AgentServer | None:
    """``--server`` (else ``$HITL_SERVER_URL``) with its assistant and key. A decision
    command's ``--api-key`` is the server's when a server is named: no model runs here."""
    if not (getattr(args, "server", None) or os.environ.get(SERVER_URL_ENV)):
        return None  # a listing of the home alone: no server client to import
    from engine.remote.server import AgentServer

    key = getattr(args, "server_api_key", None)
    return AgentServer.from_flags(
        getattr(args, "server", None),
        getattr(args, "assistant", None),
        key or (getattr(args, "api_key", None) if getattr(args, "server", None) else None),
    )


async def _sync(home: Home, args: argparse.Namespace, server: AgentServer) -> None:
    """Opens an engine on the server's assistant once: it takes in the threads waiting
    there (and closes the cards of those that went on), then the listing reads the home."""
    from engine.remote import listing_sync

    newest = await listing_sync.newest_change(home, server)
    if listing_sync.unchanged(home, server, newest):
        return  # nothing changed there since the home took its threads in
    from engine.engine import Engine
    from engine.options import one_job
    from engine.remote.graph import served_graph

    freeze_import_garbage()
    graphs = [await served_graph(server)]
    async with Engine.open(
        home,
        policy=args.policy,
        graphs=graphs,
        **one_job(operator=args.operator),
    ) as engine:
        await engine.wait()  # the policy's own decisions are sent before it closes
    served = graphs[0].served
    assert served is not None
    if newest is None or newest[0] != served.assistant_id:  # the first sync: mark it now
        listing_sync.remember(home, server, served.assistant_id, None)
    else:
        listing_sync.remember(home, server, served.assistant_id, newest)


def server_graphs(args: argparse.Namespace) -> list[LoadedGraph]:
    """``--server``'s assistant for the console, checked here (unreachable, a refused
    key, an unknown assistant: one line before any screen); none without a server."""
    server = _server(args)
    if server is None:
        return []
    from engine.remote.graph import served_graph

    return [asyncio.run(served_graph(server, connected=False))]


def load_graphs(specs: Sequence[str] | None) -> list[LoadedGraph]:
    """The ``--graph`` graphs, each refused in one line (naming the module and the cause)
    before anything is written."""
    from engine.foreign.loading import load_graph

    return [load_graph(spec) for spec in specs or ()]


def _check_first_input(graphs: Sequence[LoadedGraph], args: argparse.Namespace) -> None:
    """What ``run`` would refuse of its task or ``--input``, refused before anything is
    written (a factory's graph is known only once built: the engine checks it then)."""
    from engine.foreign.loading import takes_messages, validate_input

    if not graphs or graphs[0].graph is None:
        return
    graph = graphs[0].graph
    if args.input is not None:
        validate_input(graph, json_object(args.input, "--input"))
    elif not takes_messages(graph):
        raise InvalidDecision(
            f"graph {graphs[0].name!r} does not take messages: give its input as JSON "
            "(--input JSON, @FILE or -)"
        )
    elif not args.task.strip():
        raise InvalidDecision("a task needs some words: what should the agent do?")


async def _start(engine: Engine, args: argparse.Namespace) -> ThreadView:
    """``hitl run``: the built-in agent on TASK, or ``--graph``'s first graph on TASK
    (as a message) or on ``--input``."""
    given = json_object(args.input, "--input") if args.input is not None else None
    if not engine.graphs:
        if given is not None:
            raise InvalidDecision("--input is for --graph graphs; the built-in agent takes a TASK")
        return await engine.start(args.task)
    return await engine.start(args.task, graph=engine.graphs[0], input=given)
