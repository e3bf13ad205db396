"""Threads that run on a LangGraph Agent Server, supervised from a local home.

The server runs the agents and keeps their history; the home keeps what the server
does not (policy verdicts, four-eyes, expiry, the audit log, who decided). The pieces
plug into the machinery that adopts an app's own threads (``engine.foreign``): the
server's assistant is one more graph (:class:`~engine.remote.graph.ServerGraph`),
whose threads a feed over ``threads.search`` names as they change
(:class:`~engine.remote.feed.ServerFeed`), and whose resume is a run on the server.
"""

SERVER_URL_ENV = "HITL_SERVER_URL"
"""Names the Agent Server when no ``--server`` does; here, so that a listing can tell
there is none without importing the server's client (and pydantic)."""
