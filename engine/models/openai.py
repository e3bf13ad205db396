"""Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, LM Studio)."""

from __future__ import annotations

import os

from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI
from pydantic import SecretStr


def chat_openai(
    model: str, *, base_url: str | None, api_key: str | None, timeout: float
) -> BaseChatModel:
    """``base_url`` and ``api_key`` fall back to OPENAI_BASE_URL and OPENAI_API_KEY.

    Local servers often need no key; a placeholder keeps the client from refusing to start.
    One retry only: a dead endpoint should fail the thread quickly, and the person retries.
    """
    key = api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
    return ChatOpenAI(
        model=model,
        base_url=base_url or os.environ.get("OPENAI_BASE_URL"),
        api_key=SecretStr(key),
        timeout=timeout,
        max_retries=1,
        temperature=0,
    )
