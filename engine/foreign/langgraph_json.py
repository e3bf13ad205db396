"""A project's ``langgraph.json``, read as LangGraph's CLI reads it.

``graphs`` maps names to ``./path.py:ATTR`` or ``package.module:ATTR`` (or to
``{"path": ..., "description": ...}``), relative to the file. ``dependencies`` that are
local directories go on ``sys.path`` with the file's own directory, appended, as
``langgraph dev`` does; the others are packages the environment already has. ``env`` is
a mapping or the path of a ``.env`` file; its variables are set only where the
environment does not already set them, so a shell's value wins.

Every problem of a file is reported at once, in one line.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from engine.foreign.loading import GraphLoadError

CONFIG_FILE = "langgraph.json"
ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class LangGraphConfig:
    """What hitl honours of a ``langgraph.json``; the rest of it is the server's."""

    path: Path
    graphs: dict[str, str]
    dependencies: tuple[str, ...]
    env: dict[str, str] | str | None


def read_config(directory: Path) -> LangGraphConfig | None:
    """The ``langgraph.json`` in ``directory``, checked; ``None`` if there is none."""
    path = directory / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise GraphLoadError(f"{path}: cannot read it: {error.strerror}") from error
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise GraphLoadError(
            f"{path}: not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from error
    if not isinstance(raw, dict):
        raise GraphLoadError(f"{path}: expected a JSON object, found {type(raw).__name__}")
    problems: list[str] = []
    graphs = _graphs(raw.get("graphs"), problems)
    dependencies = raw.get("dependencies", [])
    if not (isinstance(dependencies, list) and all(isinstance(d, str) for d in dependencies)):
        problems.append("'dependencies' must be a list of paths or package names")
        dependencies = []
    env = raw.get("env")
    if isinstance(env, dict):
        bad = [k for k, v in env.items() if not isinstance(v, str | int | float | bool)]
        if bad:
            problems.append(f"'env' values must be strings ({', '.join(bad)})")
        env = {k: v if isinstance(v, str) else json.dumps(v) for k, v in env.items()}
    elif env is not None and not isinstance(env, str):
        problems.append("'env' must be the path of a .env file or a mapping of variables")
        env = None
    if problems:
        raise GraphLoadError(f"{path}: " + "; ".join(problems))
    return LangGraphConfig(path, graphs, tuple(dependencies), env)


def apply_config(config: LangGraphConfig) -> None:
    """Sets the file's environment (never over a variable already set) and puts its
    directory and local dependencies on ``sys.path``; repeating it changes nothing."""
    env = config.env
    if isinstance(env, str):
        env = read_env_file(config.path.parent / env, config.path)
    for key, value in (env or {}).items():
        os.environ.setdefault(key, value)
    home = config.path.parent
    for directory in [home, *(home / d for d in config.dependencies)]:
        if directory.is_dir() and str(directory.resolve()) not in sys.path:
            sys.path.append(str(directory.resolve()))


def read_env_file(path: Path, config: Path) -> dict[str, str]:
    """``KEY=value`` lines (``export``, quotes and ``#`` comments allowed), as
    python-dotenv reads them, without its variable expansion or multi-line values: that
    library is not among ours for the sake of a few lines."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise GraphLoadError(
            f"{config}: its env file {path} cannot be read: {error.strerror}"
        ) from error
    values: dict[str, str] = {}
    bad: list[str] = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, rest = line.removeprefix("export ").partition("=")
        if not sep or not ENV_KEY.fullmatch(key.strip()):
            bad.append(str(number))
            continue
        values[key.strip()] = _env_value(rest.strip())
    if bad:
        lines_are = "lines " + ", ".join(bad) + " are" if len(bad) > 1 else f"line {bad[0]} is"
        raise GraphLoadError(f"{path}: {lines_are} not KEY=value")
    return values


def _env_value(text: str) -> str:
    quote = text[:1]
    if quote in ("'", '"') and text.count(quote) >= 2:
        inner = text[1 : text.index(quote, 1)]
        if quote == '"':
            inner = inner.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        return inner
    return re.split(r"\s+#", text, maxsplit=1)[0].strip()


def _graphs(raw: object, problems: list[str]) -> dict[str, str]:
    if raw is None:
        problems.append("'graphs' is missing (it maps names to path/to/file.py:ATTR)")
        return {}
    if not isinstance(raw, dict):
        problems.append("'graphs' must map names to path/to/file.py:ATTR")
        return {}
    graphs: dict[str, str] = {}
    for name, value in raw.items():
        where = value.get("path") if isinstance(value, dict) else value
        if isinstance(where, str) and where.strip():
            graphs[name] = where.strip()
        else:
            problems.append(f"graph {name!r} must be 'path/to/file.py:ATTR', not {value!r}")
    return graphs
