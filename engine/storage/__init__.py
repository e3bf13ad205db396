"""Everything the engine keeps in a home's database, beside LangGraph's checkpoints.

``database`` is the connection (SQLite on its own thread, or PostgreSQL), ``schema``
every table and how older homes are migrated, ``store`` the tables bundled for an
engine and opened beside the checkpointer; then one module per table: ``threads``,
``approvals``, ``executions``, ``leases``, ``journal``, ``verdicts``, ``policies``,
``audit``.

One convention, in every table module: a class over the table whose **async methods
hit the database** (``await store.approvals.find(ref)``), and **statement builders**,
whose names end in ``_statement``: plain functions that touch no database and return
a ``Statement`` or ``Write`` for the caller to commit in one transaction with others
(``Approvals.decision_statement(before, after, at)``, committed with the events and the
audit entries it goes with).
"""
