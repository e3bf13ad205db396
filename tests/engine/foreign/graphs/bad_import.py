"""A module whose own import fails: a dependency that is not installed."""

import hitl_tests_dependency_that_is_not_installed  # noqa: F401
from langgraph.graph import StateGraph

graph = StateGraph(dict)
