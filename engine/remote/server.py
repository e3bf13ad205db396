"""Where the Agent Server is and which of its assistants to supervise, and the one-line
errors for a server that cannot be reached, refuses the key, or has no such assistant."""

from __future__ import annotations

import os
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import SecretStr

from engine.errors import HitlError
from engine.remote import SERVER_URL_ENV

API_KEY_ENV = "LANGGRAPH_API_KEY"
ASSISTANT_ENV = "HITL_ASSISTANT"
TIMEOUT_SECONDS = 10.0

_T = TypeVar("_T")


class ServerUnreachable(HitlError):
    """No answer from the server (refused, reset, timed out): try again later."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"server at {url} unreachable")


class ServerRefused(HitlError):
    """The server answered, and said no: a wrong API key, an unknown assistant."""


class ResumedElsewhere(HitlError):
    """The server would not take the resume: the thread is busy with a run someone else
    started (or its interrupt is gone). Nothing was sent."""


@dataclass(frozen=True, slots=True)
class AgentServer:
    """An Agent Server's address, the assistant (id, graph id or name) and the API key,
    with where the key came from (a refusal names that, never the key)."""

    url: str
    assistant: str | None = None
    api_key: SecretStr | None = field(default=None, repr=False)
    key_from: str = "--api-key"

    @classmethod
    def from_flags(
        cls, url: str | None, assistant: str | None = None, api_key: str | None = None
    ) -> AgentServer | None:
        """From the flags, else the environment (``HITL_SERVER_URL``, ``HITL_ASSISTANT``,
        ``LANGGRAPH_API_KEY``); None when no server is named."""
        url = url or os.environ.get(SERVER_URL_ENV) or None
        if url is None:
            return None
        if not url.startswith(("http://", "https://")):
            raise HitlError(f"--server takes an http:// or https:// URL, not {url!r}")
        key = api_key or os.environ.get(API_KEY_ENV) or None
        return cls(
            url.rstrip("/"),
            assistant or os.environ.get(ASSISTANT_ENV) or None,
            SecretStr(key) if key else None,
            "--api-key" if api_key else f"${API_KEY_ENV}",
        )

    def refused_key(self) -> ServerRefused:
        """The server said no to the key: which key (where it came from), or that one
        is wanted."""
        if self.api_key is None:
            return ServerRefused(
                f"server at {self.url} wants an API key: give it with --api-key or ${API_KEY_ENV}"
            )
        return ServerRefused(f"server at {self.url} refused the API key given in {self.key_from}")

    def client(self) -> Any:
        """The SDK's async client (``langgraph_sdk.get_client``) for this server."""
        from langgraph_sdk import get_client

        key = self.api_key.get_secret_value() if self.api_key else None
        return get_client(url=self.url, api_key=key, timeout=TIMEOUT_SECONDS)

    async def call(self, request: Awaitable[_T], what: str = "") -> _T:
        """``request``'s answer, its failures as one line naming the server."""
        import httpx
        from langgraph_sdk import errors

        try:
            return await request
        except (httpx.TransportError, errors.APIConnectionError):
            raise ServerUnreachable(self.url) from None
        except (errors.AuthenticationError, errors.PermissionDeniedError):
            raise self.refused_key() from None
        except httpx.HTTPStatusError as error:
            code = error.response.status_code
            if code in (401, 403):
                raise self.refused_key() from None
            if code == 409:
                raise ResumedElsewhere(
                    "the thread is busy on the server (resumed elsewhere); nothing was sent"
                ) from None
            if code >= 500 or code in (502, 503, 504):
                raise ServerUnreachable(self.url) from None
            raise ServerRefused(
                f"server at {self.url} refused {what or 'the request'}: HTTP {code}"
            ) from None
