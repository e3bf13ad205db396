"""A hand-written graph with no messages and no tools: a refund that waits for a person.

State: ``{"order_id": str, "amount": float, "status": str, "note": str}``; a thread
starts from ``{"order_id": ..., "amount": ...}`` (the graph's input schema). The
``review`` node calls ``interrupt({...})`` with a question of its own shape and takes
any JSON value back:

- ``true``: refund the whole amount; a number: refund that much;
- ``false`` or ``null``: decline; a string: decline, with that string as the note;
- an object ``{"refund": <any of the above>, "note": "..."}``: both at once.

Orders under 20 are refunded without asking. The effect is real: a refund writes
``refund-<order_id>.json`` into ``$EXAMPLE_OUTBOX`` (default ``./outbox``). Four nodes
(receive, review, settle, notify), so the "updates" stream shows each step.

Run it on its own: ``python examples/plain_interrupt.py A-1001 250``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

ASK_ABOVE = 20.0


class Order(TypedDict):
    order_id: str
    amount: float
    status: str
    note: str


class OrderInput(TypedDict):
    order_id: str
    amount: float


def outbox() -> Path:
    return Path(os.environ.get("EXAMPLE_OUTBOX", "outbox")).resolve()


def receive(state: Order) -> dict[str, Any]:
    return {"status": "received", "note": ""}


def review(state: Order) -> dict[str, Any]:
    """Asks a person when the amount is worth asking about; reads whatever comes back."""
    if state["amount"] < ASK_ABOVE:
        return {"status": "approved", "note": f"refunded {state['amount']:.2f} automatically"}
    answer = interrupt(
        {
            "question": f"Refund order {state['order_id']}?",
            "order_id": state["order_id"],
            "amount": state["amount"],
            "answers": "true | false | an amount | a note | {refund, note}",
        }
    )
    note = ""
    if isinstance(answer, dict):
        note = str(answer.get("note", ""))
        answer = answer.get("refund")
    if isinstance(answer, str):
        note, answer = answer, False
    if answer is True:
        refund = state["amount"]
    elif isinstance(answer, int | float) and not isinstance(answer, bool) and answer > 0:
        refund = min(float(answer), state["amount"])
    else:
        return {"status": "declined", "note": note or "declined by reviewer"}
    return {"status": "approved", "note": note or f"refunded {refund:.2f}", "amount": refund}


def settle(state: Order) -> dict[str, Any]:
    """The effect: a refund record in the outbox, only for an approved refund."""
    if state["status"] != "approved":
        return {}
    target = outbox() / f"refund-{state['order_id']}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    record = {"order_id": state["order_id"], "amount": state["amount"], "note": state["note"]}
    target.write_text(json.dumps(record))
    return {"status": "refunded"}


def notify(state: Order) -> dict[str, Any]:
    return {"note": f"{state['note']} (customer notified)".strip()}


def build_graph(checkpointer: BaseCheckpointSaver[Any] | None = None) -> Any:
    """The graph; an app passes its own checkpointer, hitl attaches one itself."""
    builder = StateGraph(Order, input_schema=OrderInput)
    builder.add_node("receive", receive)
    builder.add_node("review", review)
    builder.add_node("settle", settle)
    builder.add_node("notify", notify)
    builder.add_edge(START, "receive")
    builder.add_edge("receive", "review")
    builder.add_edge("review", "settle")
    builder.add_edge("settle", "notify")
    builder.add_edge("notify", END)
    return builder.compile(checkpointer=checkpointer, name="plain_interrupt")


graph = build_graph()


if __name__ == "__main__":
    import sys

    from standalone import run_standalone

    order_id = sys.argv[1] if len(sys.argv) > 1 else "A-1001"
    amount = float(sys.argv[2]) if len(sys.argv) > 2 else 250.0
    run_standalone(graph, {"order_id": order_id, "amount": amount})
