"""Real graphs that raise each interrupt format, with tools whose effects a test can see:
an outbox list for emails, real files under the test's tmp_path for deletions."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))

from scripted_chat import ScriptedChat, call  # examples/ is not a package

__all__ = ["Effects", "call", "engine_request", "hitl_agent", "inbox_graph", "question_graph"]


class Recipient(BaseModel):
    address: str
    name: str


class SendEmailArgs(BaseModel):
    """A nested model, so the tool's schema reaches its parts through $refs."""

    to: Recipient
    subject: str = Field(description="One line.")
    cc: list[Recipient] = Field(default_factory=list)


@dataclass
class Effects:
    """What the tools did: emails sent, and the directory they may delete files in."""

    root: Path
    sent: list[dict[str, Any]] = field(default_factory=list)
    scheduled: list[str] = field(default_factory=list)

    def tools(self) -> list[BaseTool]:
        @tool(args_schema=SendEmailArgs)
        def send_email(to: Recipient, subject: str, cc: list[Recipient] | None = None) -> str:
            """Send an email."""
            address = to["address"] if isinstance(to, dict) else to.address
            self.sent.append({"to": address, "subject": subject})
            return f"sent to {address}"

        @tool
        def delete_file(path: str) -> str:
            """Delete a file."""
            (self.root / path).unlink()
            return f"deleted {path}"

        @tool
        def schedule(when: str) -> str:
            """Put a meeting in the calendar."""
            self.scheduled.append(when)
            return f"scheduled {when}"

        return [send_email, delete_file, schedule]


INTERRUPT_ON: dict[str, Any] = {
    "send_email": True,
    "delete_file": {"allowed_decisions": ["approve", "reject"]},
    "schedule": {"allowed_decisions": ["respond"]},  # an ask-the-person tool
}


def hitl_agent(
    effects: Effects, mode: Literal["per_call", "batched"], calls: list[dict[str, Any]]
) -> Any:
    """A create_agent graph whose model asks for ``calls`` in its first turn, every tool
    gated by LangChain's HITL middleware in ``mode``."""
    return create_agent(
        ScriptedChat(script=[calls, "done"]),
        tools=effects.tools(),
        middleware=[HumanInTheLoopMiddleware(interrupt_on=INTERRUPT_ON, interrupt_mode=mode)],
        checkpointer=InMemorySaver(),
    )


def tool_messages(state_values: dict[str, Any]) -> dict[str, ToolMessage]:
    """The tool results of a finished run, by tool name (the last one of each name)."""
    return {str(m.name): m for m in state_values["messages"] if isinstance(m, ToolMessage)}


class InboxState(TypedDict, total=False):
    actions: list[dict[str, Any]]
    replies: list[str]


def inbox_graph(effects: Effects, *, as_list: bool = True) -> Any:
    """An agent written for the Agent Inbox, as LangGraph's pre-1.0 docs showed it: it
    raises ``HumanInterrupt``s and reads ``HumanResponse``s back (the inbox always
    answers with a list, also for a lone ``HumanInterrupt``)."""
    run = {t.name: t for t in effects.tools()}

    def review(state: InboxState) -> InboxState:
        requests = [
            {
                "action_request": {"action": a["name"], "args": a["args"]},
                "config": {
                    "allow_accept": True,
                    "allow_edit": a["name"] == "send_email",
                    "allow_respond": a["name"] == "send_email",
                    "allow_ignore": True,
                },
                "description": f"The agent wants to {a['name']}.",
            }
            for a in state["actions"]
        ]
        responses = interrupt(requests if as_list else requests[0])
        replies = []
        for action, response in zip(state["actions"], responses, strict=True):
            if response["type"] == "accept":
                run[action["name"]].invoke(action["args"])
            elif response["type"] == "edit":
                run[response["args"]["action"]].invoke(response["args"]["args"])
            elif response["type"] == "response":
                replies.append(response["args"])
        return {"replies": replies}

    builder = StateGraph(InboxState)
    builder.add_node("review", review)
    builder.add_edge(START, "review")
    builder.add_edge("review", END)
    return builder.compile(checkpointer=InMemorySaver())


class QuestionState(TypedDict, total=False):
    answer: Any


def question_graph(value: Any) -> Any:
    """A graph that asks an interrupt of its own making and keeps the answer."""

    def ask(state: QuestionState) -> QuestionState:
        return {"answer": interrupt(value)}

    builder = StateGraph(QuestionState)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder.compile(checkpointer=InMemorySaver())


def engine_request(kind: str = "tool_approval") -> dict[str, Any]:
    """An interrupt value as engine/gate.py's ``Gate._request`` builds it."""
    return {
        "type": kind,
        "tool_call_id": "call-1",
        "name": "send_email",
        "args": {"to": "alice@example.com", "subject": "Q3", "body": "Numbers attached."},
        "description": "Send an email. Risk high: leaves the building.",
        "tier": "high",
        "reason": "leaves the building",
        "approvals_required": 1,
        "approvals_received": 0,
        "args_schema": {
            "type": "object",
            "properties": {"to": {"type": "string"}, "subject": {"type": "string"}},
            "required": ["to", "subject"],
        },
        "rules": ["email-leaves"],
        "distinct_operators": False,
        "expires_after": None,
        "requested_at": 1_700_000_000.0,
        "policy_digest": "abc",
    }
