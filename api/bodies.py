"""What a request carries, checked by pydantic before the engine sees it; and the
shapes of answers that are not the engine's own views."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine import (
    Answer,
    ApprovalView,
    Approve,
    Decision,
    Edit,
    HistoryEntry,
    Reject,
    Respond,
    ThreadView,
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an `operator` field is refused, not ignored


class ApproveBody(_Body):
    type: Literal["approve"]


class EditBody(_Body):
    type: Literal["edit"]
    args: dict[str, Any]
    """The call's new arguments: checked against the tool's schema and judged again."""


class RejectBody(_Body):
    type: Literal["reject"]
    message: str | None = Field(default=None, max_length=10_000)
    """Told to the model."""


class RespondBody(_Body):
    type: Literal["respond"]
    message: str = Field(max_length=100_000)
    """The tool's result, in place of running it."""


class AnswerBody(_Body):
    type: Literal["answer"]
    value: Any = None
    """The reply to an unrecognised interrupt: any JSON value."""


DecisionBody = Annotated[
    ApproveBody | EditBody | RejectBody | RespondBody | AnswerBody, Field(discriminator="type")
]


def decision_of(body: ApproveBody | EditBody | RejectBody | RespondBody | AnswerBody) -> Decision:
    match body:
        case ApproveBody():
            return Approve()
        case EditBody():
            return Edit(body.args)
        case RejectBody():
            return Reject(body.message)
        case RespondBody():
            return Respond(body.message)
        case AnswerBody():
            return Answer(body.value)


class StartBody(_Body):
    task: str = Field(default="", max_length=20_000)
    """What the agent should do, in plain words."""
    graph: str | None = None
    """One of the graphs the server was started with (``--graph``); none: the built-in agent."""
    input: dict[str, Any] | None = None
    """A graph without messages starts from this JSON object."""


class ThreadStory(BaseModel):
    """One thread, its approvals and its story, as ``hitl show`` gives them."""

    thread: ThreadView
    approvals: list[ApprovalView]
    history: list[HistoryEntry]


class RuleDoc(BaseModel):
    name: str
    tool: str | None
    when: str
    tier: str
    line: int


class TierDoc(BaseModel):
    tier: str
    approvals: int
    distinct_operators: bool
    expires_after: float | None
    warn_before: float | None


class PolicyDoc(BaseModel):
    """The policy in force, as the console's policy screen shows it."""

    source: str
    digest: str
    default_tier: str
    tools: dict[str, str]
    rules: list[RuleDoc]
    tiers: list[TierDoc]
    text: str


class Problem(BaseModel):
    """Every refusal: the engine's one-line message; ``errors``: each schema problem."""

    detail: str
    errors: list[str] | None = None
