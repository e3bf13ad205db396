"""``[[notify]]`` in the policy file: every problem with its line; secrets never in it."""

from __future__ import annotations

import pytest

from engine.errors import PolicyError
from engine.policy_file import DEFAULT_POLICY_TOML, parse_policy
from engine.tools import CATALOGUE

BASE = DEFAULT_POLICY_TOML
FIRST = BASE.count("\n")


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as raised:
        parse_policy(BASE + text, "p.toml", CATALOGUE)
    return [str(p) for p in raised.value.problems]


def test_a_good_target_is_read_whole() -> None:
    policy = parse_policy(
        BASE
        + """
[[notify]]
name = "on-call"
kind = "slack"
url_env = "SLACK_HOOK"
on = ["approval_requested", "expiring"]
tiers = ["high"]
retry_first = "2s"
retry_cap = "5m"
""",
        "p.toml",
        CATALOGUE,
    )
    [target] = policy.notify
    assert (target.name, target.kind, target.url_env) == ("on-call", "slack", "SLACK_HOOK")
    assert target.wants("approval_requested", "high")
    assert not target.wants("approval_requested", "medium")
    assert not target.wants("thread_failed", None)
    assert (target.retry_first, target.retry_cap) == (2.0, 300.0)
    assert policy.digest == parse_policy(BASE, "p.toml", CATALOGUE).digest, (
        "where notifications go changes no verdict: the policy's digest stays"
    )


def test_every_problem_is_named_with_its_line() -> None:
    found = problems(
        """
[[notify]]
kind = "webhook"
on = ["approval_requested", "approved"]
url = "ftp://example.com/x"
colour = "red"

[[notify]]
kind = "email"
on = ["expired"]
smtp_host = "smtp.example.com"
from = "hitl@example.com"
to = ["ops@example.com", "a@b.c, evil@x.y"]
password_env = "SMTP PASSWORD"
starttls = false

[[notify]]
kind = "sms"
on = ["expired"]
"""
    )
    line = FIRST
    assert found == [
        f"p.toml:{line + 6}: notify[0].colour: unknown key for a webhook target "
        "(use name, kind, on, tiers, attempts, retry_first, retry_cap, timeout, url, secret_env)",
        f"p.toml:{line + 4}: notify[0].on: unknown event 'approved' (use approval_requested, "
        "expiring, expired, outcome_unknown, thread_failed)",
        f"p.toml:{line + 5}: notify[0].url: needs an http:// or https:// URL",
        f"p.toml:{line + 2}: notify[0]: a webhook signs every delivery: set secret_env to the "
        "variable holding the key",
        f"p.toml:{line + 14}: notify[1].password_env: must name an environment variable "
        "(letters, digits, _)",
        f"p.toml:{line + 8}: notify[1]: SMTP login needs both username_env and password_env, "
        "or neither",
        f"p.toml:{line + 15}: notify[1].starttls: credentials are never sent without STARTTLS",
        f"p.toml:{line + 13}: notify[1].to: 'a@b.c, evil@x.y' is not an email address",
        f"p.toml:{line + 18}: notify[2].kind: needs a kind: webhook, slack, email (got 'sms')",
    ]


def test_two_targets_of_one_name_are_refused() -> None:
    table = '\n[[notify]]\nname = "ops"\nkind = "slack"\nurl_env = "S"\non = ["expired"]\n'
    [found] = problems(table + table)
    assert found.endswith("notify[1].name: another target is named 'ops'")


def test_notify_must_be_tables() -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy('notify = "everyone"\n' + BASE, "p.toml", CATALOGUE)
    [found] = raised.value.problems
    assert str(found) == "p.toml:1: notify: must be an array of tables ([[notify]])"


def test_the_readme_example_is_a_valid_policy() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### Notifications\n", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    policy = parse_policy(BASE + "\n" + example, "README.md", CATALOGUE)
    assert [t.kind for t in policy.notify] == ["webhook", "slack", "email"]
