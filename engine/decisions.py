"""A person's decisions, as types; they speak LangChain's ``Decision`` wire format.

For an ``outcome_unknown`` approval, :class:`Approve` means "run it again" and
:class:`Respond` means "mark it done" (the message becomes the tool's result).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Approve:
    def wire(self) -> dict[str, Any]:
        return {"type": "approve"}


@dataclass(frozen=True, slots=True)
class Edit:
    """Run the call with these arguments instead; the tool name is pinned."""

    args: dict[str, Any] = field(default_factory=dict)

    def wire(self, name: str) -> dict[str, Any]:
        return {"type": "edit", "edited_action": {"name": name, "args": self.args}}


@dataclass(frozen=True, slots=True)
class Reject:
    """Do not run the call; the model is told, with the reason if given."""

    message: str | None = None

    def wire(self) -> dict[str, Any]:
        return {"type": "reject", **({"message": self.message} if self.message else {})}


@dataclass(frozen=True, slots=True)
class Respond:
    """Do not run the call; the message goes to the model as the tool's result."""

    message: str

    def wire(self) -> dict[str, Any]:
        return {"type": "respond", "message": self.message}


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to an interrupt the engine does not recognise: any JSON value, which
    the graph receives as is."""

    value: Any = None

    def wire(self) -> dict[str, Any]:
        return {"type": "answer", "value": self.value}


Decision = Approve | Edit | Reject | Respond | Answer
