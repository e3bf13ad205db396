"""The ``hitl`` command: parses, calls the engine, prints. No logic of its own.

Listings read the engine's plain rows without importing LangGraph, so they answer at
once. Every error the engine raises on purpose becomes one line on stderr and exit 1.
"""

from engine.cli.dispatch import ConsoleRunner, load_graphs, main, server_graphs
from engine.cli.freeze import freeze_import_garbage

__all__ = ["ConsoleRunner", "freeze_import_garbage", "load_graphs", "main", "server_graphs"]
