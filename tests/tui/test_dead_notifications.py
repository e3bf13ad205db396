"""The header counts the notifications nobody could deliver, whichever process gave up."""

from __future__ import annotations

from pathlib import Path

from engine import Home
from engine.engine import Engine
from engine.policy_file import DEFAULT_POLICY_TOML

from .helpers import EMAIL, running_console, wait_until

UNREACHABLE = """
[[notify]]
name = "nobody-home"
kind = "webhook"
url = "http://127.0.0.1:9/hook"
secret_env = "HITL_TEST_UNSET_KEY"
on = ["approval_requested"]
attempts = 1
"""


async def test_the_header_shows_how_many_notifications_are_dead(
    home: Home, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(DEFAULT_POLICY_TOML + UNREACHABLE)
    async with Engine.open(home, policy=policy, operator="alice") as engine:
        async with running_console(engine, outbox_seconds=0.05) as (app, pilot):
            assert "dead notification" not in str(app.header.render())
            for _ in range(2):
                await engine.start(EMAIL)
            await wait_until(
                pilot,
                lambda: "✉ 2 dead notifications" in str(app.header.render()),
                "the header's count of dead notifications",
            )
