"""Model specs ("scripted", "openai:gpt-4o-mini") to chat models.

A thread stores its spec, not a model object, so it resumes with the same model after
a restart.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from engine.errors import HitlError


def make_model(
    spec: str,
    *,
    think_seconds: float = 0.0,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float = 30.0,
) -> BaseChatModel:
    if spec == "scripted":
        from engine.models.scripted import ScriptedChatModel

        return ScriptedChatModel(think_seconds=think_seconds)
    if spec.startswith("openai:") and spec[len("openai:") :]:
        from engine.models.openai import chat_openai

        return chat_openai(
            spec[len("openai:") :], base_url=base_url, api_key=api_key, timeout=timeout
        )
    raise HitlError(f"unknown model {spec!r}: use 'scripted' or 'openai:<model name>'")
