"""A chat model that plays a fixed script, so the examples run offline and the same way
every time. Turn n of a thread (the n-th model call, counted from the AI messages in
its history) returns ``script[n]``; past the end it answers "done"."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult


def call(name: str, **args: Any) -> dict[str, Any]:
    """One tool call of a scripted turn."""
    return {"name": name, "args": args, "id": f"call-{uuid.uuid4().hex[:12]}", "type": "tool_call"}


class ScriptedChat(BaseChatModel):
    """``script``: per turn, either the reply's text or the tool calls it makes."""

    script: list[str | list[dict[str, Any]]]

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
        if isinstance(step, str):
            reply = AIMessage(content=step, id=f"ai-{uuid.uuid4().hex}")
        else:
            calls = [{**c, "id": f"call-{uuid.uuid4().hex[:12]}"} for c in step]
            reply = AIMessage(content="", tool_calls=calls, id=f"ai-{uuid.uuid4().hex}")
        return ChatResult(generations=[ChatGeneration(message=reply)])
