"""An offline, deterministic chat model that plans realistic calls of the demo tools.

It reads the task ("email the Q3 report to boss@company.com") and asks for the tool
calls a capable assistant would, reacts to results and rejections, and can pause to
"think" so a demo looks alive. It is a demo model and says so.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolCall, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

Call = tuple[str, dict[str, Any]]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MONEY = re.compile(r"\$?\s*([\d][\d,]*(?:\.\d+)?)\s*(k\b)?")
_SPLIT = re.compile(r"\s*(?:,?\s+and then\s+|;\s*|,?\s+then\s+|,?\s+and\s+(?=\w+\s))", re.I)


def _clip(text: str, limit: int = 60) -> str:
    text = text.strip(" .")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _amount(text: str) -> float | None:
    match = _MONEY.search(text)
    if not match:
        return None
    value = float(match.group(1).replace(",", ""))
    return value * 1000 if match.group(2) else value


_PRONOUNS = {"it", "them", "this", "that", "those", "these", "the results", "the result"}


def _subject(raw: str | None, topic: str | None) -> str:
    """An email subject from "email <raw> to …"; a pronoun refers to the task's topic."""
    text = re.sub(r"^(?:the|a|an)\s+", "", (raw or "").strip(" ."), flags=re.I)
    if topic and (not text or text.lower() in _PRONOUNS):
        return _clip(re.sub(r"^(?:the|a|an)\s+", "", topic, flags=re.I)).capitalize()
    if topic and text.lower() in ("summary", "a summary", "report", "update"):
        return f"{text.capitalize()} of {topic}"
    return _clip(text).capitalize() if text else "Update"


def _plan_clause(clause: str, topic: str | None = None) -> list[Call]:
    """The calls one clause of a task asks for (empty when it names no action)."""
    low = clause.lower()
    if m := re.search(r"\b(?:transfer|pay|wire|send)\b.*?\$?\d", low):
        if amount := _amount(clause[m.start() :]):
            to = re.search(r"\bto\s+(?:account\s+)?([\w.@-]+)", clause, re.I)
            memo = re.search(r"\bfor\s+(.+)$", clause, re.I)
            return [
                (
                    "transfer_money",
                    {
                        "amount": amount,
                        "currency": "USD",
                        "to_account": to.group(1) if to else "unknown",
                        "memo": _clip(memo.group(1)) if memo else "",
                    },
                )
            ]
    if address := _EMAIL.search(clause):
        if re.search(r"\b(e-?mail|mail|send|forward|reply|notify|tell|write)\b", low):
            found = re.search(r"(?:e-?mail|send|forward|mail)\s+(.+?)\s+to\s", clause, re.I)
            subject = _subject(found.group(1) if found else None, topic)
            return [
                (
                    "send_email",
                    {
                        "to": address.group(0),
                        "subject": subject,
                        "body": f"Hello,\n\nAs requested: {subject}.\n\nBest regards,\nYour agent",
                        "cc": [],
                    },
                )
            ]
    if m := re.search(r"\border\s+(\d+)\s+(.+?)(?:\s+at\s+\$?([\d.]+))?$", clause, re.I):
        return [
            (
                "create_order",
                {
                    "item": _clip(m.group(2)),
                    "quantity": int(m.group(1)),
                    "unit_price": float(m.group(3) or 10.0),
                },
            )
        ]
    if m := re.search(r"\bdelete\s+(?:the\s+)?file\s+(\S+)", clause, re.I):
        return [("delete_file", {"path": m.group(1).strip(".,")})]
    if m := re.search(
        r"\b(?:delete|purge|erase|wipe)\s+(?:all\s+)?(?:the\s+)?(.+?)\s+(?:data|records)\b(.*)",
        clause,
        re.I,
    ):
        records = m.group(1).strip()
        where = re.sub(r"^(?:of|for|where)\s+", "", m.group(2).strip(), flags=re.I) or "all"
        if numbered := re.fullmatch(r"(\w+?)s?\s+#?(\d+)", records):
            noun, number = numbered.groups()
            return [("delete_data", {"dataset": f"{noun}s", "where": f"{noun}_id = {number}"})]
        return [("delete_data", {"dataset": _clip(records), "where": _clip(where)})]
    if m := re.search(r"\bread\s+(?:the\s+)?(?:file\s+)?(\S+\.\w+)", clause, re.I):
        return [("read_file", {"path": m.group(1)})]
    if m := re.search(r"\b(?:search|find|look up|research|check)\s+(?:for\s+)?(.+)$", clause, re.I):
        return [("search", {"query": _clip(m.group(1), 40)})]
    return []


def plan(task: str, tools: Sequence[str]) -> list[list[Call]]:
    """Steps of calls: look-ups first, then every action in one parallel turn."""
    calls: list[Call] = []
    topic: str | None = None
    for clause in filter(None, _SPLIT.split(task)):
        for name, args in _plan_clause(clause, topic):
            calls.append((name, args))
            topic = args.get("query") or args.get("path") or topic
    calls = [c for c in calls if c[0] in tools]
    if not calls and "search" in tools:
        calls = [("search", {"query": _clip(task, 40)})]
    lookups = [c for c in calls if c[0] in ("search", "read_file")]
    actions = [c for c in calls if c not in lookups]
    return [step for step in (lookups, actions) if step]


class ScriptedChatModel(BaseChatModel):
    """Deterministic demo model (no network): same task, same calls, every time."""

    think_seconds: float = 0.0
    tool_names: tuple[str, ...] = ()

    @property
    def _llm_type(self) -> str:
        return "scripted-demo"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        names = tuple(convert_to_openai_tool(t)["function"]["name"] for t in tools)
        return self.model_copy(update={"tool_names": names})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.think_seconds:
            await asyncio.sleep(self.think_seconds)
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _reply(self, messages: Sequence[BaseMessage]) -> AIMessage:
        task = next((str(m.content) for m in messages if isinstance(m, HumanMessage)), "")
        turn = sum(isinstance(m, AIMessage) for m in messages)
        results = [m for m in messages if isinstance(m, ToolMessage)]
        refused = [m for m in results if m.status == "error"]
        steps = plan(task, self.tool_names)
        if refused or turn >= len(steps):
            return AIMessage(content=_final_answer(results, refused))
        seed = hashlib.sha1(task.encode()).hexdigest()[:6]
        calls = [
            ToolCall(name=name, args=args, id=f"call_{seed}_{turn}{i}", type="tool_call")
            for i, (name, args) in enumerate(steps[turn])
        ]
        names = ", ".join(name for name, _ in steps[turn])
        return AIMessage(content=f"[demo model] Next I will call: {names}.", tool_calls=calls)


def _final_answer(results: Sequence[ToolMessage], refused: Sequence[ToolMessage]) -> str:
    if not results:
        return "[demo model] I have no tool for that task, so I did nothing."
    lines = [f"- {m.name}: {' '.join(str(m.content).split())[:200]}" for m in results]
    head = (
        "[demo model] I stopped: some actions were not carried out."
        if refused
        else "[demo model] Done."
    )
    return "\n".join([head, *lines])


ModelFactory = Callable[[], BaseChatModel]
