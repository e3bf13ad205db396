"""The demo model reads plain requests as a person means them (issue 9).

Each task goes through the model's public LangChain surface, bound to the real tool
catalogue as the engine binds it: ``invoke`` with the task, then the tool results fed
back, turn by turn, until the model stops asking. Every planned call must also be valid
for its tool, exactly as the tool will receive it.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolCall, ToolMessage

from engine.graph import tool_schemas
from engine.models.scripted import ScriptedChatModel
from engine.tools import CATALOGUE, validate_args

MODEL = ScriptedChatModel().bind_tools(tool_schemas(CATALOGUE))
Call = tuple[str, dict[str, Any]]


def email(to: str, subject: str, *cc: str, body: str | None = None) -> Call:
    args: dict[str, Any] = {"to": to, "subject": subject, "cc": list(cc)}
    return ("send_email", args if body is None else args | {"body": body})


def transfer(amount: float, to: str, currency: str = "USD", memo: str = "") -> Call:
    return (
        "transfer_money",
        {"amount": amount, "currency": currency, "to_account": to, "memo": memo},
    )


def order(quantity: int, item: str, unit_price: float) -> Call:
    return ("create_order", {"quantity": quantity, "item": item, "unit_price": unit_price})


def delete_file(path: str) -> Call:
    return ("delete_file", {"path": path})


def delete_data(dataset: str, where: str) -> Call:
    return ("delete_data", {"dataset": dataset, "where": where})


def search(query: str) -> Call:
    return ("search", {"query": query})


def read(path: str) -> Call:
    return ("read_file", {"path": path})


TABLE: list[tuple[str, list[list[Call]]]] = [
    # Emails: a quoted subject is the subject; a number in an email is never money.
    (
        "Send an email to team1@company.com with the subject 'Note 1'",
        [[email("team1@company.com", "Note 1")]],
    ),
    (
        "send an email to ops@company.com about the 3 failed backups",
        [[email("ops@company.com", "3 failed backups")]],
    ),
    (
        'Send an email to team1@company.com with the subject "Q3 and Q4, then more"',
        [[email("team1@company.com", "Q3 and Q4, then more")]],
    ),
    ("email the Q3 report to boss@company.com", [[email("boss@company.com", "Q3 report")]]),
    (
        "email boss@company.com with subject: Budget review for 2025",
        [[email("boss@company.com", "Budget review for 2025")]],
    ),
    ("email boss@company.com the Q3 report", [[email("boss@company.com", "Q3 report")]]),
    ("write to hr@company.com about my vacation", [[email("hr@company.com", "My vacation")]]),
    ("mail the invoice to billing@company.com", [[email("billing@company.com", "Invoice")]]),
    (
        "message alice@company.com about the 2 open tickets",
        [[email("alice@company.com", "2 open tickets")]],
    ),
    ("send the 2 reports to ops@company.com", [[email("ops@company.com", "2 reports")]]),
    (
        "send an email to ap@company.com about the $300 refund",
        [[email("ap@company.com", "$300 refund")]],
    ),
    ("send a note about the outage to ops@company.com", [[email("ops@company.com", "Outage")]]),
    (
        "Email team1@company.com with the subject 'Note 1' and the body 'See you at 3'",
        [[email("team1@company.com", "Note 1", body="See you at 3")]],
    ),
    ("send 'Weekly status' to team@company.com", [[email("team@company.com", "Weekly status")]]),
    (
        "email the Q3 report to boss@company.com and cc cfo@company.com",
        [[email("boss@company.com", "Q3 report", "cfo@company.com")]],
    ),
    (
        "email alice@company.com and bob@company.com about the launch",
        [[email("alice@company.com", "Launch", "bob@company.com")]],
    ),
    (
        "email the deck to ann@company.com, cc: bob@company.com, carl@company.com",
        [[email("ann@company.com", "Deck", "bob@company.com", "carl@company.com")]],
    ),
    # Money: a currency sign or word, or an amount right after transfer/pay/wire.
    ("transfer $5000 to acct-991", [[transfer(5000.0, "acct-991")]]),
    (
        "transfer $5000 to acct-991 for the March invoice",
        [[transfer(5000.0, "acct-991", memo="the March invoice")]],
    ),
    (
        "pay $250 to acct-12 for the team lunch",
        [[transfer(250.0, "acct-12", memo="the team lunch")]],
    ),
    ("wire 1,500 EUR to acct-77", [[transfer(1500.0, "acct-77", "EUR")]]),
    ("send €200 to acct-5", [[transfer(200.0, "acct-5", "EUR")]]),
    ("send 300 dollars to acct-9", [[transfer(300.0, "acct-9")]]),
    ("transfer 2k to acct-3", [[transfer(2000.0, "acct-3")]]),
    ("pay acct-44 £75", [[transfer(75.0, "acct-44", "GBP")]]),
    ("transfer USD 1,250.50 to acct-8.", [[transfer(1250.5, "acct-8")]]),
    (
        "wire €200 to acct-5 with the memo 'rent May'",
        [[transfer(200.0, "acct-5", "EUR", memo="rent May")]],
    ),
    # Orders.
    ("order 5 laptops at $900", [[order(5, "laptops", 900.0)]]),
    ("buy 10 monitors at $150 each", [[order(10, "monitors", 150.0)]]),
    ("order a laptop at $1,200", [[order(1, "laptop", 1200.0)]]),
    ("purchase 1,200 pens at $0.50", [[order(1200, "pens", 0.5)]]),
    ("order 2 desks for $600", [[order(2, "desks", 300.0)]]),
    # Deletions.
    ("delete file notes.txt", [[delete_file("notes.txt")]]),
    ("delete the file notes.txt", [[delete_file("notes.txt")]]),
    ("delete notes.txt", [[delete_file("notes.txt")]]),
    ("remove the file drafts/old.txt", [[delete_file("drafts/old.txt")]]),
    ("delete file ../precious.txt", [[delete_file("../precious.txt")]]),
    ("delete customer 42", [[delete_data("customers", "customer_id = 42")]]),
    ("delete customer 42 records", [[delete_data("customers", "customer_id = 42")]]),
    ("delete all records of user 7", [[delete_data("users", "user_id = 7")]]),
    ("purge the logs data older than 30 days", [[delete_data("logs", "older than 30 days")]]),
    (
        "delete records from orders where status = 'cancelled'",
        [[delete_data("orders", "status = 'cancelled'")]],
    ),
    # Look-ups.
    ("search for overdue invoices", [[search("overdue invoices")]]),
    ("find the Q3 revenue", [[search("the Q3 revenue")]]),
    ("look up the vendor contract", [[search("the vendor contract")]]),
    ("search the sandbox for invoices", [[search("invoices")]]),
    ("search for 'Q3 and Q4 revenue'", [[search("Q3 and Q4 revenue")]]),
    ("check the 3 failed backups", [[search("the 3 failed backups")]]),
    ("read notes.txt", [[read("notes.txt")]]),
    ("open reports/q3.md", [[read("reports/q3.md")]]),
    # Combinations: "and" asks in parallel (look-ups first); "then" waits for results.
    (
        "email the Q3 report to boss@company.com and transfer $5000 to acct-991",
        [[email("boss@company.com", "Q3 report"), transfer(5000.0, "acct-991")]],
    ),
    (
        "email the board minutes to ceo@company.com and transfer $12,000 to acct-204",
        [[email("ceo@company.com", "Board minutes"), transfer(12000.0, "acct-204")]],
    ),
    (
        "email the deck to cto@company.com and transfer $300 to acct-2 and order 3 chairs at $80",
        [
            [
                email("cto@company.com", "Deck"),
                transfer(300.0, "acct-2"),
                order(3, "chairs", 80.0),
            ]
        ],
    ),
    (
        "order 5 laptops at $900 and pay $4500 to acct-1",
        [[order(5, "laptops", 900.0), transfer(4500.0, "acct-1")]],
    ),
    (
        "read notes.txt and delete file old-draft.txt",
        [[read("notes.txt")], [delete_file("old-draft.txt")]],
    ),
    (
        "search for quarterly revenue and read notes.txt",
        [[search("quarterly revenue"), read("notes.txt")]],
    ),
    (
        "search for the vendor contract and email it to legal@company.com",
        [[search("the vendor contract")], [email("legal@company.com", "Vendor contract")]],
    ),
    (
        "search for revenue and then email cfo@company.com",
        [[search("revenue")], [email("cfo@company.com", "Revenue")]],
    ),
    (
        "email the plan to ann@company.com and then transfer $5 to acct-1",
        [[email("ann@company.com", "Plan")], [transfer(5.0, "acct-1")]],
    ),
    (
        "send an email to ops@company.com about the 3 failed backups and delete file b3.log",
        [[email("ops@company.com", "3 failed backups"), delete_file("b3.log")]],
    ),
]


def conversation(task: str) -> list[list[ToolCall]]:
    """The calls of each turn, with every call's result fed back before the next turn."""
    messages: list[BaseMessage] = [HumanMessage(task)]
    turns: list[list[ToolCall]] = []
    while (reply := MODEL.invoke(messages)).tool_calls:
        assert isinstance(reply, AIMessage) and "[demo model]" in str(reply.content)
        turns.append(reply.tool_calls)
        results = [ToolMessage("done", tool_call_id=c["id"], name=c["name"]) for c in turns[-1]]
        messages += [reply, *results]
        assert len(turns) <= 5, f"the model keeps asking: {turns}"
    return turns


@pytest.mark.parametrize(("task", "expected"), TABLE, ids=[task for task, _ in TABLE])
def test_a_plain_request_gets_the_calls_a_person_means(
    task: str, expected: list[list[Call]]
) -> None:
    turns = conversation(task)
    assert [[c["name"] for c in t] for t in turns] == [[n for n, _ in e] for e in expected]
    planned = [
        [(c["name"], {key: c["args"].get(key) for key in want}) for c, (_, want) in pairs]
        for pairs in (zip(t, e, strict=True) for t, e in zip(turns, expected, strict=True))
    ]
    assert planned == expected
    for call in (c for turn in turns for c in turn):
        assert validate_args(CATALOGUE[call["name"]], call["args"]) == call["args"]


def test_the_table_covers_every_tool_and_enough_phrasings() -> None:
    asked = {name for _, steps in TABLE for step in steps for name, _ in step}
    assert asked == set(CATALOGUE)
    assert len(TABLE) >= 30


async def test_ainvoke_plans_what_invoke_plans_and_the_same_every_time() -> None:
    for task, _ in TABLE:
        first = await MODEL.ainvoke([HumanMessage(task)])
        again = MODEL.invoke([HumanMessage(task)])
        assert first.tool_calls == again.tool_calls, task
        assert len({c["id"] for c in first.tool_calls}) == len(first.tool_calls), task


def test_a_task_naming_no_action_becomes_a_search_of_its_words() -> None:
    [[call]] = conversation("what did the board decide?")
    assert (call["name"], call["args"]) == search("what did the board decide?")
