"""The interrupt values each known format raises, as strict pydantic models, and the
actions read from them: a value matches a format wholly or not at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.foreign.decision_schema import per_call_terms

Format = Literal["engine", "hitl_per_call", "hitl_batched", "agent_inbox", "unrecognised"]
Choice = Literal["approve", "edit", "reject", "respond", "answer"]

TOOL_CHOICES: tuple[Choice, ...] = ("approve", "edit", "reject", "respond")

_STRICT = ConfigDict(strict=True)
_Model = TypeVar("_Model", bound=BaseModel)


class _EngineRequest(BaseModel):
    model_config = _STRICT
    type: Literal["tool_approval", "outcome_unknown"]
    tool_call_id: str
    name: str
    args: dict[str, Any]
    description: str
    approvals_required: int
    args_schema: dict[str, Any] | None = None


class _ToolApprovalRequest(BaseModel):
    model_config = _STRICT
    type: Literal["tool_approval"]
    tool_call_id: str
    name: str
    args: dict[str, Any]
    description: str


class ActionRequest(BaseModel):
    model_config = _STRICT
    name: str
    args: dict[str, Any]
    description: str = ""


class _ReviewConfig(BaseModel):
    model_config = _STRICT
    action_name: str
    allowed_decisions: list[str] = Field(min_length=1)
    args_schema: dict[str, Any] | None = None


class _HitlRequest(BaseModel):
    model_config = _STRICT
    action_requests: list[ActionRequest] = Field(min_length=1)
    review_configs: list[_ReviewConfig]


class _InboxAction(BaseModel):
    model_config = _STRICT
    action: str
    args: dict[str, Any]


class _InboxConfig(BaseModel):
    """Flags left out count as not allowed, as in the Agent Inbox."""

    model_config = _STRICT
    allow_accept: bool = False
    allow_edit: bool = False
    allow_respond: bool = False
    allow_ignore: bool = False


class _HumanInterrupt(BaseModel):
    model_config = _STRICT
    action_request: _InboxAction
    config: _InboxConfig
    description: str | None = None


class Action(NamedTuple):
    """One action of an interrupt: a card's fields, in a card's order."""

    tool: str
    args: dict[str, Any]
    tool_call_id: str
    description: str
    allowed: tuple[Choice, ...]
    args_schema: dict[str, Any] | None


def _engine(value: Any, _schema: object) -> list[Action] | None:
    if not (isinstance(value, dict) and "approvals_required" in value):
        return None
    r = _parse(_EngineRequest, value)
    if r is None:
        return None
    allowed = ordered(
        ("approve", "reject", "respond") if r.type == "outcome_unknown" else TOOL_CHOICES
    )
    return [Action(r.name, r.args, r.tool_call_id, r.description, allowed, r.args_schema or None)]


def _per_call(value: Any, schema: object) -> list[Action] | None:
    if not (isinstance(value, dict) and value.get("type") == "tool_approval"):
        return None
    r = _parse(_ToolApprovalRequest, value)
    terms = per_call_terms(schema) if schema is not None else (TOOL_CHOICES, None)
    if r is None or terms is None:
        return None
    return [Action(r.name, r.args, r.tool_call_id, r.description, ordered(terms[0]), terms[1])]


def _batched(value: Any, _schema: object) -> list[Action] | None:
    if not (isinstance(value, dict) and "action_requests" in value):
        return None
    r = _parse(_HitlRequest, value)
    if r is None or len(r.review_configs) != len(r.action_requests):
        return None
    actions: list[Action] = []
    for index, action in enumerate(r.action_requests):
        config = _review_config(action.name, index, r.review_configs)
        allowed = ordered(config.allowed_decisions)
        actions.append(
            Action(action.name, action.args, "", action.description, allowed, config.args_schema)
        )
    return actions


def _review_config(name: str, index: int, configs: list[_ReviewConfig]) -> _ReviewConfig:
    """The config for the action at ``index``: the one beside it when it names the same
    tool, else the first naming that tool (the middleware keys its configs by tool
    name), else the one beside it."""
    if configs[index].action_name == name:
        return configs[index]
    return next((c for c in configs if c.action_name == name), configs[index])


def _agent_inbox(value: Any, _schema: object) -> list[Action] | None:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(i, dict) and "action_request" in i for i in items):
        return None
    actions: list[Action] = []
    for item in items:
        r = _parse(_HumanInterrupt, item)
        if r is None:
            return None
        flags = r.config
        offered = zip(
            TOOL_CHOICES,
            (flags.allow_accept, flags.allow_edit, flags.allow_ignore, flags.allow_respond),
            strict=True,
        )
        allowed = ordered(choice for choice, on in offered if on)
        request = r.action_request
        actions.append(Action(request.action, request.args, "", r.description or "", allowed, None))
    return actions


READERS: tuple[tuple[Format, Callable[[Any, object], list[Action] | None]], ...] = (
    ("engine", _engine),
    ("hitl_per_call", _per_call),
    ("hitl_batched", _batched),
    ("agent_inbox", _agent_inbox),
)
"""Each format's reader, in the order a value is tried: our gate's requests first, as
they are per-call requests with keys of our own."""


def _parse(model: type[_Model], value: Any) -> _Model | None:
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def ordered(choices: Any) -> tuple[Choice, ...]:
    """The known tool decisions among ``choices``, in the house order; unknown ones (a
    newer middleware's) are not offered."""
    given = set(choices)
    return tuple(c for c in TOOL_CHOICES if c in given)
