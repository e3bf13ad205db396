"""Demo tasks the scripted model understands, covering low, medium and high tools."""

from __future__ import annotations

DEMO_TASKS: tuple[str, ...] = (
    "email the Q3 report to boss@company.com",
    "transfer $5000 to acct-991 for the March invoice",
    "search for the vendor contract and email it to legal@company.com",
    "order 5 laptops at $900",
    "delete customer 42 records",
    "search for overdue invoices",
    "email the board minutes to ceo@company.com and transfer $12,000 to acct-204",
    "read notes.txt and delete file old-draft.txt",
)


def demo_tasks(count: int, tasks: tuple[str, ...] = ()) -> list[str]:
    """``count`` tasks, cycling through the list when more are asked for than it has."""
    source = tasks or DEMO_TASKS
    return [source[i % len(source)] for i in range(max(0, count))]
