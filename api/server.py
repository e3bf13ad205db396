"""``hitl serve``: the fleet and the HTTP API in one process, on one event loop.

Loopback (127.0.0.1:8765) by default. Any other address is reachable by others: it
prints a warning and needs TLS (``--tls-cert``/``--tls-key``) or an explicit
``--insecure``, since bearer tokens would otherwise cross the network in the clear.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import ipaddress
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from engine import Engine, HitlError, Home, load_graph

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
GRACE_SECONDS = 5
"""How long a stop waits for requests in flight before closing the connections."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def check_bind(host: str, cert: str | None, key: str | None, insecure: bool) -> str | None:
    """The warning to print for ``host`` (None on loopback); HitlError when serving
    there would send tokens in the clear, or the TLS files are not both given."""
    if (cert is None) != (key is None):
        raise HitlError("TLS needs both --tls-cert and --tls-key")
    for given in (cert, key):
        if given is not None and not Path(given).is_file():
            raise HitlError(f"no such TLS file: {given}")
    if is_loopback(host):
        return None
    if cert is None and not insecure:
        raise HitlError(
            f"--host {host} is reachable from other machines: give --tls-cert and "
            "--tls-key, or --insecure to send bearer tokens unencrypted"
        )
    how = "with TLS" if cert else "WITHOUT TLS (--insecure): tokens cross the network in clear"
    return f"hitl: warning: serving on {host}, beyond this machine, {how}"


class _Server(uvicorn.Server):
    """uvicorn's server, stopped by ``serve``'s own signal handlers: uvicorn's re-raise
    SIGTERM once it has shut down, which would kill the process before the engine
    closes (and exit -15 where a service manager expects 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound and listening before anything is printed: a client that connects as soon
    as it reads "serving" waits in the backlog instead of being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as error:
        sock.close()
        raise HitlError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen(2048)
    return sock


def file_logging(path: Path) -> dict[str, Any]:
    """uvicorn's loggers into ``path`` and nowhere else: under ``hitl console --serve``
    a line on the terminal would be drawn over the console's screen."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(path),
                "delay": True,  # no file until there is something to say
                "formatter": "plain",
            }
        },
        "loggers": {
            name: {"handlers": ["file"], "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
        },
    }


def make_server(
    engine: Engine, tls_cert: str | None, tls_key: str | None, log_file: Path | None = None
) -> uvicorn.Server:
    """uvicorn over ``make_app(engine)``, for ``hitl serve`` and ``hitl console --serve``
    (``log_file``: its log lines go there instead of the terminal)."""
    from api.app import make_app

    config = uvicorn.Config(
        make_app(engine),
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        log_level="warning",
        log_config=LOGGING_CONFIG if log_file is None else file_logging(log_file),
        lifespan="off",  # the engine is opened around the server, not by it
        # Event streams never end by themselves: without a bound, a stop would wait
        # for every subscriber to hang up.
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    return _Server(config)


@contextlib.asynccontextmanager
async def serving(
    engine: Engine,
    sock: socket.socket,
    tls_cert: str | None,
    tls_key: str | None,
    log_file: Path | None = None,
) -> AsyncIterator[uvicorn.Server]:
    """The API over an engine someone else owns, served on ``sock`` as a task of the
    running loop until the block ends (``hitl console --serve``: the console's loop)."""
    server = make_server(engine, tls_cert, tls_key, log_file)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield server
    finally:
        server.should_exit = True
        await task


async def serve(args: argparse.Namespace) -> int:
    """Opens the home's engine and serves it until interrupted (ctrl-c, SIGTERM)."""

    warning = check_bind(args.host, args.tls_cert, args.tls_key, args.insecure)
    if warning:
        print(warning, file=sys.stderr)
    with listening_socket(args.host, args.port) as sock:
        return await _serve_on(sock, args)


async def _serve_on(sock: socket.socket, args: argparse.Namespace) -> int:
    home = Home.resolve(args.home, args.database)
    graphs = [load_graph(spec) for spec in args.graph or ()]
    async with Engine.open(
        home,
        policy=args.policy,
        graphs=graphs,
        operator=args.operator,
        model=args.model,
        base_url=args.base_url,
        api_key=args.api_key,
        think_seconds=args.think,
        **({"run_slots": args.run_slots} if args.run_slots is not None else {}),
    ) as engine:
        await engine.resume()  # threads left mid-run by a previous server
        server = make_server(engine, args.tls_cert, args.tls_key)
        # As the other `hitl` commands do (engine/cli/freeze.py), once everything is
        # imported and the app built: the collector's full passes over those objects
        # were ~90 ms pauses, the tail of a 1,000-approval listing.
        gc.freeze()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, setattr, server, "should_exit", True)
        scheme = "https" if args.tls_cert else "http"
        port = sock.getsockname()[1]
        print(f"hitl: serving {home.path} on {scheme}://{args.host}:{port}", flush=True)
        await server.serve(sockets=[sock])
    return 0


def run(args: argparse.Namespace) -> int:
    """The ``hitl serve`` command: exit 1 with one line for anything refused."""
    try:
        return asyncio.run(serve(args))
    except HitlError as error:
        print(f"hitl: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
