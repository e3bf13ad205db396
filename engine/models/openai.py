"""Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, LM Studio)."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import ChatResult
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from engine.errors import ModelUnavailable
from engine.slots import waiting


class _ChatOpenAI(ChatOpenAI):
    """ChatOpenAI whose unreachable endpoint is a :class:`ModelUnavailable` naming it:
    the failed thread then says where the model was looked for, and what to do."""

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            return super()._generate(*args, **kwargs)
        except openai.APIConnectionError as error:
            raise self._unavailable(error) from error

    lends_run_slot: ClassVar[bool] = True
    """It gives its run slot back while the request is out (``engine.slots``); LangChain's
    work around it keeps the slot."""

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            async with waiting():
                return await super()._agenerate(*args, **kwargs)
        except openai.APIConnectionError as error:
            raise self._unavailable(error) from error

    def _unavailable(self, error: openai.APIConnectionError) -> ModelUnavailable:
        where = self.openai_api_base or "https://api.openai.com/v1"
        return ModelUnavailable(
            f"model endpoint {where} could not be reached ({type(error).__name__}: {error}); "
            "retry the thread once it is up"
        )


def chat_openai(
    model: str, *, base_url: str | None, api_key: SecretStr | None, timeout: float
) -> BaseChatModel:
    """``base_url`` and ``api_key`` fall back to OPENAI_BASE_URL and OPENAI_API_KEY.

    Local servers often need no key; a placeholder keeps the client from refusing to start.
    One retry only: a dead endpoint should fail the thread quickly, and the person retries.
    """
    key = api_key or SecretStr(os.environ.get("OPENAI_API_KEY") or "not-needed")
    return _ChatOpenAI(
        model=model,
        base_url=base_url or os.environ.get("OPENAI_BASE_URL"),
        api_key=key,
        timeout=timeout,
        max_retries=1,
        temperature=0,
    )
