"""Someone's own LangGraph graph, loaded from where they keep it.

A spec names it the ways LangGraph's own tools do: ``path/to/file.py:ATTR``,
``package.module:ATTR`` (the form ``langgraph.json`` uses), or ``NAME`` from the
``langgraph.json`` in the working directory. ATTR is a graph compiled without a
checkpointer, an uncompiled ``StateGraph``, or a factory (no arguments, or one
``RunnableConfig``; sync or async) returning either. The engine brings the checkpointer:
a graph that brings its own is refused, at load time where that can be known.

Imports follow ``langgraph dev``: directories are appended to ``sys.path`` (so they
never shadow an installed package), never prepended. It appends the working directory
(where ``./file.py`` lives) and each local dependency of ``langgraph.json``; for a file
named by its path, the file's own directory plays that part, so its sibling modules
import as they do when it runs as a script. A file is imported under a name made from
its resolved path: unique per file, and the same in every process, so a type the
module defines and a checkpoint holds reads back under the same name.

Every failure is a ``GraphLoadError`` whose text is the one line a person sees.
LangGraph and jsonschema are imported only when a graph is loaded or checked, so
listing the names of a ``langgraph.json`` stays cheap.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
import sysconfig
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from engine.errors import HitlError

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.pregel import Pregel

    Graph = Pregel[Any, Any, Any, Any]


class GraphLoadError(HitlError):
    """The graph could not be loaded as given; the message names the module and why."""

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))


class InvalidInput(HitlError):
    """A thread's input does not fit the graph's input schema; every problem is listed."""

    def __init__(self, graph: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"input does not fit graph {graph}: " + "; ".join(problems))


@dataclass(frozen=True)
class LoadedGraph:
    """A graph ready to be bound to the engine's checkpointer.

    ``name``: the ``langgraph.json`` name, else the spec. ``spec`` and ``cwd`` load it
    again in another process; ``target`` is what the spec resolved to
    (``path.py:ATTR`` or ``module:ATTR``). ``graph`` is the graph as loaded, without a
    checkpointer, or ``None`` for a factory, which only ``build`` runs.
    """

    name: str
    spec: str
    target: str
    cwd: Path
    graph: Graph | None = field(repr=False, compare=False)
    factory: Callable[..., Any] | None = field(default=None, repr=False, compare=False)
    factory_takes_config: bool = field(default=False, repr=False, compare=False)

    async def build(
        self, checkpointer: BaseCheckpointSaver[Any], config: RunnableConfig | None = None
    ) -> Graph:
        """The runnable graph on ``checkpointer``; the loaded graph itself is untouched.
        A factory is called here, with ``config`` if it takes one."""
        graph = self.graph
        if graph is None:
            graph = await self._from_factory(config)
        return graph.copy(update={"checkpointer": checkpointer})

    async def _from_factory(self, config: RunnableConfig | None) -> Graph:
        factory = self.factory
        assert factory is not None
        try:
            if self.factory_takes_config:
                made = factory(config or {"configurable": {}})
            else:
                made = factory()
            if inspect.isawaitable(made):
                made = await made
        except Exception as error:
            failed = f"graph factory {self.target} failed: {_describe(error)}"
            raise GraphLoadError(failed) from error
        return _checked_graph(made, f"{self.target} (what the factory returned)")


def load_graph(spec: str, *, cwd: Path | None = None) -> LoadedGraph:
    """Imports the graph ``spec`` names; the engine's checkpointer is bound by ``build``.

    Relative paths are read from ``cwd`` (default: the working directory). A graph that
    has its own checkpointer is refused here, before anything is written; a factory's
    graph can only be checked when ``build`` calls it.
    """
    from engine.foreign.langgraph_json import CONFIG_FILE, apply_config, read_config

    base = (cwd or Path.cwd()).resolve()
    spec = spec.strip()
    target, origin, named = spec, base, False
    if ":" not in target and not _looks_like_path(target):
        config = read_config(base)
        if config is None:
            raise GraphLoadError(
                f"no graph named {spec!r}: there is no {CONFIG_FILE} in {base}; name the graph "
                "as path/to/file.py:ATTR or package.module:ATTR"
            )
        if spec not in config.graphs:
            known = ", ".join(sorted(config.graphs)) or "no graphs"
            raise GraphLoadError(f"no graph named {spec!r} in {config.path}; it names {known}")
        apply_config(config)
        target, origin, named = config.graphs[spec], config.path.parent, True
    where, _, attr = target.rpartition(":") if ":" in target else (target, "", "")
    if _looks_like_path(where):
        module = _import_file(origin / where, where, siblings=not named)
    else:
        _append_to_path(base)
        module = _import_module(where)
    value, attr = _attribute(module, where, attr)
    located = f"{where}:{attr}"
    graph, factory, takes_config = _classify(value, located)
    return LoadedGraph(spec, spec, located, base, graph, factory, takes_config)


def configured_graphs(cwd: Path) -> dict[str, str]:
    """The graphs the ``langgraph.json`` in ``cwd`` names (name -> ``path:ATTR``); empty
    when there is none. Nothing is imported."""
    from engine.foreign.langgraph_json import read_config

    config = read_config(cwd.resolve())
    return dict(config.graphs) if config else {}


def input_schema(graph: Graph) -> dict[str, Any]:
    """The JSON schema of the graph's input, as LangGraph publishes it.

    Where pydantic cannot describe the input as a whole (a ``typing.TypedDict`` state on
    Python 3.11, a field of a type with no JSON form), it is described field by field,
    and a field pydantic cannot describe takes any value: the console still knows the
    fields, and LangGraph checks the values when the thread runs.
    """
    from pydantic.errors import PydanticUserError

    try:
        return graph.get_input_jsonschema()
    except PydanticUserError:
        return _schema_by_field(graph)


def _schema_by_field(graph: Graph) -> dict[str, Any]:
    import typing

    from pydantic import TypeAdapter
    from pydantic.errors import PydanticUserError

    builder = getattr(graph, "builder", None)
    typ = getattr(builder, "input_schema", None)
    fields = getattr(builder, "schemas", {}).get(typ, {})
    try:
        hints = typing.get_type_hints(typ)
    except Exception:  # hints naming what the module never imported: names only
        hints = {}
    schema: dict[str, Any] = {"type": "object", "properties": {}, "$defs": {}}
    for key in fields:
        try:
            described = TypeAdapter(hints[key]).json_schema() if key in hints else {}
        except PydanticUserError:
            described = {}
        schema["$defs"].update(described.pop("$defs", {}))
        schema["properties"][key] = described
    required = sorted(set(getattr(typ, "__required_keys__", ())) & set(fields))
    if required:
        schema["required"] = required
    return schema


def takes_messages(graph: Graph) -> bool:
    """Whether a thread starts from a ``messages`` list (a chat agent) rather than from
    fields of the graph's own."""
    return "messages" in input_schema(graph).get("properties", {})


def validate_input(graph: Graph, value: object) -> dict[str, Any]:
    """``value`` if it fits the graph's input schema; else ``InvalidInput`` naming each
    field that does not, and why.

    Pydantic writes a union of message types as ``oneOf``; a message given as
    ``{"role": "user", "content": ...}`` fits several of them, so it is checked as
    ``anyOf``: fitting one is enough, as it is for LangGraph.
    """
    from jsonschema import Draft202012Validator

    name = graph.name
    if not isinstance(value, dict):
        raise InvalidInput(name, [f"the input is a {type(value).__name__}, not an object"])
    validator = Draft202012Validator(_any_of(input_schema(graph)))
    problems = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path))):
        shown = _likeliest(error)
        path = shown.json_path.removeprefix("$").removeprefix(".") or "input"
        problems.append(f"{path}: {_shorten(shown.message)}")
    if problems:
        raise InvalidInput(name, problems)
    return value


def _likeliest(error: ValidationError) -> ValidationError:
    """For a value that fits none of a union's branches, what most branches object to
    ("'content' is a required property"), rather than "not valid under any of the
    given schemas"."""
    while error.context:
        counts = Counter(e.message for e in error.context)
        top = counts.most_common(1)[0][0]
        error = next(e for e in error.context if e.message == top)
    return error


def _any_of(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {("anyOf" if k == "oneOf" else k): _any_of(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_any_of(v) for v in schema]
    return schema


def _looks_like_path(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def _append_to_path(directory: Path) -> None:
    if str(directory) not in sys.path:
        sys.path.append(str(directory))


def _module_name(path: Path) -> str:
    stem = re.sub(r"\W", "_", path.stem)
    return f"_hitl_graph_{stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"


def _import_file(path: Path, shown: str, *, siblings: bool) -> ModuleType:
    """``siblings``: a file named by its own path (not by a ``langgraph.json``), whose
    directory goes on ``sys.path`` as it would when it runs as a script."""
    path = path.resolve()
    if not path.exists():
        raise GraphLoadError(f"{shown}: no such file ({path})")
    if not path.is_file():
        raise GraphLoadError(f"{shown}: not a file ({path})")
    name = _module_name(path)
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) == str(path):
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise GraphLoadError(f"{shown}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    if siblings:
        _append_to_path(path.parent)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:
        del sys.modules[name]
        raise GraphLoadError(f"cannot import {shown}: {_describe(error)}") from error
    return module


def _import_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            raise GraphLoadError(
                f"cannot import {name}: no module named {missing!r} (install it, run from "
                "the directory that holds it, or list it in langgraph.json's dependencies)"
            ) from error
        raise GraphLoadError(f"cannot import {name}: {_describe(error)}") from error
    except (Exception, SystemExit) as error:
        raise GraphLoadError(f"cannot import {name}: {_describe(error)}") from error


def _attribute(module: ModuleType, where: str, attr: str) -> tuple[object, str]:
    """The object ``attr`` names; with no ``attr``, the module's only graph."""
    missing = object()
    value = getattr(module, attr, missing) if attr else missing
    if value is not missing:
        return value, attr
    graphs = _graphs_in(module)
    if not attr and len(graphs) == 1:
        return getattr(module, graphs[0]), graphs[0]
    if graphs:
        hint = "the graphs in it: " + ", ".join(graphs)
    else:
        makers = _factories_in(module)
        hint = "it defines no graph (a compiled graph, a StateGraph, or a function returning one)"
        if makers:
            hint += "; functions that may build one: " + ", ".join(makers)
    if not attr:
        raise GraphLoadError(f"{where}: say which graph, as {where}:ATTR; {hint}")
    raise GraphLoadError(f"{where} has no attribute {attr!r}; {hint}")


def _graphs_in(module: ModuleType) -> list[str]:
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    return [
        k
        for k, v in vars(module).items()
        if not k.startswith("_") and isinstance(v, Pregel | StateGraph)
    ]


def _factories_in(module: ModuleType) -> list[str]:
    return [
        k
        for k, v in vars(module).items()
        if not k.startswith("_")
        and inspect.isfunction(v)
        and v.__module__ == module.__name__
        and _config_argument(v) is not None
    ]


def _config_argument(function: Callable[..., Any]) -> bool | None:
    """Whether a factory takes the config (True), nothing (False), or is no factory."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    positional = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    if len(required) > 1:
        return None
    return bool(positional)


def _classify(value: object, located: str) -> tuple[Graph | None, Callable[..., Any] | None, bool]:
    """(graph, None, _) for a graph, checked now; (None, factory, takes_config) for a
    factory, checked when built."""
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    if isinstance(value, Pregel | StateGraph):
        return _checked_graph(value, located), None, False
    if callable(value) and not isinstance(value, type):
        takes_config = _config_argument(value)
        if takes_config is None:
            raise GraphLoadError(
                f"{located} is not a graph factory: a factory takes no arguments or one "
                "(a RunnableConfig)"
            )
        return None, value, takes_config
    raise GraphLoadError(
        f"{located} is a {type(value).__name__}, not a graph: give a compiled graph, a "
        "StateGraph, or a function returning one"
    )


def _checked_graph(value: object, located: str) -> Graph:
    """A compiled graph with no checkpointer of its own, from a graph or a builder."""
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    if isinstance(value, StateGraph):
        try:
            value = value.compile()
        except Exception as error:
            raise GraphLoadError(
                f"{located}: the StateGraph does not compile: {_describe(error)}"
            ) from error
    if not isinstance(value, Pregel):
        raise GraphLoadError(
            f"{located} is a {type(value).__name__}, not a graph: give a compiled graph, a "
            "StateGraph, or a function returning one"
        )
    if isinstance(value.checkpointer, BaseCheckpointSaver):
        raise GraphLoadError(
            f"{located} was compiled with its own checkpointer "
            f"({type(value.checkpointer).__name__}): compile it without one and hitl "
            "attaches its own, or adopt your app's database with --database"
        )
    return value


def _describe(error: BaseException) -> str:
    """``Type: message (where)``, pointing at the user's own line, not LangGraph's."""
    text = f"{type(error).__name__}: {_shorten(str(error))}"
    if isinstance(error, SyntaxError):
        return text
    library = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        here = frame.filename
        if here.startswith("<") or here == __file__ or here.startswith(tuple(library)):
            continue
        return f"{text} (at {here}:{frame.lineno})"
    return text


def _shorten(text: str, limit: int = 300) -> str:
    flat = _one_line(text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())
