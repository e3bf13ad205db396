"""``hitl console --web``: the same console in a browser, served by textual-serve.

Each browser tab that opens the page starts its own ``hitl console`` process (with the
home, database, policy and operator this command was given) and drives it over a
websocket; this process keeps an engine of its own open meanwhile, so notifications are
delivered and approvals warned of and expired on time with no browser attached. Whoever
has the URL decides as that operator, so the URL carries a random
token: the first request shows it and gets it back as a cookie (``SameSite=Strict``,
``HttpOnly``); every request without it, the websocket's included, is refused with 403,
and so is a websocket opened from a page of another origin.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import secrets
import shlex
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from tui.sources import EngineOpener

COOKIE = "hitl_web_token"
TEMPLATES = Path(__file__).parent / "templates"
"""textual-serve's page, without its link to a third party's web font."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TokenServer(Server):
    """textual-serve's server, answering only requests that carry ``token``."""

    def __init__(
        self,
        command: str,
        host: str,
        port: int,
        token: str,
        engine: EngineOpener | None = None,
    ) -> None:
        super().__init__(command, host=host, port=port, title="hitl console")
        self.templates_path = TEMPLATES
        self.token = token
        self._engine = engine
        self.url = f"{self.public_url}/?token={token}"
        """What the command prints: the page, with its token."""

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._require_token)
        if self._engine is not None:
            app.cleanup_ctx.append(self._keep_engine)
        return app

    async def _keep_engine(self, app: web.Application) -> AsyncIterator[None]:
        """An engine open for as long as the server runs, whether or not a browser is
        connected: it delivers notifications, warns and expires on time."""
        assert self._engine is not None
        async with self._engine():
            yield

    @web.middleware
    async def _require_token(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise web.HTTPForbidden(text="hitl: this console needs the token its URL carries\n")
        origin = request.headers.get("Origin")
        if request.path == "/ws" and origin and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="hitl: a websocket from another origin\n")
        if request.path == "/":
            # The page's websocket goes back where the page came from (behind a TLS
            # proxy: wss), not to the address bound, which may be 0.0.0.0.
            scheme = request.headers.get("X-Forwarded-Proto", request.scheme)
            self.public_url = f"{'https' if scheme == 'https' else 'http'}://{request.host}"
        response = await handler(request)
        if "token" in request.query and not isinstance(response, web.WebSocketResponse):
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    async def on_startup(self, app: web.Application) -> None:
        print(f"hitl: the console is served at {self.url}", flush=True)
        print("hitl: anyone with this URL decides as this console's operator", flush=True)


def console_command(args: argparse.Namespace) -> str:
    """The ``hitl console`` each browser tab runs: this one's flags, without ``--web``."""
    argv = [sys.executable, "-c", "import sys; from tui.entry import main; sys.exit(main())"]
    for flag in ("home", "database", "policy", "operator", "durability"):
        if (value := getattr(args, flag, None)) is not None:
            argv += [f"--{flag}", str(value)]
    for spec in getattr(args, "graph", None) or ():
        argv += ["--graph", spec]
    argv.append("console")
    if getattr(args, "model", None):
        argv += ["--model", args.model]
    if getattr(args, "base_url", None):
        argv += ["--base-url", args.base_url]
    return shlex.join(argv)


def serve_console(args: argparse.Namespace) -> int:
    """Serves the console until interrupted. Loopback unless ``--web-host`` says
    otherwise, and then with a warning: textual-serve speaks plain HTTP, so beyond this
    machine it belongs behind a TLS proxy."""
    host, port = args.web_host, args.web_port
    if not is_loopback(host):
        print(
            f"hitl: warning: serving on {host}, beyond this machine, over plain HTTP: put it "
            "behind a TLS proxy; the token in the URL is all that guards it",
            file=sys.stderr,
        )
    from tui.launch import background_engine

    opener = background_engine(args)
    token = secrets.token_urlsafe(24)
    server = TokenServer(console_command(args), host, port, token, engine=opener)
    server.serve()
    return 0
