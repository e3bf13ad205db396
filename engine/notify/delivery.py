"""Delivering one notification to its target: a signed webhook, Slack, or email.

Each function either returns (delivered) or raises :class:`DeliveryFailed` with one line
saying why, which the outbox keeps and ``hitl notify status`` shows. Secrets are read
from the environment here, at the moment of sending, and never written anywhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from engine.notify.messages import headline, slack_payload, text_lines
from engine.notify.targets import NotifyTarget

if TYPE_CHECKING:
    import httpx

SIGNATURE_HEADER = "X-Hitl-Signature-256"
"""``sha256=<hex HMAC-SHA256 of the raw body under the target's secret>``."""
DELIVERY_HEADER = "X-Hitl-Delivery"
"""The notification's id: the same on every retry, so a receiver can drop repeats."""


class DeliveryFailed(Exception):
    """A delivery did not happen; the message says why in one line."""


def signature(secret: bytes, body: bytes) -> str:
    """What ``SIGNATURE_HEADER`` carries for ``body``; a receiver computes the same and
    compares with ``hmac.compare_digest``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _secret(name: str | None, what: str, environ: Mapping[str, str]) -> str:
    if name is None:
        raise DeliveryFailed(f"no environment variable is named for the {what}")
    value = environ.get(name)
    if not value:
        raise DeliveryFailed(f"environment variable {name} (the {what}) is not set")
    return value


async def http_client() -> httpx.AsyncClient:
    """One client for every delivery of a process, made in a thread: making one loads
    the CA bundle (tens of milliseconds), which must not happen on the engine's loop."""
    import httpx

    def make() -> httpx.AsyncClient:  # the target's own timeout bounds each delivery
        return httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=None)

    return await asyncio.to_thread(make)


async def deliver(
    target: NotifyTarget,
    notification_id: int,
    body: dict[str, Any],
    client: httpx.AsyncClient,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Sends one notification, within the target's timeout."""
    try:
        async with asyncio.timeout(target.timeout):
            if target.kind == "webhook":
                await _webhook(target, notification_id, body, client, environ)
            elif target.kind == "slack":
                await _slack(target, body, client, environ)
            else:
                await asyncio.to_thread(_email, target, notification_id, body, environ)
    except TimeoutError:
        raise DeliveryFailed(f"no answer within {target.timeout:g}s") from None


async def _webhook(
    target: NotifyTarget,
    notification_id: int,
    body: dict[str, Any],
    client: httpx.AsyncClient,
    environ: Mapping[str, str],
) -> None:
    secret = _secret(target.secret_env, "webhook's signing key", environ)
    raw = json.dumps({"id": notification_id, **body}, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret.encode(), raw),
        DELIVERY_HEADER: str(notification_id),
    }
    assert target.url is not None  # checked when the policy was read
    await _post(client, target.url, raw, headers)


async def _slack(
    target: NotifyTarget,
    body: dict[str, Any],
    client: httpx.AsyncClient,
    environ: Mapping[str, str],
) -> None:
    url = target.url or _secret(target.url_env, "Slack webhook URL", environ)
    raw = json.dumps(slack_payload(body), ensure_ascii=False).encode()
    await _post(client, url, raw, {"Content-Type": "application/json"})


async def _post(client: httpx.AsyncClient, url: str, raw: bytes, headers: dict[str, str]) -> None:
    import httpx

    try:
        response = await client.post(url, content=raw, headers=headers)
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error or 'no detail'}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"HTTP {response.status_code} from {httpx.URL(url).host}")


def _email(
    target: NotifyTarget, notification_id: int, body: dict[str, Any], environ: Mapping[str, str]
) -> None:
    """Over SMTP, in a thread; STARTTLS before any credentials (the config refuses
    credentials without it), verified against the system's CAs or ``ca_file``."""
    message = EmailMessage()
    message["Subject"] = "[hitl] " + headline(body)[:180]
    assert target.sender is not None and target.smtp_host is not None
    message["From"] = target.sender
    message["To"] = ", ".join(target.to)
    message["X-Hitl-Delivery"] = str(notification_id)
    message.set_content("\n".join(text_lines(body)) + "\n")
    try:
        with smtplib.SMTP(target.smtp_host, target.smtp_port, timeout=target.timeout) as smtp:
            smtp.ehlo()
            if target.starttls:
                context = ssl.create_default_context(cafile=target.ca_file)
                smtp.starttls(context=context)
                smtp.ehlo()
            if target.username_env is not None:
                smtp.login(
                    _secret(target.username_env, "SMTP user name", environ),
                    _secret(target.password_env, "SMTP password", environ),
                )
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as error:
        raise DeliveryFailed(f"SMTP {target.smtp_host}: {error}") from None
