"""The interrupt formats people's own LangGraph agents raise, read as approval cards, and
a person's decisions written back in each format's own wire shape.

Pure: no database, no engine state. An interrupt becomes one card per action it asks
about; the engine stores neutral decisions (``{"type": "approve"}``, ``{"type": "edit",
"edited_action": {"name", "args"}}``, ``{"type": "reject", "message"?}``, ``{"type":
"respond", "message"}``, ``{"type": "answer", "value"}``) and, once every card of an
interrupt is decided, resumes it with ``Command(resume={interrupt.id: resume_value(...)})``.

Formats, in the order a value is tried:

- ``engine``: our own gate's requests (``engine/gate.py``), told apart by
  ``approvals_required``; resumed with the decision as is.
- ``hitl_per_call``: LangChain's ``HumanInTheLoopMiddleware(interrupt_mode="per_call")``,
  one ``ToolApprovalRequest`` per call; its ``response_schema`` says what is allowed.
- ``hitl_batched``: the same middleware's default mode, one ``HITLRequest`` per model
  turn, resumed with ``{"decisions": [...]}`` in action order.
- ``agent_inbox``: LangGraph's older ``HumanInterrupt`` list, resumed with the list of
  ``HumanResponse`` in order. A lone ``HumanInterrupt`` (not in a list) is read too,
  and answered with a one-item list, as the Agent Inbox itself does.
- ``unrecognised``: anything else, answered with a JSON value passed through as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from engine.errors import InvalidArguments, InvalidDecision
from engine.foreign.interrupt_shapes import READERS, Choice, Format
from engine.views import FORMAT_LABELS as LABELS

__all__ = [
    "FORMAT_LABELS",
    "Card",
    "Choice",
    "DecisionNotAllowed",
    "Format",
    "check_decision",
    "not_allowed",
    "read_interrupt",
    "resume_value",
]

FORMAT_LABELS: Mapping[str, str] = MappingProxyType(LABELS)


class DecisionNotAllowed(InvalidDecision):
    """The interrupt does not offer this decision for this action (say, an edit of a tool
    configured for approve and reject only); nothing was resumed."""

    def __init__(self, tool: str, choice: object, allowed: Sequence[str]) -> None:
        self.tool = tool
        self.choice = choice
        self.allowed = tuple(allowed)
        super().__init__(_refusal(tool, choice, self.allowed))


@dataclass(frozen=True, slots=True)
class Card:
    """One action of an interrupt, as a person is asked to decide it."""

    format: Format
    index: int
    """Position of this action in its interrupt (0 when it has one action)."""
    count: int
    """Actions in the interrupt: all must be decided before it is resumed."""
    tool: str
    """The tool or action name; "" for an unrecognised interrupt."""
    args: dict[str, Any]
    """The call's arguments; {} for an unrecognised interrupt."""
    tool_call_id: str
    """The model's tool call id where the value carries it (engine, per-call); else ""."""
    description: str
    allowed: tuple[Choice, ...]
    """The decisions the interrupt offers, in the order approve, edit, reject, respond,
    answer."""
    args_schema: dict[str, Any] | None
    """The JSON schema an edit's args must satisfy, self-contained, if known. For an
    unrecognised card: the interrupt's ``response_schema`` (what the answer must be)."""
    value: Any
    """The interrupt value as raised (the whole of it, for every card of the interrupt)."""


def read_interrupt(value: Any, response_schema: dict[str, Any] | None = None) -> list[Card]:
    """The cards of one interrupt, in action order.

    Never raises: a value that does not fully match a known format (wrong types, missing
    keys, no actions, review configs that do not pair with the actions) is one
    ``unrecognised`` card that only takes an answer."""
    try:
        for kind, reader in READERS:
            actions = reader(value, response_schema)
            # An action the interrupt offers no decision for makes the whole value
            # unrecognised: it could not be resumed from its cards.
            if actions and all(action.allowed for action in actions):
                count = len(actions)
                return [Card(kind, i, count, *a, value) for i, a in enumerate(actions)]
    except Exception:  # a value of any type, from any graph: never the caller's crash
        pass
    schema = response_schema if isinstance(response_schema, dict) else None
    return [Card("unrecognised", 0, 1, "", {}, "", "", ("answer",), schema, value)]


def not_allowed(card: Card, choice: str) -> str | None:
    """None when the card offers ``choice``, else the one-line reason it does not."""
    if choice in card.allowed:
        return None
    return _refusal(card.tool, choice, card.allowed)


def check_decision(card: Card, decision: Mapping[str, Any]) -> None:
    """Raises what ``resume_value`` would raise for this card's decision; so a decision
    can be refused when a person makes it, not when the last card of its interrupt is
    decided."""
    _wire(card, decision)


def resume_value(cards: Sequence[Card], decisions: Sequence[Mapping[str, Any]]) -> Any:
    """The value to resume one interrupt with: its cards (all, in index order) and one
    neutral decision per card, in the same order.

    Raises DecisionNotAllowed for a decision a card does not offer, InvalidDecision for
    one that is malformed (an edit that switches the tool, a respond without a message),
    InvalidArguments for edited arguments the card's ``args_schema`` refuses, and
    ValueError when the cards are not one whole interrupt or the decisions do not
    pair with them."""
    _check_whole(cards, decisions)
    wire = [_wire(card, decision) for card, decision in zip(cards, decisions, strict=True)]
    kind = cards[0].format
    if kind == "hitl_batched":
        return {"decisions": wire}
    if kind == "agent_inbox":
        return wire
    return wire[0]


def _check_whole(cards: Sequence[Card], decisions: Sequence[Mapping[str, Any]]) -> None:
    if not cards:
        raise ValueError("no cards: an interrupt has at least one")
    count = len(cards)
    if [c.index for c in cards] != list(range(count)) or any(
        c.count != count or c.format != cards[0].format for c in cards
    ):
        raise ValueError(
            f"the cards are not one whole interrupt in index order: indices "
            f"{[c.index for c in cards]}, counts {sorted({c.count for c in cards})}"
        )
    if len(decisions) != count:
        raise ValueError(f"{len(decisions)} decisions for an interrupt of {count} actions")


def _wire(card: Card, decision: Mapping[str, Any]) -> Any:
    if not isinstance(decision, Mapping):
        raise InvalidDecision(f"a decision is a mapping with a type, not {decision!r:.80}")
    choice = decision.get("type")
    if not isinstance(choice, str) or choice not in card.allowed:
        raise DecisionNotAllowed(card.tool, choice, card.allowed)
    if choice == "answer":
        if "value" not in decision:
            raise InvalidDecision("an answer needs a value (any JSON, null included)")
        return decision["value"]
    if card.format == "engine":
        if choice == "edit":
            _edited_args(card, decision)
        return dict(decision)
    langchain = _langchain(card, choice, decision)
    if card.format == "agent_inbox":
        return _inbox_response(langchain)
    return langchain


def _langchain(card: Card, choice: str, decision: Mapping[str, Any]) -> dict[str, Any]:
    """The decision in LangChain's ``Decision`` shapes, with only the fields they have."""
    if choice == "approve":
        return {"type": "approve"}
    if choice == "edit":
        edited = {"name": card.tool, "args": _edited_args(card, decision)}
        return {"type": "edit", "edited_action": edited}
    message = decision.get("message")
    if choice == "respond":
        if not isinstance(message, str):
            raise InvalidDecision(f"a response to {card.tool} needs a message")
        return {"type": "respond", "message": message}
    if message is not None and not isinstance(message, str):
        raise InvalidDecision(f"a rejection's message is text, not {type(message).__name__}")
    return {"type": "reject", **({"message": message} if message else {})}


def _edited_args(card: Card, decision: Mapping[str, Any]) -> dict[str, Any]:
    """The edit's arguments. The tool is pinned: an edit never switches it (the batched
    middleware would run another tool otherwise)."""
    action = decision.get("edited_action")
    if not isinstance(action, Mapping):
        raise InvalidDecision(f"an edit of {card.tool} needs an edited_action")
    if action.get("name", card.tool) != card.tool:
        raise InvalidDecision(
            f"an edit may not switch the tool: {card.tool} cannot become {action.get('name')!r}"
        )
    args = action.get("args")
    if not (isinstance(args, dict) and all(isinstance(k, str) for k in args)):
        raise InvalidDecision(f"the edited arguments of {card.tool} must be a JSON object")
    if card.args_schema:
        _check_args(card.tool, args, card.args_schema)
    return args


def _check_args(tool: str, args: dict[str, Any], schema: dict[str, Any]) -> None:
    """Edited arguments the tool's schema refuses are refused here, before any interrupt
    is resumed: resumed with several answers at once, a graph may run some calls before
    it finds one answer bad (LangChain's per-call warning)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError
    from referencing.exceptions import Unresolvable

    try:
        Draft202012Validator.check_schema(schema)
        problems = [
            f"{'.'.join(map(str, e.absolute_path)) or '(arguments)'}: {e.message:.120}"
            for e in Draft202012Validator(schema).iter_errors(args)
        ]
    except (SchemaError, Unresolvable):  # a broken schema judges nothing; the graph will
        return
    if problems:
        shown = "; ".join(sorted(problems)[:3]) + ("; …" if len(problems) > 3 else "")
        raise InvalidArguments(f"the edited arguments of {tool} are invalid: {shown}")


def _inbox_response(decision: dict[str, Any]) -> dict[str, Any]:
    """LangChain's decision as the Agent Inbox's ``HumanResponse``. A rejection becomes
    ``ignore``, which has no room for a reason: the reason is not passed on."""
    kind = decision["type"]
    if kind == "approve":
        return {"type": "accept", "args": None}
    if kind == "edit":
        action = decision["edited_action"]
        return {"type": "edit", "args": {"action": action["name"], "args": action["args"]}}
    if kind == "respond":
        return {"type": "response", "args": decision["message"]}
    return {"type": "ignore", "args": None}


def _refusal(tool: str, choice: object, allowed: Sequence[str]) -> str:
    subject = tool or "this interrupt"
    offered = ", ".join(allowed) or "nothing"
    return f"{subject} does not allow {choice!r} (allowed: {offered})"
