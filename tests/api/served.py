"""A real ``hitl serve``, in the test's own event loop: the engine on a real home, the
API on uvicorn on a free 127.0.0.1 port, and an httpx client per token."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import uvicorn

from api import make_app
from engine import Engine, Home


@dataclass
class Served:
    engine: Engine
    url: str
    secrets: dict[str, str] = field(default_factory=dict)
    """Each test operator's token secret, by name."""

    def client(self, who: str | None = None) -> httpx.AsyncClient:
        """A client with ``who``'s token (None: with none)."""
        headers = {"Authorization": f"Bearer {self.secrets[who]}"} if who else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)


TOKENS = {
    "alice": ("read", "start", "decide"),
    "bob": ("read", "decide"),
    "watcher": ("read",),
}


@contextlib.asynccontextmanager
async def serve_engine(engine: Engine) -> AsyncIterator[str]:
    """The API over ``engine`` on a free port; its base URL, until the block ends."""
    # The socket listens before the server runs: a client connecting at once waits in
    # its backlog, so there is no start-up to wait for.
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(128)
    port = listening.getsockname()[1]
    config = uvicorn.Config(make_app(engine), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        listening.close()


@contextlib.asynccontextmanager
async def served_home(home: Home, **options: object) -> AsyncIterator[Served]:
    async with Engine.open(home, operator="server", **options) as engine:  # type: ignore[arg-type]
        async with serve_engine(engine) as url:
            served = Served(engine, url)
            for who, scopes in TOKENS.items():
                _, served.secrets[who] = await engine.create_token(who, scopes)
            yield served
