"""Benchmarks: scripts that print tables (``python bench/engine.py``, ``bench/console.py``).

Never run by the tests; ``.ci/run`` runs each in its ``--quick`` mode so that a change in
the engine or the console that breaks them fails CI.
"""
