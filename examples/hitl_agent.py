"""An agent as LangChain's docs build one: ``create_agent`` with
``HumanInTheLoopMiddleware`` gating the tools that have effects.

Two module attributes, both compiled WITHOUT a checkpointer so hitl attaches its own:

- ``per_call_agent``: one interrupt per gated call (``interrupt_mode="per_call"``),
  each answered with one decision keyed by the interrupt's id;
- ``batched_agent``: one interrupt per model turn listing every gated call, answered
  with ``{"decisions": [...]}`` in the calls' order.

The tools act on a real directory, ``$EXAMPLE_OUTBOX`` (default ``./outbox``):
``send_email`` writes an ``.eml`` file there, ``delete_file`` deletes a file inside it
(and nothing outside it), ``lookup`` only reads and is not gated. ``send_email`` takes
all four decisions; ``delete_file`` only approve or reject.

The scripted model's first turn asks for both gated calls at once, taking the address
and the file name from the task when it names them; its second turn says what happened.

Run it on its own: ``python examples/hitl_agent.py [--batched] "Email bob@example.com
the notes and delete draft.txt"`` (each pause's decision is read as JSON from stdin).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware, InterruptOnConfig
from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from scripted_chat import Reply, ScriptedChat, call, text_of

DEFAULT_ADDRESS = "alice@example.com"
DEFAULT_FILE = "old-report.txt"
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
FILE_NAME = re.compile(r"\b[\w-]+(?:\.[\w-]+)*\.(?:txt|md|csv|pdf|docx|xlsx|json|log)\b")


def outbox() -> Path:
    """Where the tools act, read at each call so a test (or a second run) can move it."""
    return Path(os.environ.get("EXAMPLE_OUTBOX", "outbox")).resolve()


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email (written to the outbox as an .eml file)."""
    message = EmailMessage()
    message["To"], message["From"], message["Subject"] = to, "agent@example.com", subject
    message.set_content(body)
    digest = hashlib.sha256(f"{to}\n{subject}\n{body}".encode()).hexdigest()[:8]
    safe = re.sub(r"[^\w.@-]", "_", to)
    target = outbox() / f"{safe}-{digest}.eml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(message.as_bytes())
    return f"sent to {to}: {target.name}"


@tool
def delete_file(path: str) -> str:
    """Delete a file in the outbox."""
    base = outbox()
    target = (base / path).resolve()
    if not target.is_relative_to(base) or target == base:
        return f"refused: {path} is outside the outbox"
    if not target.is_file():
        return f"no such file in the outbox: {path}"
    target.unlink()
    return f"deleted {path}"


@tool
def lookup(query: str) -> str:
    """Look something up (read-only, so never gated)."""
    return f"Nothing on file about {query!r}."


def _task(messages: list[BaseMessage]) -> str:
    return next((text_of(m) for m in messages if isinstance(m, HumanMessage)), "")


def first_turn(messages: list[BaseMessage]) -> Reply:
    """Both gated calls in one turn, aimed where the task says."""
    task = _task(messages)
    address = ADDRESS.search(task)
    name = FILE_NAME.search(ADDRESS.sub("", task))
    return [
        call(
            "send_email",
            to=address.group() if address else DEFAULT_ADDRESS,
            subject="Quarterly report",
            body=task or "Please find the quarterly report attached.",
        ),
        call("delete_file", path=name.group() if name else DEFAULT_FILE),
    ]


def second_turn(messages: list[BaseMessage]) -> Reply:
    """Says what each call came to, in the tools' (or the reviewer's) own words."""
    results = [f"{m.name}: {text_of(m)}" for m in messages if isinstance(m, ToolMessage)]
    return "Done. " + "; ".join(results)


GATES: dict[str, bool | InterruptOnConfig] = {
    "send_email": {"allowed_decisions": ["approve", "edit", "reject", "respond"]},
    "delete_file": {"allowed_decisions": ["approve", "reject"]},
}


def build_agent(
    mode: Literal["per_call", "batched"],
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> Any:
    """The agent; an app passes its own checkpointer, hitl attaches one itself."""
    return create_agent(
        ScriptedChat(script=[first_turn, second_turn]),
        tools=[send_email, delete_file, lookup],
        middleware=[HumanInTheLoopMiddleware(interrupt_on=GATES, interrupt_mode=mode)],
        checkpointer=checkpointer,
        name=f"hitl_agent_{mode}",
    )


per_call_agent = build_agent("per_call")
batched_agent = build_agent("batched")


if __name__ == "__main__":
    from standalone import run_standalone

    batched = "--batched" in sys.argv[1:]
    words = [a for a in sys.argv[1:] if a != "--batched"]
    task = " ".join(words) or f"Email {DEFAULT_ADDRESS} the report and delete {DEFAULT_FILE}"
    agent = batched_agent if batched else per_call_agent
    run_standalone(agent, {"messages": [{"role": "user", "content": task}]})
