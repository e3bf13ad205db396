"""Model specs ("scripted", "openai:gpt-4o-mini") to chat models.

A thread stores its spec, not a model object, so it resumes with the same model after
a restart. A model object passed in is stored under its name (:func:`model_name`).
Nothing here imports LangChain until a model is built: options are checked without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import HitlError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from pydantic import SecretStr

_OPENAI = "openai:"


def model_problem(spec: str) -> str | None:
    """Why ``spec`` names no model this engine can build; None when it does."""
    if spec == "scripted" or (spec.startswith(_OPENAI) and spec[len(_OPENAI) :]):
        return None
    return f"unknown model {spec!r}: use 'scripted' or 'openai:<model name>'"


def model_name(model: BaseChatModel) -> str:
    """How a thread records a model object: ``ClassName:model_name``, or the class's name
    for a model without one."""
    named = getattr(model, "model_name", None) or getattr(model, "model", None)
    kind = type(model).__name__
    return f"{kind}:{named}" if isinstance(named, str) and named else kind


def make_model(
    spec: str,
    *,
    think_seconds: float = 0.0,
    base_url: str | None = None,
    api_key: SecretStr | None = None,
    timeout: float = 30.0,
) -> BaseChatModel:
    if (problem := model_problem(spec)) is not None:
        raise HitlError(problem)
    if spec == "scripted":
        from engine.models.scripted import ScriptedChatModel

        return ScriptedChatModel(think_seconds=think_seconds)
    from engine.models.openai import chat_openai

    return chat_openai(spec[len(_OPENAI) :], base_url=base_url, api_key=api_key, timeout=timeout)
