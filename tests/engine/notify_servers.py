"""Real servers on 127.0.0.1 for the notification tests: an HTTP receiver that checks
each delivery's signature (and can refuse the first tries, hang, or be down), and an
SMTP server (aiosmtpd) with STARTTLS and a login, on a certificate made for the test."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Delivery:
    headers: dict[str, str]
    raw: bytes
    signed: bool

    @property
    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.raw))


@dataclass
class Receiver:
    """Answers 500 to the first ``fail_first`` requests, then 200; ``hang`` holds every
    request unanswered until released. ``stop()`` takes it down (connections refused),
    ``start()`` brings it back on the same port."""

    secret: bytes
    fail_first: int = 0
    hang: bool = False
    port: int = field(default_factory=free_port)
    deliveries: list[Delivery] = field(default_factory=list)
    """The signed deliveries (answered 200)."""
    raw_refused: list[bytes] = field(default_factory=list)
    """The bodies of unsigned ones (answered 401)."""
    tries: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _released: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._changed:
                    receiver.tries += 1
                    refuse = receiver.tries <= receiver.fail_first
                    receiver._changed.notify_all()
                if receiver.hang:
                    receiver._released.wait(30)
                if refuse:
                    self.send_response(500)
                    self.end_headers()
                    return
                expected = "sha256=" + hmac.new(receiver.secret, raw, hashlib.sha256).hexdigest()
                given = self.headers.get("X-Hitl-Signature-256", "")
                signed = hmac.compare_digest(expected, given)
                with receiver._changed:
                    if signed:
                        receiver.deliveries.append(Delivery(dict(self.headers), raw, signed))
                    else:
                        receiver.raw_refused.append(raw)
                    receiver._changed.notify_all()
                self.send_response(200 if signed else 401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._released.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def release(self) -> None:
        self.hang = False
        self._released.set()

    async def wait_for(self, what: Callable[[Receiver], bool], within: float = 30) -> None:
        """Until ``what`` holds of the receiver (each request wakes the check)."""

        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: what(self), within)

        assert await asyncio.to_thread(wait), f"receiver: {self.tries} tries, {self.deliveries}"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA): (cert, key)."""
    cert, key = folder / "smtp.crt", folder / "smtp.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class MailServer:
    """aiosmtpd on 127.0.0.1, requiring STARTTLS before AUTH, and AUTH before mail."""

    cert: Path
    key: Path
    user: str = "hitl"
    password: str = "s3cret"
    port: int = field(default_factory=free_port)
    messages: list[Any] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    _controller: Any = None
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        server = self

        class Handler:
            async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
                from email import message_from_bytes

                with server._changed:
                    server.messages.append(message_from_bytes(envelope.content))
                    server._changed.notify_all()
                return "250 OK"

        def authenticate(smtp: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
            ok = isinstance(auth, LoginPassword) and (
                auth.login.decode(),
                auth.password.decode(),
            ) == (server.user, server.password)
            if ok:
                server.logins.append(auth.login.decode())
            return AuthResult(success=ok)

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        self._controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            authenticator=authenticate,
            auth_required=True,
            auth_require_tls=True,
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    async def wait_for(self, count: int, within: float = 30) -> None:
        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: len(self.messages) >= count, within)

        assert await asyncio.to_thread(wait), f"{len(self.messages)} messages"
