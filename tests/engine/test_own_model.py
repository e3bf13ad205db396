"""A chat model of the caller's own, passed to ``Engine.open`` as an object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from engine import Approve, Home
from engine.engine import Engine
from engine.models.scripted import ScriptedChatModel


class EchoModel(BaseChatModel):
    """Answers every turn with the last thing it was told, calling no tool."""

    model_name: str = "echo-1"
    turns: int = 0

    @property
    def _llm_type(self) -> str:
        return "echo"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> EchoModel:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.turns += 1
        reply = AIMessage(f"echo: {messages[-1].content}")
        return ChatResult(generations=[ChatGeneration(message=reply)])


async def test_threads_run_on_the_model_object_and_record_its_name(home: Home) -> None:
    model = EchoModel()
    async with Engine.open(home, model=model, operator="alice") as engine:
        thread = await engine.start("hello there")
        await engine.wait(thread.id)
        done = await engine.thread(thread.id)
        assert (done.status, done.error, done.answer, done.model) == (
            "done",
            None,
            "echo: hello there",
            "EchoModel:echo-1",
        )
        assert model.turns == 1

        named = await engine.start("search for the Q3 report", model="scripted")
        await engine.wait(named.id)
        assert (await engine.thread(named.id)).model == "scripted"
        assert model.turns == 1  # the named model ran that one


async def test_a_model_object_asking_for_a_risky_call_is_gated(home: Home) -> None:
    async with Engine.open(home, model=ScriptedChatModel(), operator="alice") as engine:
        thread = await engine.start("email the Q3 report to boss@company.com")
        await engine.wait(thread.id)
        [approval] = await engine.pending(thread.id)
        assert (approval.tool, (await engine.thread(thread.id)).model) == (
            "send_email",
            "ScriptedChatModel",
        )
        await engine.decide(approval.id, Approve())
        await engine.wait(thread.id)
        assert (await engine.thread(thread.id)).status == "done"
