"""Notifications reach people: signed webhooks, Slack and email, delivered at least once
from an outbox written with the event, against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import Approve, Home
from engine.engine import Engine
from engine.policy_file import DEFAULT_POLICY_TOML
from tests.engine.notify_servers import MailServer, Receiver, free_port, make_certificate
from tests.engine.processes import ROOT, Child

SECRET = "webhook-key-1"
EMAIL_TASK = "email the Q3 report to boss@company.com"
TRANSFER_TASK = "transfer $5000 to acct-991"


def webhook(url: str, **extra: Any) -> str:
    settings = {
        "on": ["approval_requested", "expired", "thread_failed"],
        "retry_first": 0.05,
        "retry_cap": 0.2,
        "timeout": 2,
        **extra,
    }
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in settings.items())
    head = f'\n[[notify]]\nname = "ops"\nkind = "webhook"\nurl = "{url}"\n'
    return head + 'secret_env = "HITL_TEST_HOOK_KEY"\n' + lines + "\n"


def write_policy(path: Path, *tables: str) -> Path:
    path.write_text(DEFAULT_POLICY_TOML + "".join(tables))
    return path


@pytest.fixture(autouse=True)
def hook_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITL_TEST_HOOK_KEY", SECRET)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET.encode())
    server.start()
    yield server
    server.stop()


async def pending_after(engine: Engine, task: str) -> Any:
    thread = await engine.start(task)
    await engine.wait(thread.id)
    [approval] = await engine.pending(thread.id)
    return approval


async def test_a_waiting_call_is_sent_signed_with_what_to_decide(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    policy = write_policy(tmp_path / "p.toml", webhook(receiver.url))
    async with Engine.open(home, policy=policy, operator="alice") as engine:
        approval = await pending_after(engine, EMAIL_TASK)
        await receiver.wait_for(lambda r: len(r.deliveries) == 1)
    [delivery] = receiver.deliveries
    assert delivery.signed, "the HMAC-SHA256 signature does not match the body"
    body = delivery.body
    assert body["event"] == "approval_requested"
    assert body["approval"]["id"] == approval.id
    assert (body["approval"]["tool"], body["approval"]["tier"]) == ("send_email", "medium")
    assert body["approval"]["args"]["to"] == "boss@company.com"
    assert f"hitl approve {approval.id}" in body["commands"]
    assert delivery.headers["X-Hitl-Delivery"] == str(body["id"])


async def test_a_wrong_secret_is_noticed_by_the_receiver(
    home: Home, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HITL_TEST_HOOK_KEY", "not-the-key")
    policy = write_policy(tmp_path / "p.toml", webhook(receiver.url, attempts=2))
    async with Engine.open(home, policy=policy, operator="alice") as engine:
        await pending_after(engine, EMAIL_TASK)
        await receiver.wait_for(lambda r: len(r.raw_refused) == 2)
        assert receiver.deliveries == []
        [dead] = await _wait_dead(engine, 1)
    assert dead.last_error == "HTTP 401 from 127.0.0.1"


async def test_tiers_pick_which_calls_a_target_hears_of(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    policy = write_policy(tmp_path / "p.toml", webhook(receiver.url, tiers=["high"]))
    async with Engine.open(home, policy=policy, operator="alice") as engine:
        await pending_after(engine, EMAIL_TASK)  # medium: not for this target
        high = await pending_after(engine, TRANSFER_TASK)
        await receiver.wait_for(lambda r: len(r.deliveries) >= 1)
        assert [n.approval_id for n in await engine.notifications(None)] == [high.id]
    assert [d.body["approval"]["id"] for d in receiver.deliveries] == [high.id]


async def test_refused_tries_are_retried_until_delivered(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.fail_first = 3
    policy = write_policy(tmp_path / "p.toml", webhook(receiver.url))
    async with Engine.open(home, policy=policy, operator="alice") as engine:
        await pending_after(engine, EMAIL_TASK)
        await receiver.wait_for(lambda r: len(r.deliveries) == 1)
        await _wait(lambda: _statuses(engine), {"sent": 1})
        [sent] = await engine.notifications("sent")
    assert receiver.tries == 4
    assert sent.attempts == 4


async def test_a_receiver_down_for_a_while_loses_nothing(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    """Down while three calls wait (each retried with backoff, far more tries than the
    outage lasts for), then up: every notification arrives."""
    receiver.stop()
    policy = write_policy(tmp_path / "p.toml", webhook(receiver.url, attempts=100))
    async with Engine.open(home, policy=policy, operator="alice") as engine:
        ids = {(await pending_after(engine, EMAIL_TASK)).id for _ in range(3)}
        await _wait(lambda: _min_attempts(engine), 3)  # each refused a few times
        receiver.start()
        await receiver.wait_for(lambda r: len(r.deliveries) >= 3)
        await _wait(lambda: _statuses(engine), {"sent": 3})
    assert {d.body["approval"]["id"] for d in receiver.deliveries} == ids


async def test_after_its_attempts_a_notification_is_dead_and_listed(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.fail_first = 1000
    policy = write_policy(tmp_path / "p.toml", webhook(receiver.url, attempts=3))
    async with Engine.open(home, policy=policy, operator="alice") as engine:
        await pending_after(engine, EMAIL_TASK)
        [dead] = await _wait_dead(engine, 1)
    assert (dead.attempts, dead.last_error) == (3, "HTTP 500 from 127.0.0.1")
    assert receiver.tries == 3
    status = _hitl(home, "notify", "status")
    assert status.returncode == 1
    assert "0 pending, 0 sent, 1 dead" in status.stdout
    assert "ops (webhook) approval_requested" in status.stdout
    assert "HTTP 500 from 127.0.0.1" in status.stdout


async def test_a_missing_secret_says_which_variable(
    home: Home, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HITL_TEST_HOOK_KEY")
    policy = write_policy(tmp_path / "p.toml", webhook(receiver.url, attempts=1))
    async with Engine.open(home, policy=policy, operator="alice") as engine:
        await pending_after(engine, EMAIL_TASK)
        [dead] = await _wait_dead(engine, 1)
    assert dead.last_error == (
        "environment variable HITL_TEST_HOOK_KEY (the webhook's signing key) is not set"
    )
    assert receiver.tries == 0


async def test_a_hung_receiver_never_holds_the_engine_up(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.hang = True
    policy = write_policy(tmp_path / "p.toml", webhook(receiver.url, timeout=30))
    async with Engine.open(home, policy=policy, operator="alice") as engine:
        first = await pending_after(engine, EMAIL_TASK)
        await receiver.wait_for(lambda r: r.tries == 1)  # the delivery is stuck there
        await engine.decide(first.id, Approve())
        await engine.wait(first.thread_id)
        assert (await engine.thread(first.thread_id)).status == "done"
        second = await pending_after(engine, EMAIL_TASK)
        assert second.status == "pending"
        receiver.release()
        await receiver.wait_for(lambda r: len(r.deliveries) == 2)


async def test_an_expired_call_is_told_too(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    policy = write_policy(tmp_path / "p.toml", webhook(receiver.url))
    async with Engine.open(home, policy=policy, operator="alice") as engine:
        approval = await pending_after(engine, EMAIL_TASK)
        await receiver.wait_for(lambda r: len(r.deliveries) == 1)
        _run_sql(home, f"UPDATE hitl_approvals SET expires_at = 1 WHERE id = '{approval.id}'")
        await receiver.wait_for(lambda r: len(r.deliveries) == 2)
    expired = receiver.deliveries[1].body
    assert (expired["event"], expired["approval"]["id"]) == ("expired", approval.id)
    assert expired["approval"]["status"] == "rejected"


async def test_each_notification_is_sent_by_one_process(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    """Two engines on one home, both delivering: every notification arrives once."""
    policy = write_policy(tmp_path / "p.toml", webhook(receiver.url))
    async with (
        Engine.open(home, policy=policy, operator="alice") as one,
        Engine.open(home, policy=policy, operator="bob") as two,
    ):
        for engine in (one, two, one, two, one, two):
            await engine.start(EMAIL_TASK)
        await one.wait()
        await two.wait()
        await receiver.wait_for(lambda r: len(r.deliveries) >= 6)
        await _wait(lambda: _statuses(one), {"sent": 6})
    ids = [d.body["id"] for d in receiver.deliveries]
    assert sorted(ids) == sorted(set(ids)), f"sent twice: {ids}"


def test_a_crash_between_commit_and_send_sends_it_after(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    """The child dies right after the approval (and its notification) is committed;
    the next engine to open the home delivers it."""
    if home.database_url:
        pytest.skip("the crash child runs on the SQLite home")
    home.path.mkdir(parents=True)
    write_policy(home.policy_file, webhook(receiver.url))
    child = Child(home, "start", EMAIL_TASK, env={"HITL_CRASH_AT": "after:approval_requested"})
    assert child.proc.wait(60) == -9
    assert receiver.tries == 0
    [(status,)] = _query(home, "SELECT status FROM hitl_outbox")
    assert status == "pending"

    async def reopen() -> None:
        async with Engine.open(home, operator="alice"):
            await receiver.wait_for(lambda r: len(r.deliveries) == 1)

    asyncio.run(reopen())
    assert receiver.deliveries[0].body["event"] == "approval_requested"


async def test_email_over_starttls_with_a_login(home: Home, tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    mail = MailServer(cert, key)
    mail.start()
    try:
        table = (
            '\n[[notify]]\nname = "mail"\nkind = "email"\non = ["approval_requested"]\n'
            f'smtp_host = "127.0.0.1"\nsmtp_port = {mail.port}\nca_file = "{cert}"\n'
            'username_env = "HITL_TEST_SMTP_USER"\npassword_env = "HITL_TEST_SMTP_PASSWORD"\n'
            'from = "hitl@company.com"\nto = ["ops@company.com", "cfo@company.com"]\n'
            "retry_first = 0.05\nretry_cap = 0.1\n"
        )
        policy = write_policy(tmp_path / "p.toml", table)
        env = {"HITL_TEST_SMTP_USER": mail.user, "HITL_TEST_SMTP_PASSWORD": mail.password}
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            async with Engine.open(home, policy=policy, operator="alice") as engine:
                approval = await pending_after(engine, TRANSFER_TASK)
                await mail.wait_for(1)
    finally:
        mail.stop()
    [message] = mail.messages
    assert mail.logins == ["hitl"]
    assert message["To"] == "ops@company.com, cfo@company.com"
    assert message["Subject"].startswith("[hitl] Approval needed (high): transfer_money")
    text = message.get_payload(decode=True).decode()
    assert "amount: 5000" in text
    assert f"hitl approve {approval.id}" in text


async def _statuses(engine: Engine) -> dict[str, int]:
    return {k: v for k, v in (await engine.notification_counts()).items() if v}


async def _min_attempts(engine: Engine) -> int:
    return min(n.attempts for n in await engine.notifications(None))


async def _wait(probe: Any, expected: Any, within: float = 30) -> None:
    """Until ``await probe()`` reaches ``expected`` (a count: at least it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        got = await probe()
        if got == expected or (isinstance(expected, int) and got >= expected):
            return
        assert loop.time() < deadline, f"still {got!r}, not {expected!r}"
        await asyncio.sleep(0.02)


async def _wait_dead(engine: Engine, count: int) -> list[Any]:
    async def dead() -> int:
        return len(await engine.notifications("dead"))

    await _wait(dead, count)
    return await engine.notifications("dead")


def _run_sql(home: Home, sql: str) -> None:
    from tests.conftest import run_sql

    run_sql(home, sql)


def _query(home: Home, sql: str) -> list[Any]:
    with sqlite3.connect(home.db) as db:
        return db.execute(sql).fetchall()


def _hitl(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("HITL_HOME", "HITL_DATABASE_URL")}
    if home.database_url:
        env["HITL_DATABASE_URL"] = home.database_url
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "--home", str(home.path), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_slack_reads_plainly_and_an_argument_cannot_hide_or_link(
    home: Home, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The message names tool, tier, arguments and the commands; ``<!channel>`` in an
    argument arrives escaped, a right-to-left override shows as ``⟨U+202E⟩``, and a
    long body is cut."""
    monkeypatch.setenv("HITL_TEST_SLACK_URL", receiver.url)
    table = (
        '\n[[notify]]\nname = "team"\nkind = "slack"\nurl_env = "HITL_TEST_SLACK_URL"\n'
        'on = ["approval_requested"]\nretry_first = 0.05\nretry_cap = 0.1\n'
    )
    policy = write_policy(tmp_path / "p.toml", table)
    sneaky = 'email the report to boss@company.com with the subject "Q3 <!channel>\u202eevil"'
    async with Engine.open(home, policy=policy, operator="alice") as engine:
        approval = await pending_after(engine, sneaky)
        await receiver.wait_for(lambda r: len(r.raw_refused) >= 1)
    assert receiver.deliveries == []  # Slack's hooks are not signed: the receiver says 401
    text = json.loads(receiver.raw_refused[0])["text"]
    assert text.splitlines()[0] == (
        f"*Approval needed (medium): send_email in thread {approval.thread_id}*"
    )
    assert "⟨U+202E⟩" in text and "\u202e" not in text
    assert f"`hitl approve {approval.id}`" in text
    assert "  subject: Q3 &lt;!channel&gt;⟨U+202E⟩evil" in text.splitlines()
    assert "<!channel>" not in text


def test_a_failed_thread_names_its_error_and_the_retry() -> None:
    from engine.events import ThreadFailed
    from engine.notify.messages import notification_body, queued_for, text_lines
    from engine.notify.targets import NotifyTarget
    from engine.views import ThreadView

    thread = ThreadView("t1", "pay the bill", "pay", "scripted", "failed", 0, 0, "model down")
    event = ThreadFailed(thread)
    everyone = NotifyTarget("a", "webhook", ("thread_failed",), tiers=("high",))
    nobody = NotifyTarget("b", "webhook", ("approval_requested",))
    [(target, name, approval)] = queued_for(event, [everyone, nobody])
    assert (target.name, name, approval) == ("a", "thread_failed", None)
    lines = text_lines(notification_body(event, name, approval))
    assert lines == [
        "Thread failed: thread t1",
        "Thread: pay the bill",
        "Error: model down",
        "Decide: hitl show t1 · hitl retry t1",
    ]


def test_notify_test_sends_one_to_each_target_and_says_which_failed(
    tmp_path: Path, receiver: Receiver
) -> None:
    home = Home(tmp_path / "home")
    home.path.mkdir()
    closed = free_port()
    mail = (
        '\n[[notify]]\nname = "mail"\nkind = "email"\non = ["expired"]\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = {closed}\nfrom = "hitl@company.com"\n'
        'to = ["ops@company.com"]\ntimeout = 2\n'
    )
    write_policy(home.policy_file, webhook(receiver.url, tiers=["high"]), mail)
    done = _hitl(home, "notify", "test")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == "ok      ops (webhook): delivered"
    assert lines[1].startswith("FAILED  mail (email): SMTP 127.0.0.1: [Errno 111]")
    [delivery] = receiver.deliveries
    assert delivery.signed
    assert (delivery.body["id"], delivery.body["test"]) == (0, True)
    assert delivery.body["approval"]["tier"] == "high"
    assert not home.db.exists(), "a test goes straight to the targets: no outbox, no home"


def test_a_policy_without_targets_says_so(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.path.mkdir()
    write_policy(home.policy_file)
    done = _hitl(home, "notify", "test")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.strip().endswith("configures no notifications ([[notify]] tables)")


def test_a_huge_or_nested_call_makes_a_short_message_and_a_one_line_subject() -> None:
    from engine.notify.messages import MAX_ARGS, headline, text_lines

    nested: Any = "deep"
    for _ in range(200):
        nested = {"x": nested}
    args = {f"arg{i}": "y" * 100_000 for i in range(50)} | {"nested": nested}
    body = {
        "event": "approval_requested",
        "thread_id": "t1",
        "approval": {
            "id": "a1",
            "tool": "send_email\r\nBcc: everyone@example.com",
            "tier": "high",
            "args": args,
            "reason": "r",
            "required": 2,
            "received": 0,
        },
        "commands": ["hitl approve a1"],
    }
    lines = text_lines(body)
    assert len(lines) <= MAX_ARGS + 6
    assert max(len(line) for line in lines) < 300
    assert "\n" not in headline(body) and "\r" not in headline(body)
    assert headline(body).startswith("Approval needed (high): send_email⟨U+000D⟩ Bcc: everyone")


async def test_a_hung_target_holds_up_only_its_own_deliveries(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    stuck = Receiver(SECRET.encode(), hang=True)
    stuck.start()
    try:
        slow = webhook(stuck.url, timeout=60).replace('name = "ops"', 'name = "stuck"')
        policy = write_policy(tmp_path / "p.toml", slow, webhook(receiver.url))
        async with Engine.open(home, policy=policy, operator="alice") as engine:
            await pending_after(engine, EMAIL_TASK)
            await receiver.wait_for(lambda r: len(r.deliveries) == 1, within=20)
            await stuck.wait_for(lambda r: r.tries == 1)
            await pending_after(engine, EMAIL_TASK)
            await receiver.wait_for(lambda r: len(r.deliveries) == 2, within=20)
            await _wait(lambda: _sent_to(engine, "ops"), 2)
            assert stuck.deliveries == []
    finally:
        stuck.stop()


async def _sent_to(engine: Engine, target: str) -> int:
    return sum(1 for n in await engine.notifications("sent") if n.target == target)


def test_a_sender_killed_mid_delivery_is_taken_over_when_its_lease_ends(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    """The child claims the notification and dies while the receiver holds its request;
    the next engine sends it once the claim's lease (twice the timeout) has ended."""
    if home.database_url:
        pytest.skip("the crash child runs on the SQLite home")
    receiver.hang, receiver.fail_first = True, 1  # the child's try never counts
    home.path.mkdir(parents=True)
    write_policy(home.policy_file, webhook(receiver.url))  # timeout 2 s: a 4 s lease
    child = Child(home, "start", EMAIL_TASK)
    asyncio.run(receiver.wait_for(lambda r: r.tries == 1))
    child.kill()
    [(owner, lease_until, version)] = _query(
        home, "SELECT owner, lease_until, version FROM hitl_outbox"
    )
    assert owner is not None and lease_until is not None and version == 1
    receiver.release()

    async def reopen() -> None:
        async with Engine.open(home, operator="alice") as engine:
            await receiver.wait_for(lambda r: len(r.deliveries) == 1)
            await _wait(lambda: _statuses(engine), {"sent": 1})

    asyncio.run(reopen())
    assert receiver.tries == 2


async def test_a_warning_before_expiry_is_told(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    policy_text = DEFAULT_POLICY_TOML.replace(
        '[tiers.medium]\napprovals = 1\nexpires_after = "24h"\nwarn_before = "10m"',
        '[tiers.medium]\napprovals = 1\nexpires_after = "1h"\nwarn_before = "3599s"',
    )
    assert policy_text != DEFAULT_POLICY_TOML
    policy = tmp_path / "p.toml"
    policy.write_text(policy_text + webhook(receiver.url, on=["expiring"]))  # warns at once
    async with Engine.open(home, policy=policy, operator="alice") as engine:
        approval = await pending_after(engine, EMAIL_TASK)
        await receiver.wait_for(lambda r: len(r.deliveries) == 1)
    [warning] = receiver.deliveries
    assert (warning.body["event"], warning.body["approval"]["id"]) == ("expiring", approval.id)
    assert f"hitl approve {approval.id}" in warning.body["commands"]


async def test_an_outcome_unknown_call_is_told_with_its_own_commands(engine: Engine) -> None:
    from dataclasses import replace

    from engine.events import ApprovalRequested
    from engine.notify.messages import notification_body, queued_for
    from engine.notify.targets import NotifyTarget

    approval = await pending_after(engine, EMAIL_TASK)
    unknown = replace(approval, kind="outcome_unknown")
    high_only = NotifyTarget("a", "webhook", ("outcome_unknown",), tiers=("high",))
    assert queued_for(ApprovalRequested(unknown), [high_only]) == [], "this call is medium"
    target = NotifyTarget("a", "webhook", ("outcome_unknown",))
    [(_, name, found)] = queued_for(ApprovalRequested(unknown), [target])
    body = notification_body(ApprovalRequested(unknown), name, found)
    assert body["commands"] == [f"hitl rerun {approval.id}", f"hitl mark-done {approval.id}"]
