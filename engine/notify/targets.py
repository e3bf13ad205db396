"""Where notifications go: the policy file's ``[[notify]]`` tables, checked line by line.

A target says which events it wants (``on``), for which tiers, and how to reach people:
a signed JSON webhook, a Slack incoming webhook, or email over SMTP. Secrets (the
webhook's signing key, a Slack URL, SMTP credentials) are never in the file: it names
the environment variables that hold them, read when a notification is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast
from urllib.parse import urlsplit

NotifyKind = Literal["webhook", "slack", "email"]
KINDS: tuple[NotifyKind, ...] = ("webhook", "slack", "email")

NOTIFY_EVENTS = ("approval_requested", "expiring", "expired", "outcome_unknown", "thread_failed")
"""What a target can be told of: a call waits for a person; it will expire soon; it
expired (rejected, fail-closed); a crash left a call's outcome unknown; a thread failed."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TIERS = ("low", "medium", "high")

_COMMON_KEYS = ("name", "kind", "on", "tiers", "attempts", "retry_first", "retry_cap", "timeout")
_KEYS: Mapping[str, tuple[str, ...]] = {
    "webhook": (*_COMMON_KEYS, "url", "secret_env"),
    "slack": (*_COMMON_KEYS, "url", "url_env"),
    "email": (
        *_COMMON_KEYS,
        "smtp_host",
        "smtp_port",
        "starttls",
        "ca_file",
        "username_env",
        "password_env",
        "from",
        "to",
    ),
}


@dataclass(frozen=True, slots=True)
class NotifyTarget:
    """One ``[[notify]]`` table. Stored whole with each notification it queues, so any
    process sharing the home delivers it as configured when it was queued."""

    name: str
    kind: NotifyKind
    on: tuple[str, ...]
    tiers: tuple[str, ...] = ()
    """Approval events only for calls of these tiers; empty: every tier."""
    attempts: int = 8
    """Deliveries tried before the notification is marked dead."""
    retry_first: float = 5.0
    """Seconds before the first retry; each next one waits twice as long..."""
    retry_cap: float = 600.0
    """...but never longer than this."""
    timeout: float = 10.0
    """Seconds one delivery may take, connecting included."""
    url: str | None = None
    url_env: str | None = None
    """Slack: the environment variable holding the webhook URL (itself a secret)."""
    secret_env: str | None = None
    """Webhook: the environment variable holding the HMAC-SHA256 signing key."""
    smtp_host: str | None = None
    smtp_port: int = 587
    starttls: bool = True
    ca_file: str | None = None
    """Email: a CA bundle to trust for STARTTLS (a private CA); else the system's."""
    username_env: str | None = None
    password_env: str | None = None
    sender: str | None = None
    to: tuple[str, ...] = field(default_factory=tuple)

    def wants(self, event: str, tier: str | None) -> bool:
        """Whether this target is told of ``event`` (for a call of ``tier``)."""
        if event not in self.on:
            return False
        return tier is None or not self.tiers or tier in self.tiers

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> NotifyTarget:
        data = json.loads(text)
        for key in ("on", "tiers", "to"):
            data[key] = tuple(data.get(key) or ())
        return cls(**data)


Problem = Callable[[int, str, str], None]
"""Reports (line, where, message) of a problem found in the policy file."""
Line = Callable[[str, int], int]
"""The line of a key (or, for "", of the table's header) in the index-th ``[[notify]]``."""


def parse_targets(raw_targets: object, line: Line, problem: Problem) -> tuple[NotifyTarget, ...]:
    """Every ``[[notify]]`` table as a target; each problem reported with its line."""
    if not isinstance(raw_targets, list):
        problem(line("", 0), "notify", "must be an array of tables ([[notify]])")
        return ()
    targets: list[NotifyTarget] = []
    names: set[str] = set()
    reported: list[str] = []

    def counted(at: int, place: str, message: str) -> None:
        reported.append(place)
        problem(at, place, message)

    for index, raw in enumerate(raw_targets):
        where = f"notify[{index}]"
        if not isinstance(raw, Mapping):
            problem(line("", index), where, "must be a table")
            continue
        before = len(reported)
        target = _parse_one(raw, index, where, line, counted)
        if target is None or len(reported) > before:
            continue
        if target.name in names:
            problem(
                line("name", index), f"{where}.name", f"another target is named {target.name!r}"
            )
            continue
        names.add(target.name)
        targets.append(target)
    return tuple(targets)


def _parse_one(
    raw: Mapping[str, Any], index: int, where: str, line: Line, problem: Problem
) -> NotifyTarget | None:
    kind = raw.get("kind")
    if kind not in KINDS:
        problem(
            line("kind" if "kind" in raw else "", index),
            f"{where}.kind",
            f"needs a kind: {', '.join(KINDS)} (got {kind!r})",
        )
        return None
    kind = cast("NotifyKind", kind)

    def bad(key: str, message: str) -> None:
        problem(line(key, index), f"{where}.{key}" if key else where, message)

    for key in raw:
        if key not in _KEYS[kind]:
            bad(
                key,
                f"unknown key for {'an' if kind == 'email' else 'a'} {kind} target "
                f"(use {', '.join(_KEYS[kind])})",
            )
    name = raw.get("name", f"{kind} {index + 1}")
    if not isinstance(name, str) or not name.strip():
        bad("name", "must be a non-empty string")
        name = f"{kind} {index + 1}"
    on = _strings(raw.get("on"), "on", bad, required=True)
    for event in on:
        if event not in NOTIFY_EVENTS:
            bad("on", f"unknown event {event!r} (use {', '.join(NOTIFY_EVENTS)})")
    tiers = _strings(raw.get("tiers"), "tiers", bad)
    for tier in tiers:
        if tier not in _TIERS:
            bad("tiers", f"unknown tier {tier!r} (use {', '.join(_TIERS)}; deny never asks)")
    values: dict[str, Any] = {"name": name.strip(), "kind": kind, "on": on, "tiers": tiers}
    _delivery(raw, values, bad)
    for key in ("secret_env", "url_env", "username_env", "password_env"):
        if key in raw:
            if isinstance(raw[key], str) and _ENV_NAME.match(raw[key]):
                values[key] = raw[key]
            else:
                bad(key, "must name an environment variable (letters, digits, _)")
    if kind == "webhook":
        values["url"] = _url(raw.get("url"), "url", bad, required=True)
        if "secret_env" not in raw:
            bad(
                "", "a webhook signs every delivery: set secret_env to the variable holding the key"
            )
    elif kind == "slack":
        if ("url" in raw) == ("url_env" in raw):
            bad("", "a slack target needs url_env (the variable holding the webhook URL) or url")
        elif "url" in raw:
            values["url"] = _url(raw["url"], "url", bad, required=True)
    else:
        _email(raw, values, bad)
    return NotifyTarget(**values)


def _delivery(
    raw: Mapping[str, Any], values: dict[str, Any], bad: Callable[[str, str], None]
) -> None:
    from engine.policy_file import parse_duration

    attempts = raw.get("attempts", 8)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        bad("attempts", "must be a whole number from 1 to 100")
    else:
        values["attempts"] = attempts
    for key in ("retry_first", "retry_cap", "timeout"):
        if key in raw:
            try:
                values[key] = parse_duration(raw[key])
            except ValueError as error:
                bad(key, str(error))
    if values.get("retry_cap", 600.0) < values.get("retry_first", 5.0):
        bad("retry_cap", "must be at least retry_first")


def _email(raw: Mapping[str, Any], values: dict[str, Any], bad: Callable[[str, str], None]) -> None:
    host = raw.get("smtp_host")
    if not isinstance(host, str) or not host.strip():
        bad("smtp_host" if "smtp_host" in raw else "", "an email target needs smtp_host")
    else:
        values["smtp_host"] = host.strip()
    port = raw.get("smtp_port", 587)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        bad("smtp_port", "must be a port number from 1 to 65535")
    else:
        values["smtp_port"] = port
    starttls = raw.get("starttls", True)
    if not isinstance(starttls, bool):
        bad("starttls", "must be true or false")
    else:
        values["starttls"] = starttls
    if "ca_file" in raw:
        if isinstance(raw["ca_file"], str) and raw["ca_file"]:
            values["ca_file"] = raw["ca_file"]
        else:
            bad("ca_file", "must be the path of a CA bundle")
    if ("username_env" in raw) != ("password_env" in raw):
        bad("", "SMTP login needs both username_env and password_env, or neither")
    if "password_env" in raw and not values.get("starttls", True):
        bad("starttls", "credentials are never sent without STARTTLS")
    sender = raw.get("from")
    if not isinstance(sender, str) or not _is_address(sender):
        bad("from" if "from" in raw else "", "an email target needs from = an address")
    else:
        values["sender"] = sender
    to = _strings(raw.get("to"), "to", bad, required=True)
    for address in to:
        if not _is_address(address):
            bad("to", f"{address!r} is not an email address")
    values["to"] = to


def _is_address(text: str) -> bool:
    """One plain address, with nothing that could add a header or a recipient."""
    return bool(re.fullmatch(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+", text))


def _strings(
    value: object, key: str, bad: Callable[[str, str], None], *, required: bool = False
) -> tuple[str, ...]:
    if value is None:
        if required:
            bad("", f"needs {key} = [...]")
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        bad(key, "must be a string or a list of strings")
        return ()
    if required and not value:
        bad(key, "must name at least one")
    return tuple(dict.fromkeys(value))


def _url(value: object, key: str, bad: Callable[[str, str], None], *, required: bool) -> str | None:
    if value is None and not required:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        bad(key if value is not None else "", "needs an http:// or https:// URL")
        return None
    return cast("str", value)
