"""Loading someone's own graph: every form a spec and an attribute may take, and every
way it can go wrong, each told in one line that names the module."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from engine.errors import HitlError
from engine.foreign.loading import (
    GraphLoadError,
    InvalidInput,
    LoadedGraph,
    configured_graphs,
    input_schema,
    load_graph,
    takes_messages,
    validate_input,
)

GRAPHS = Path(__file__).parent / "graphs"
PROJECT = GRAPHS / "project"
EXAMPLES = Path(__file__).parents[3] / "examples"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path) -> Iterator[None]:
    """What loading changes in the process (sys.path, the environment, the modules it
    imported from the test's graphs) is put back after each test."""
    path, environ, modules = list(sys.path), dict(os.environ), set(sys.modules)
    yield
    sys.path[:] = path
    os.environ.clear()
    os.environ.update(environ)
    for name in set(sys.modules) - modules:
        where = getattr(sys.modules[name], "__file__", None) or ""
        if name.startswith("_hitl_graph_") or where.startswith((str(GRAPHS), str(tmp_path))):
            del sys.modules[name]


def refused(spec: str, *, cwd: Path = GRAPHS) -> str:
    with pytest.raises(GraphLoadError) as caught:
        load_graph(spec, cwd=cwd)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


async def run_once(loaded: LoadedGraph, **config: Any) -> tuple[Any, InMemorySaver]:
    """Builds on a fresh saver and runs the counter graph one step on thread t1."""
    saver = InMemorySaver()
    graph = await loaded.build(saver, {"configurable": config} if config else None)
    result = await graph.ainvoke({"count": 1}, {"configurable": {"thread_id": "t1"}})
    return result, saver


# The forms of a spec


async def test_a_file_path_loads_its_graph_and_build_attaches_the_checkpointer() -> None:
    loaded = load_graph("forms.py:graph", cwd=GRAPHS)
    assert (loaded.name, loaded.target, loaded.cwd) == ("forms.py:graph", "forms.py:graph", GRAPHS)

    result, saver = await run_once(loaded)

    assert result == {"count": 2}
    assert saver.get_tuple({"configurable": {"thread_id": "t1"}}) is not None
    assert loaded.graph is not None and loaded.graph.checkpointer is None


async def test_the_graph_in_the_users_module_is_left_as_it_was() -> None:
    loaded = load_graph("forms.py:graph", cwd=GRAPHS)
    thread = {"configurable": {"thread_id": "t1"}}
    built = await loaded.build(InMemorySaver())
    await built.ainvoke({"count": 1}, thread)

    assert (await built.aget_state(thread)).values == {"count": 2}
    assert loaded.graph is not None and loaded.graph.checkpointer is None
    with pytest.raises(ValueError, match="No checkpointer set"):
        await loaded.graph.aget_state(thread)


def test_a_path_is_read_from_the_working_directory_given() -> None:
    loaded = load_graph("graphs/forms.py:graph", cwd=GRAPHS.parent)
    assert loaded.graph is not None and loaded.graph.name == "counter"


def test_two_files_of_the_same_name_stay_two_modules(tmp_path: Path) -> None:
    for team in ("red", "blue"):
        (tmp_path / team).mkdir()
        (tmp_path / team / "agent.py").write_text(
            "from langgraph.graph import START, MessagesState, StateGraph\n"
            "b = StateGraph(MessagesState)\n"
            "b.add_node('n', lambda s: {})\n"
            "b.add_edge(START, 'n')\n"
            f"graph = b.compile(name='{team}')\n"
        )

    red = load_graph("red/agent.py:graph", cwd=tmp_path)
    blue = load_graph("blue/agent.py:graph", cwd=tmp_path)

    assert red.graph is not None and red.graph.name == "red"
    assert blue.graph is not None and blue.graph.name == "blue"
    assert "agent" not in sys.modules


def test_loading_a_file_again_reuses_its_module() -> None:
    first = load_graph("forms.py:graph", cwd=GRAPHS)
    again = load_graph("forms.py:graph", cwd=GRAPHS)
    assert first.graph is again.graph


def test_a_files_sibling_modules_import_and_never_shadow_installed_ones() -> None:
    loaded = load_graph(f"{GRAPHS / 'sibling_user.py'}:graph", cwd=Path("/"))

    assert loaded.graph is not None and loaded.graph.name == "sibling"
    assert sys.path[-1] == str(GRAPHS)
    assert str(GRAPHS) not in sys.path[:-1]


def test_a_module_attribute_is_imported_from_the_working_directory(tmp_path: Path) -> None:
    package = f"team_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "agents.py").write_text(
        (PROJECT / "src" / "agentpkg" / "graphs.py").read_text()
    )

    loaded = load_graph(f"{package}.agents:graph", cwd=tmp_path)

    assert loaded.graph is not None and loaded.graph.name == "from_package"
    assert sys.path[-1] == str(tmp_path)


def test_a_file_with_one_graph_needs_no_attribute(tmp_path: Path) -> None:
    (tmp_path / "only.py").write_text(
        (GRAPHS / "sibling_helper.py").read_text() + "\ng = make_graph()\n"
    )
    loaded = load_graph("only.py", cwd=tmp_path)
    assert loaded.target == "only.py:g"


# langgraph.json


async def test_a_name_loads_the_graph_langgraph_json_gives_it_with_its_env() -> None:
    os.environ["HITL_TEST_PRESET"] = "from-the-shell"

    loaded = load_graph("by_path", cwd=PROJECT)

    assert (loaded.name, loaded.spec, loaded.target) == ("by_path", "by_path", "./agent.py:graph")
    assert loaded.graph is not None and loaded.graph.name == "titled_from_env_file"
    assert os.environ["HITL_TEST_QUOTED"] == "two words"
    assert os.environ["HITL_TEST_PRESET"] == "from-the-shell"
    built = await loaded.build(InMemorySaver())
    assert isinstance(built.checkpointer, InMemorySaver)


def test_a_name_may_point_at_a_module_in_a_dependency() -> None:
    loaded = load_graph("by_module", cwd=PROJECT)

    assert loaded.graph is not None and loaded.graph.name == "from_package"
    assert str(PROJECT / "src") in sys.path
    assert str(PROJECT) in sys.path


def test_env_as_a_mapping_never_overrides_what_is_set(tmp_path: Path) -> None:
    (tmp_path / "agent.py").write_text((PROJECT / "src" / "agentpkg" / "graphs.py").read_text())
    config = {
        "graphs": {"agent": "./agent.py:graph"},
        "env": {"HITL_TEST_FROM_JSON": "json", "HITL_TEST_SHELL": "json", "HITL_TEST_N": 3},
    }
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    os.environ["HITL_TEST_SHELL"] = "shell"

    load_graph("agent", cwd=tmp_path)

    assert os.environ["HITL_TEST_FROM_JSON"] == "json"
    assert os.environ["HITL_TEST_SHELL"] == "shell"
    assert os.environ["HITL_TEST_N"] == "3"


def test_configured_graphs_lists_the_names_without_importing_anything(tmp_path: Path) -> None:
    names = configured_graphs(PROJECT)

    assert names == {
        "by_path": "./agent.py:graph",
        "by_module": "agentpkg.graphs:graph",
        "described": "./agent.py:graph",
    }
    assert "agentpkg" not in sys.modules
    assert "HITL_TEST_GRAPH_TITLE" not in os.environ
    assert configured_graphs(tmp_path) == {}


def test_the_examples_langgraph_json_names_the_four_examples() -> None:
    assert set(configured_graphs(EXAMPLES)) == {"per_call", "batched", "inbox", "plain"}


# The forms of an attribute


async def test_an_uncompiled_state_graph_is_compiled_with_the_saver() -> None:
    loaded = load_graph("forms.py:builder", cwd=GRAPHS)
    result, saver = await run_once(loaded)
    assert result == {"count": 2}
    assert saver.get_tuple({"configurable": {"thread_id": "t1"}}) is not None


async def test_a_factory_is_called_when_built_not_when_loaded() -> None:
    loaded = load_graph("forms.py:make_graph", cwd=GRAPHS)
    calls = sys.modules[_module_of(loaded)].factory_calls
    assert loaded.graph is None and calls == []

    result, _ = await run_once(loaded)

    assert result == {"count": 2}
    assert calls == ["make_graph"]


async def test_a_factory_taking_a_config_gets_the_one_build_is_given() -> None:
    loaded = load_graph("forms.py:make_graph_for", cwd=GRAPHS)
    built = await loaded.build(InMemorySaver(), {"configurable": {"graph_name": "chosen"}})
    assert built.name == "chosen"


async def test_an_async_factory_returning_a_state_graph_is_awaited_and_compiled() -> None:
    loaded = load_graph("forms.py:make_graph_async", cwd=GRAPHS)
    result, saver = await run_once(loaded)
    assert result == {"count": 2}
    assert saver.get_tuple({"configurable": {"thread_id": "t1"}}) is not None


def _module_of(loaded: LoadedGraph) -> str:
    assert loaded.factory is not None
    return loaded.factory.__module__


# Refusals, each in one line


def test_a_graph_with_its_own_checkpointer_is_refused_at_load() -> None:
    message = refused("forms.py:own_saver")
    assert "forms.py:own_saver" in message
    assert "own checkpointer (InMemorySaver)" in message
    assert "without one" in message and "--database" in message


async def test_a_factory_whose_graph_has_its_own_checkpointer_is_refused_when_built() -> None:
    loaded = load_graph("forms.py:make_graph_with_saver", cwd=GRAPHS)
    with pytest.raises(GraphLoadError, match=r"own checkpointer .*--database") as caught:
        await loaded.build(InMemorySaver())
    assert "\n" not in str(caught.value) and "forms.py:make_graph_with_saver" in str(caught.value)


async def test_a_factory_that_fails_or_returns_no_graph_is_named() -> None:
    broken = load_graph("forms.py:make_graph_broken", cwd=GRAPHS)
    with pytest.raises(GraphLoadError) as caught:
        await broken.build(InMemorySaver())
    assert "forms.py:make_graph_broken" in str(caught.value)
    assert "RuntimeError: the API key is missing" in str(caught.value)

    nothing = load_graph("forms.py:make_nothing", cwd=GRAPHS)
    with pytest.raises(GraphLoadError, match=r"make_nothing .*is a dict, not a graph"):
        await nothing.build(InMemorySaver())


def test_a_missing_file() -> None:
    message = refused("nowhere/agent.py:graph")
    assert message.startswith("nowhere/agent.py: no such file")
    assert str(GRAPHS / "nowhere" / "agent.py") in message


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("x = 1\ndef f(:\n    pass\n")
    message = refused("broken.py:graph", cwd=tmp_path)
    assert message.startswith("cannot import broken.py: SyntaxError")
    assert "line 2" in message
    assert not any(name.startswith("_hitl_graph_broken") for name in sys.modules)


def test_an_import_error_inside_the_module_names_what_is_missing_and_where() -> None:
    message = refused("bad_import.py:graph")
    assert message.startswith("cannot import bad_import.py: ModuleNotFoundError")
    assert "hitl_tests_dependency_that_is_not_installed" in message
    assert f"{GRAPHS / 'bad_import.py'}:3" in message


def test_an_exception_raised_at_import_is_told_in_one_line() -> None:
    message = refused("raises_at_import.py:graph")
    assert "cannot import raises_at_import.py: RuntimeError: HITL_TESTS_NEVER_SET is not set." in (
        message
    )
    assert "Set it to your API key." in message


def test_a_module_that_is_not_installed(tmp_path: Path) -> None:
    message = refused("hitl_tests_no_such_package.agents:graph", cwd=tmp_path)
    assert message.startswith("cannot import hitl_tests_no_such_package.agents")
    assert "no module named 'hitl_tests_no_such_package'" in message


def test_a_missing_attribute_names_the_graphs_the_module_has() -> None:
    message = refused("forms.py:grpah")
    assert (
        message == "forms.py has no attribute 'grpah'; the graphs in it: builder, graph, own_saver"
    )


def test_a_missing_attribute_in_a_module_without_graphs_names_its_functions() -> None:
    message = refused("no_graphs.py:graph")
    assert "no_graphs.py has no attribute 'graph'; it defines no graph" in message
    assert "functions that may build one: build_agent" in message


def test_a_file_with_several_graphs_asks_which() -> None:
    message = refused("forms.py")
    assert message.startswith("forms.py: say which graph, as forms.py:ATTR; the graphs in it")


def test_a_state_graph_that_does_not_compile(tmp_path: Path) -> None:
    (tmp_path / "unwired.py").write_text(
        "from langgraph.graph import MessagesState, StateGraph\n"
        "builder = StateGraph(MessagesState)\n"
        "builder.add_node('lonely', lambda state: {})\n"
    )
    message = refused("unwired.py:builder", cwd=tmp_path)
    assert message.startswith("unwired.py:builder: the StateGraph does not compile: ValueError")


def test_an_attribute_that_is_not_a_graph() -> None:
    message = refused("forms.py:settings")
    assert message.startswith("forms.py:settings is a dict, not a graph")


def test_a_function_of_two_arguments_is_no_factory() -> None:
    message = refused("forms.py:combine")
    assert message.startswith("forms.py:combine is not a graph factory")
    assert "no arguments or one (a RunnableConfig)" in message


def test_an_unknown_name_lists_the_names_langgraph_json_has() -> None:
    message = refused("by_pth", cwd=PROJECT)
    assert message == (
        f"no graph named 'by_pth' in {PROJECT / 'langgraph.json'}; "
        "it names by_module, by_path, described"
    )


def test_a_name_without_a_langgraph_json(tmp_path: Path) -> None:
    message = refused("agent", cwd=tmp_path)
    assert "no langgraph.json in" in message and "path/to/file.py:ATTR" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"graphs": {"a": "./a.py:graph",}}', "not valid JSON: Expecting property name"),
        ("[]", "expected a JSON object, found list"),
        ("{}", "'graphs' is missing"),
        (
            '{"graphs": {"a": 3, "b": ""}, "dependencies": ".", "env": 7}',
            "graph 'a' must be 'path/to/file.py:ATTR', not 3; graph 'b' must be "
            "'path/to/file.py:ATTR', not ''; 'dependencies' must be a list of paths or "
            "package names; 'env' must be the path of a .env file or a mapping of variables",
        ),
    ],
)
def test_a_bad_langgraph_json_is_told_in_one_line(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "langgraph.json").write_text(text)
    message = refused("a", cwd=tmp_path)
    assert message.startswith(str(tmp_path / "langgraph.json"))
    assert expected in message
    with pytest.raises(GraphLoadError):
        configured_graphs(tmp_path)


def test_a_missing_or_bad_env_file(tmp_path: Path) -> None:
    (tmp_path / "agent.py").write_text((PROJECT / "src" / "agentpkg" / "graphs.py").read_text())
    config = {"graphs": {"agent": "./agent.py:graph"}, "env": ".env"}
    (tmp_path / "langgraph.json").write_text(json.dumps(config))

    assert "its env file" in refused("agent", cwd=tmp_path)

    (tmp_path / ".env").write_text("GOOD=1\nthis line has no equals sign\n\nbad key=2\n")
    assert refused("agent", cwd=tmp_path) == f"{tmp_path / '.env'}: lines 2, 4 are not KEY=value"
    assert "GOOD" not in os.environ


def test_every_loading_error_is_a_hitl_error() -> None:
    assert issubclass(GraphLoadError, HitlError)
    assert issubclass(InvalidInput, HitlError)


# What the engine learns of the input


def test_a_message_graph_takes_messages_and_the_plain_graph_its_own_fields() -> None:
    chat = load_graph("per_call", cwd=EXAMPLES).graph
    plain = load_graph("plain", cwd=EXAMPLES).graph
    assert chat is not None and plain is not None

    assert takes_messages(chat)
    assert input_schema(chat)["properties"]["messages"]["type"] == "array"
    assert not takes_messages(plain)
    schema = input_schema(plain)
    assert set(schema["properties"]) == {"order_id", "amount"}
    assert schema["properties"]["amount"] == {"type": "number"}
    assert schema["required"] == ["amount", "order_id"]


def test_validate_input_accepts_a_fitting_value() -> None:
    chat = load_graph("per_call", cwd=EXAMPLES).graph
    plain = load_graph("plain", cwd=EXAMPLES).graph
    assert chat is not None and plain is not None

    message = {"messages": [{"role": "user", "content": "Email bob@example.com"}]}
    assert validate_input(chat, message) == message
    assert validate_input(plain, {"order_id": "A-1", "amount": 20}) == {
        "order_id": "A-1",
        "amount": 20,
    }


@pytest.mark.parametrize(
    ("graph", "value", "problems"),
    [
        (
            "plain",
            {"order_id": "A-1", "amount": "lots"},
            ["amount: 'lots' is not of type 'number'"],
        ),
        ("plain", {"amount": 5, "order_id": 7}, ["order_id: 7 is not of type 'string'"]),
        ("plain", {"amount": 5}, ["input: 'order_id' is a required property"]),
        ("plain", ["A-1", 5], ["the input is a list, not an object"]),
        ("per_call", {"messages": "hi"}, ["messages: 'hi' is not of type 'array'"]),
        (
            "per_call",
            {"messages": [{"role": "user"}]},
            ["messages[0]: 'content' is a required property"],
        ),
    ],
)
def test_validate_input_refuses_a_value_naming_the_field(
    graph: str, value: object, problems: list[str]
) -> None:
    loaded = load_graph(graph, cwd=EXAMPLES).graph
    assert loaded is not None
    with pytest.raises(InvalidInput) as caught:
        validate_input(loaded, value)
    assert caught.value.problems == problems
    assert "\n" not in str(caught.value) and problems[0] in str(caught.value)
