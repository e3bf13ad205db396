"""``hitl token`` and ``hitl serve`` as a person runs them: real processes, a real port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess

import httpx

from engine import Home
from tests.cli.test_cli import EMAIL_TASK, HITL, hitl, one_error_line


def test_tokens_are_made_listed_and_revoked_and_a_secret_is_shown_once(home: Home) -> None:
    hitl(home, "run", EMAIL_TASK)
    made = hitl(home, "token", "create", "--operator", "alice", "--scope", "read,decide")
    line, secret, warning = made.stdout.splitlines()
    assert secret.startswith("hitl_") and "alice" in line and "shown once" in warning
    token_id = line.split()[0]
    listed = hitl(home, "token", "list").stdout
    assert token_id in listed and "active" in listed and secret not in listed
    as_json = json.loads(hitl(home, "token", "list", "--json").stdout)
    assert [(t["id"], t["operator"], t["scopes"]) for t in as_json] == [
        (token_id, "alice", ["read", "decide"])
    ]
    assert "revoked" in hitl(home, "token", "revoke", token_id[:4]).stdout
    assert "revoked" in hitl(home, "token", "list").stdout
    one_error_line(hitl(home, "token", "revoke", token_id, ok=False), "already revoked")
    one_error_line(
        hitl(home, "token", "create", "--operator", "bob", "--scope", "root", ok=False),
        "unknown token scope 'root'",
    )
    one_error_line(hitl(home, "token", "create", "--operator", "a\u202eb", ok=False), "U+202E")
    no_operator = hitl(home, "token", "create", ok=False, env={"HITL_OPERATOR": ""})
    one_error_line(no_operator, "needs --operator")
    audit = hitl(home, "audit").stdout
    assert "token_created" in audit and "token_revoked" in audit


def test_serving_beyond_loopback_needs_tls_or_insecure(home: Home) -> None:
    refused = hitl(home, "serve", "--host", "0.0.0.0", ok=False)
    one_error_line(refused, "--host 0.0.0.0 is reachable from other machines", "--insecure")
    half = hitl(home, "serve", "--host", "10.1.2.3", "--tls-cert", "cert.pem", ok=False)
    one_error_line(half, "both --tls-cert and --tls-key")
    assert not home.path.exists()  # refused before a home was made


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_hitl_serve_decides_as_the_token_and_stops_on_sigterm(home: Home) -> None:
    hitl(home, "run", EMAIL_TASK)
    [pending] = json.loads(hitl(home, "pending", "--json").stdout)
    secret = hitl(home, "token", "create", "--operator", "dana").stdout.splitlines()[1]
    port = _free_port()
    env = {**os.environ, "HITL_OPERATOR": "server"}
    env.pop("HITL_DATABASE_URL", None)
    where = ["--home", str(home.path)]
    if home.database_url:
        where += ["--database", home.database_url]
    server = subprocess.Popen(
        [str(HITL), *where, "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        ready = server.stdout.readline()  # printed once the engine is open
        assert f"http://127.0.0.1:{port}" in ready, server.stderr.read() if server.stderr else ""
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as c:
            listed = c.get("/approvals")
            assert [a["id"] for a in listed.json()] == [pending["id"]]
            decided = c.post(f"/approvals/{pending['id']}/decide", json={"type": "approve"})
            assert decided.json()["decided_by"] == "dana"
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    shown = json.loads(hitl(home, "show", pending["thread_id"], "--json").stdout)
    assert [a["decided_by"] for a in shown["approvals"]] == ["dana"]


def test_console_serve_keeps_serves_bind_rules_and_says_so_before_any_screen(
    home: Home,
) -> None:
    refused = hitl(home, "console", "--serve", "--host", "0.0.0.0", ok=False)
    one_error_line(refused, "--host 0.0.0.0 is reachable from other machines", "--insecure")
    half = hitl(home, "console", "--serve", "--host", "10.1.2.3", "--tls-key", "k.pem", ok=False)
    one_error_line(half, "both --tls-cert and --tls-key")
    assert not home.path.exists()  # refused before a home was made
