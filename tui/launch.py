"""Building and starting the console: the one ``make_app``, the engine opener, ``hitl console``.

Kept apart from ``tui.app`` (the router) so that how the console is put together (an
open engine or an opener, a first look through ``engine.Reader``, the CLI's flags) and
what it does once running change independently.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Unpack, cast

import engine as engine_package
from engine import EngineOptionsDict, HitlError, Home, HomeNotFound, Reader
from engine.cli import freeze_import_garbage, load_graphs, server_graphs
from tui.app import HitlApp
from tui.settings import ConsoleSettings
from tui.sources import EngineOpener, HomeSnapshot, ReadHome

if TYPE_CHECKING:
    from engine import Engine, LoadedGraph


def make_app(
    engine: Engine | EngineOpener,
    settings: ConsoleSettings | None = None,
    *,
    read_home: ReadHome | None = None,
) -> HitlApp:
    """The one way to build the console: the CLI, the tests and the benchmark use it.

    ``engine`` is an open engine (the app leaves closing it to its owner) or a function
    that opens one, which the app calls in its own event loop and closes on exit.
    ``read_home`` (see :func:`home_reader`) paints what the home holds while that runs.
    """
    if callable(engine) and not hasattr(engine, "subscribe"):
        opener = engine
    else:
        opened = engine

        def opener() -> AbstractAsyncContextManager[Engine]:
            return contextlib.nullcontext(cast("Engine", opened))

    return HitlApp(opener, settings or ConsoleSettings(), read_home=read_home)


def engine_opener(
    home: Home,
    *,
    policy: str | os.PathLike[str] | None = None,
    imported: Callable[[], None] | None = None,
    graphs: Sequence[LoadedGraph] = (),
    **options: Unpack[EngineOptionsDict],
) -> EngineOpener:
    """Opens the engine without holding the first paint: LangGraph's import (~1 s) runs in
    a thread while the console draws its frame. ``imported`` runs once it is done (the
    ``hitl`` process freezes the imports out of the garbage collector's sight then)."""

    @contextlib.asynccontextmanager
    async def open_engine() -> AsyncIterator[Engine]:
        engine_class = await asyncio.to_thread(lambda: engine_package.Engine)
        if imported is not None:
            imported()
        async with engine_class.open(home, policy=policy, graphs=graphs, **options) as engine:
            yield engine

    return open_engine


def home_reader(home: Home) -> ReadHome:
    """Reads the threads and pending approvals of ``home`` from the engine's plain rows,
    without importing LangGraph; None for a home that does not exist yet."""

    async def read() -> HomeSnapshot | None:
        try:
            async with Reader.open(home) as reader:
                return HomeSnapshot(await reader.threads(), await reader.pending())
        except HomeNotFound:
            return None

    return read


def console_app(
    home: Home,
    settings: ConsoleSettings | None = None,
    *,
    policy: str | os.PathLike[str] | None = None,
    imported: Callable[[], None] | None = None,
    graphs: Sequence[LoadedGraph] = (),
    **options: Unpack[EngineOptionsDict],
) -> HitlApp:
    """The console on ``home`` as ``hitl console`` runs it (the benchmark measures this)."""
    opener = engine_opener(home, policy=policy, imported=imported, graphs=graphs, **options)
    return make_app(opener, settings, read_home=home_reader(home))


def background_engine(args: argparse.Namespace) -> EngineOpener:
    """The engine ``hitl console --web`` keeps open beside the browsers' consoles: the
    same home, policy, graphs and model as the command line names."""
    return engine_opener(
        Home.resolve(args.home, getattr(args, "database", None)),
        policy=getattr(args, "policy", None),
        graphs=load_graphs(getattr(args, "graph", None)),
        operator=args.operator,
        model=getattr(args, "model", "scripted"),
        base_url=getattr(args, "base_url", None),
        api_key=getattr(args, "api_key", None),
    )


def serving_opener(
    opener: EngineOpener,
    sock: socket.socket,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    log_file: Path | None = None,
) -> EngineOpener:
    """``hitl console --serve``: the engine ``opener`` opens, with the HTTP API served
    over it on ``sock`` as a task of the console's own loop; the server stops (then
    the engine closes) when the console quits. One engine, so a decision made over
    HTTP is an event the console shows like its own. The server logs to ``log_file``:
    the terminal is the console's."""
    from api.server import serving

    @contextlib.asynccontextmanager
    async def open_engine() -> AsyncIterator[Engine]:
        async with opener() as engine, serving(engine, sock, tls_cert, tls_key, log_file):
            yield engine

    return open_engine


def _listen(args: argparse.Namespace) -> socket.socket | None:
    """``--serve``'s socket, bound before any screen under ``hitl serve``'s rules (a
    refusal is HitlError); None without ``--serve``."""
    if not getattr(args, "serve", False):
        return None
    from api.server import check_bind, listening_socket

    warning = check_bind(args.host, args.tls_cert, args.tls_key, args.insecure)
    if warning:
        print(warning, file=sys.stderr)
    sock = listening_socket(args.host, args.port)
    print(f"hitl: serving the API on {served_url(args, sock)}")
    return sock


def served_url(args: argparse.Namespace, sock: socket.socket) -> str:
    scheme = "https" if args.tls_cert else "http"
    host = f"[{args.host}]" if ":" in args.host and not args.host.startswith("[") else args.host
    return f"{scheme}://{host}:{sock.getsockname()[1]}"


SERVE_LOG = "serve.log"
"""``hitl console --serve``'s server log, in the home."""


def run_console(args: argparse.Namespace) -> int:
    """``hitl console``: the console on ``args.home``, with ``args.demo`` demo tasks."""
    home = Home.resolve(args.home, getattr(args, "database", None))
    try:
        graphs = [*server_graphs(args), *load_graphs(getattr(args, "graph", None))]
        sock = _listen(args)
    except HitlError as error:  # a graph that does not load, a refused bind: one line
        print(f"hitl: {error}", file=sys.stderr)
        return 1
    except ImportError as error:  # uvicorn and fastapi are the `serve` extra
        print(f"hitl: --serve needs the HTTP API ({error})", file=sys.stderr)
        return 1
    opener = engine_opener(
        home,
        policy=getattr(args, "policy", None),
        imported=freeze_import_garbage,
        graphs=graphs,
        operator=args.operator,
        model=getattr(args, "model", "scripted"),
        base_url=getattr(args, "base_url", None),
        api_key=getattr(args, "api_key", None),
        think_seconds=getattr(args, "think", 0.0),
    )
    settings = ConsoleSettings(demo=getattr(args, "demo", 0) or 0)
    if sock is not None:
        log_file = home.path / SERVE_LOG
        opener = serving_opener(opener, sock, args.tls_cert, args.tls_key, log_file)
        settings = ConsoleSettings(
            demo=settings.demo, api_url=served_url(args, sock), api_log=str(log_file)
        )
    app = make_app(opener, settings, read_home=home_reader(home))
    try:
        result = app.run()
    finally:
        if sock is not None:
            sock.close()
    return app.return_code or (result or 0)
