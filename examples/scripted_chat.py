"""A chat model that plays a fixed script, so the examples run offline and the same way
every time. Turn n of a thread (the n-th model call, counted from the AI messages in
its history) returns ``script[n]``; past the end it answers "done".

A step is the reply's text, the tool calls it makes, or a function of the messages so
far returning either, so a call's arguments can come from the task's own words."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

Reply = str | list[dict[str, Any]]
Step = Reply | Callable[[list[BaseMessage]], Reply]


def call(name: str, **args: Any) -> dict[str, Any]:
    """One tool call of a scripted turn."""
    return {"name": name, "args": args, "id": f"call-{uuid.uuid4().hex[:12]}", "type": "tool_call"}


def text_of(message: BaseMessage) -> str:
    """A message's text, whether its content is a string or a list of blocks."""
    if isinstance(message.content, str):
        return message.content
    parts = (b if isinstance(b, str) else str(b.get("text", "")) for b in message.content)
    return " ".join(parts)


class ScriptedChat(BaseChatModel):
    """``script``: per turn, the reply's text, the tool calls it makes, or a function of
    the messages that returns one of those."""

    script: list[Step]

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChat:  # type: ignore[override]
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        turn = sum(isinstance(m, AIMessage) for m in messages)
        step = self.script[turn] if turn < len(self.script) else "done"
        if callable(step):
            step = step(messages)
        if isinstance(step, str):
            reply = AIMessage(content=step, id=f"ai-{uuid.uuid4().hex}")
        else:
            calls = [{**c, "id": f"call-{uuid.uuid4().hex[:12]}"} for c in step]
            reply = AIMessage(content="", tool_calls=calls, id=f"ai-{uuid.uuid4().hex}")
        return ChatResult(generations=[ChatGeneration(message=reply)])
