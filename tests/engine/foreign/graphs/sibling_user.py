"""Imports a module beside it, as a script would."""

from sibling_helper import make_graph

graph = make_graph()
