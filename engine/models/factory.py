"""Model specs ("scripted", "openai:gpt-4o-mini") to chat models.

A thread stores its spec, not a model object, so it resumes with the same model after
a restart.
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.language_models import BaseChatModel

from engine.errors import HitlError

DEMO_LABEL = "scripted (demo model)"


def describe_model(spec: str) -> str:
    """How a model spec is shown to a person; the demo model always says it is one."""
    return DEMO_LABEL if spec == "scripted" else spec


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


def endpoint_from_env(base_url: str | None, api_key: str | None) -> dict[str, Any]:
    return {
        "base_url": base_url or os.environ.get("OPENAI_BASE_URL"),
        "api_key": api_key or os.environ.get("OPENAI_API_KEY"),
    }
