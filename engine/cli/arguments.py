"""Flag values that are more than a word: JSON objects (inline, ``@FILE``, ``-``), and times.

Each way a value can be wrong is one line naming the flag, never a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from engine.errors import InvalidDecision
from engine.limits import MAX_JSON_DEPTH, nested_deeper

MAX_ARGS_FILE_BYTES = 16 * 1024 * 1024
"""The most ``--args @FILE`` / ``--args -`` reads (the engine limits edits far below it):
``--args @/dev/zero`` must end."""


def json_object(raw: str, flag: str) -> dict[str, Any]:
    """A JSON object given inline, as ``@FILE`` or as ``-`` (stdin). Every way it can
    be wrong (unreadable, not UTF-8, not JSON, nested too deeply, not an object) is one
    line naming where the text came from."""
    source, parsed = _json(raw, flag)
    if not isinstance(parsed, dict):
        raise InvalidDecision(f"{source} must be a JSON object of argument names to values")
    return parsed


def json_value(raw: str, flag: str) -> Any:
    """Any JSON value, given as :func:`json_object`'s are."""
    return _json(raw, flag)[1]


def _json(raw: str, flag: str) -> tuple[str, Any]:
    source, text = _json_text(raw, flag)
    try:
        parsed = json.loads(text)
        too_deep = nested_deeper(parsed)
    except json.JSONDecodeError as error:
        raise InvalidDecision(
            f"{source} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:  # the parser's own limit, far deeper than ours
        too_deep = True
    if too_deep:
        raise InvalidDecision(
            f"{source}: the JSON is nested too deeply (limit {MAX_JSON_DEPTH} levels)"
        )
    return source, parsed


def _json_text(raw: str, flag: str) -> tuple[str, str]:
    """(where the text came from, the text) for an inline value, ``@FILE`` or ``-``."""
    if raw != "-" and not raw.startswith("@"):
        return flag, raw
    if raw == "-":
        source = f"{flag} - (stdin)"
        data = sys.stdin.buffer.read(MAX_ARGS_FILE_BYTES + 1)
    else:
        path = Path(raw[1:]).expanduser()
        source = f"{flag} file {path}"
        try:
            with path.open("rb") as file:
                data = file.read(MAX_ARGS_FILE_BYTES + 1)
        except OSError as error:
            raise InvalidDecision(f"cannot read {source}: {error.strerror or error}") from None
    if len(data) > MAX_ARGS_FILE_BYTES:
        raise InvalidDecision(f"{source} is larger than {MAX_ARGS_FILE_BYTES // 2**20} MB")
    try:
        return source, data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InvalidDecision(
            f"{source} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
            f"{error.start}, line {line})"
        ) from None


def moment(raw: str | None, flag: str) -> float | None:
    """``--since`` / ``--until``: an age (``2h``, counted back from now) or an ISO time."""
    if raw is None:
        return None
    from datetime import datetime

    from engine.policy_file import parse_duration

    try:
        return time.time() - parse_duration(raw)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        raise InvalidDecision(f"{flag} {raw!r} is neither an ISO time nor an age like 2h") from None
