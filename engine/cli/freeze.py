"""A process-wide setting the ``hitl`` process makes for itself, never the engine."""

from __future__ import annotations

import gc


def freeze_import_garbage() -> None:
    """Moves everything alive now (mostly LangGraph, LangChain and pydantic, imported
    for good) out of the cyclic collector's sight. Done by the ``hitl`` process (its
    commands, and the console it opens), never by ``Engine.open``: in a program that
    embeds the engine, the process-wide collector is that program's to tune.

    With hundreds of threads the collector's full passes otherwise walk those objects
    too: measured pauses of ~95 ms, the whole tail of approve-to-executed under load;
    after freezing, ~20-35 ms. Objects made later are collected as usual.
    """
    gc.freeze()
