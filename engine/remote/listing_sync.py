"""Whether a listing must take the server's threads in again, without LangGraph.

``hitl --server ... pending`` opens an engine to take in what waits on the server (and
importing LangGraph costs ~0.9 s of the 2 s a person will wait). When nothing of the
assistant changed on the server since the home last took its threads in, the home's
rows are already what the server would say: the listing reads them at once. One
request tells: the assistant's newest ``updated_at`` (and how many threads it has),
kept per server and assistant in ``<home>/server-sync.json`` once a sync finished.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.home import Home
from engine.remote.server import AgentServer

MARKS = "server-sync.json"


def _key(server: AgentServer) -> str:
    return f"{server.url} {server.assistant or ''}"


def _marks(home: Home) -> dict[str, Any]:
    try:
        found = json.loads((home.path / MARKS).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


async def newest_change(home: Home, server: AgentServer) -> list[Any] | None:
    """The assistant's newest change on the server as the mark compares it, or None
    when the home has no mark yet (the assistant's id is known only from a sync)."""
    mark = _marks(home).get(_key(server))
    if not isinstance(mark, dict) or not isinstance(mark.get("assistant_id"), str):
        return None
    import httpx

    headers = {"x-api-key": server.api_key.get_secret_value()} if server.api_key else {}
    body = {
        "metadata": {"assistant_id": mark["assistant_id"]},
        "limit": 1,
        "sort_by": "updated_at",
        "sort_order": "desc",
        "select": ["thread_id", "updated_at"],
    }
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as http:
            answer = await http.post("/threads/search", json=body)
            answer.raise_for_status()
            rows = answer.json()
    except (httpx.HTTPError, ValueError):
        return None  # the full sync says what is wrong, in its words
    newest = rows[0] if isinstance(rows, list) and rows else {}
    return [mark["assistant_id"], newest.get("thread_id"), newest.get("updated_at")]


def unchanged(home: Home, server: AgentServer, newest: list[Any] | None) -> bool:
    """Whether the server's newest change is the one the last finished sync saw."""
    if newest is None:
        return False
    mark = _marks(home).get(_key(server))
    return isinstance(mark, dict) and mark.get("newest") == newest


def remember(home: Home, server: AgentServer, assistant_id: str, newest: list[Any] | None) -> None:
    """After a sync: what it saw, read before it began (a change during it is seen
    again next time). Written whole, then renamed into place."""
    marks = _marks(home)
    marks[_key(server)] = {"assistant_id": assistant_id, "newest": newest}
    target = home.path / MARKS
    scratch = target.with_suffix(f".{os.getpid()}.tmp")
    scratch.write_text(json.dumps(marks))
    Path(scratch).replace(target)
