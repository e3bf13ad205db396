"""A small, real OpenAI chat-completions server for tests, on 127.0.0.1.

It speaks the wire format an OpenAI-compatible endpoint speaks (JSON, or server-sent
events when the client asks for ``stream``), checks conversations the way the real API
does (every ``tool_calls`` entry must be answered by a ``tool`` message before the next
turn), and answers from a script: ask for the planned tool calls first, then, once
tool results came back, give a final answer that quotes them. Every request body is
kept in ``requests`` so a test can see exactly what the model was sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """One tool call the scripted model makes: ``arguments`` go out as a JSON string.

    ``raw_arguments``, when given, is sent as is instead (e.g. broken JSON, as small
    local models sometimes produce).
    """

    name: str
    arguments: dict[str, Any]
    id: str = ""
    raw_arguments: str | None = None


def final_answer(tool_messages: list[Message]) -> str:
    """The scripted final answer: quotes every tool result it was given."""
    quoted = " | ".join(str(m.get("content", "")) for m in tool_messages)
    return f"All done. The tools said: {quoted}"


def conversation_problem(messages: list[Message]) -> str | None:
    """What the real API would refuse in this message list (a 400), or None."""
    if not messages:
        return "'messages' must be a non-empty array"
    open_ids: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in open_ids:
                return (
                    f"messages[{index}]: a message with role 'tool' must be a response to a "
                    f"preceding message with 'tool_calls' (unknown tool_call_id {call_id!r})"
                )
            open_ids.remove(call_id)
            continue
        if open_ids:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'. Missing: {', '.join(open_ids)}"
            )
        if role == "assistant":
            open_ids += [call["id"] for call in message.get("tool_calls") or []]
    if open_ids:
        return f"tool_calls without responses: {', '.join(open_ids)}"
    return None


@dataclass
class ChatServer:
    """``with ChatServer(calls) as server:`` serves ``server.base_url`` until the block ends.

    ``fail_with``: while set to an HTTP status, every chat request gets that error (the
    request is still recorded), as an overloaded or broken endpoint would answer.
    """

    calls: list[PlannedCall]
    port: int = 0
    fail_with: int | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    """The bearer key each chat request came with."""
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _counter: int = 0

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "the server is not running"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="chat-server", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    # --- what the scripted model says ----------------------------------------

    def respond(self, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one chat-completions request."""
        self.requests.append(json.loads(json.dumps(body)))
        if self.fail_with is not None:
            status = HTTPStatus(self.fail_with)
            return status, _error(f"scripted failure: {status.phrase}", "server_error")
        messages = body.get("messages")
        if not isinstance(messages, list):
            return 400, _error("'messages' is required", "invalid_request_error")
        problem = conversation_problem(messages)
        if problem is not None:
            return 400, _error(problem, "invalid_request_error")
        results = _results_since_last_user(messages)
        if results:
            message: Message = {"role": "assistant", "content": final_answer(results)}
            finish = "stop"
        else:
            message = {"role": "assistant", "content": None, "tool_calls": self._tool_calls()}
            finish = "tool_calls"
        self._counter += 1
        return 200, {
            "id": f"chatcmpl-{self._counter}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "unknown"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    def _tool_calls(self) -> list[dict[str, Any]]:
        return [
            {
                "id": call.id or f"call_{index}_{self._counter}",
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": call.raw_arguments or json.dumps(call.arguments),
                },
            }
            for index, call in enumerate(self.calls)
        ]

    # --- what a test reads back ------------------------------------------------

    def tool_messages(self, request: int) -> list[Message]:
        return [m for m in self.requests[request]["messages"] if m.get("role") == "tool"]


def _results_since_last_user(messages: list[Message]) -> list[Message]:
    results: list[Message] = []
    for message in messages:
        if message.get("role") == "user":
            results = []
        elif message.get("role") == "tool":
            results.append(message)
    return results


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _chunks(completion: dict[str, Any]) -> bytes:
    """The completion as the server-sent events of a streamed answer."""
    choice = completion["choices"][0]
    message = choice["message"]
    delta: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("tool_calls"):
        delta["tool_calls"] = [{"index": i, **c} for i, c in enumerate(message["tool_calls"])]
    base = {k: completion[k] for k in ("id", "created", "model")}
    events = [
        {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]},
        {
            **base,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}],
        },
    ]
    lines = [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def _handler(server: ChatServer) -> Callable[..., BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, _error(f"no route {self.path}", "invalid_request_error"))
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                self._send(400, _error("body is not JSON", "invalid_request_error"))
                return
            if not isinstance(body, dict):
                self._send(400, _error("body must be an object", "invalid_request_error"))
                return
            with lock:
                server.keys.append(self.headers.get("Authorization", "").removeprefix("Bearer "))
                status, reply = server.respond(body)
            if status == 200 and body.get("stream"):
                self._write(200, "text/event-stream", _chunks(reply))
            else:
                self._send(status, reply)

        def _send(self, status: int, reply: dict[str, Any]) -> None:
            self._write(status, "application/json", json.dumps(reply).encode())

        def _write(self, status: int, content_type: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if status >= 500:
                self.send_header("retry-after-ms", "1")  # the client's one retry is quick
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
