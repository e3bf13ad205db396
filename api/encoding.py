"""Large answers encoded straight to JSON bytes, described by their response model.

FastAPI validates a route's return value against its response model and then encodes
it; for a thousand pending approvals that is work the engine's typed views do not
need. A route that returns :func:`json_response` keeps ``response_model`` for the
OpenAPI document and sends orjson's bytes; a value orjson refuses (an integer past 64
bits in a tool's arguments) is encoded by pydantic instead, so nothing is refused.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import TypeAdapter

try:  # LangSmith's dependency (so langchain-core's) on CPython
    import orjson
except ImportError:  # pragma: no cover - every supported install has it
    orjson = None  # type: ignore[assignment]


def json_response(value: Any, model: TypeAdapter[Any]) -> Response:
    """``value`` (dataclasses, lists, dicts) as ``application/json``."""
    body: bytes | None = None
    if orjson is not None:
        try:
            body = orjson.dumps(value)
        except orjson.JSONEncodeError:
            body = None
    if body is None:
        body = model.dump_json(value)
    return Response(body, media_type="application/json")
