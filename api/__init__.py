"""``hitl serve``: an HTTP API over the same engine the console and the CLI use.

It talks to the engine only through its public API (``engine``), never to the
console: a web app, a webhook or a script decides exactly as a person at the console
does, with the same validation and the same results. Who decides is the bearer
token's operator, never a field of the request.
"""

from api.app import make_app

__all__ = ["make_app"]
