"""The FastAPI application over one open engine.

``make_app(engine)`` is the one place the API is put together; ``hitl serve`` and the
tests both use it, so what is tested is what is served.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api import problems
from api.routes import approvals, audit, events, policy, threads
from engine import Engine, urgent


class DecisionsFirst:
    """A decision's request is a person's decision being applied from its first await:
    its token check, the decision and its answer go ahead of the busy fleet's work (in
    the run slots, at the database and in the event loop; ``engine.urgent``), as a
    decision from the console or a script does."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].startswith("/approvals/")
            and scope["path"].endswith("/decide")
        ):
            with urgent():
                await self.app(scope, receive, send)
            return
        await self.app(scope, receive, send)


def make_app(engine: Engine) -> FastAPI:
    app = FastAPI(
        title="hitl-console",
        summary="Supervise AI agents; approve their risky actions first.",
        description="Every route needs a bearer token (`hitl token create --operator "
        "NAME`). Decisions are recorded as the token's operator.",
        version="1",
        # Read no more than a decision can use: the largest edit the engine takes, twice
        # over for JSON's escapes, and never less than 1 MiB. Past it: 413, unread.
        max_body_size=max(1 << 20, 2 * engine.options.max_edit_bytes),
    )
    app.state.engine = engine
    app.add_middleware(DecisionsFirst)
    problems.install(app)
    for module in (threads, approvals, policy, audit, events):
        app.include_router(module.router)
    return app
