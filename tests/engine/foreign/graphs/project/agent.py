"""Named from the environment, as graphs that read their settings at import are."""

import os

from agentpkg.graphs import make_graph

graph = make_graph(os.environ["HITL_TEST_GRAPH_TITLE"])
