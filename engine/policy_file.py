"""Reading a TOML policy file, reporting every problem with its line, not just the first.

An invalid policy never half-loads: the engine refuses to start with it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celpy.celparser import CELParseError

from engine.errors import PolicyError
from engine.notify.targets import parse_targets
from engine.policy import DEFAULT_SETTINGS, Policy, Rule, Tier, TierSettings, compile_rule

TIERS = ", ".join(t.value for t in Tier)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

DEFAULT_POLICY_TOML = """\
# hitl policy: which tool calls need a person, and how many.
# Tiers: low (runs at once), medium, high, deny (never runs).
# Check it with `hitl policy check`; try it with `hitl policy explain TOOL --args JSON`.
default_tier = "medium"

[tools]
search = "low"
read_file = "low"
send_email = "medium"
create_order = "medium"
delete_file = "medium"
delete_data = "high"
transfer_money = "high"

# Rules are CEL expressions over `args` (and `tool`); they can only raise a tier.
[[rules]]
name = "large transfer"
tool = "transfer_money"
when = "args.amount > 1000.0"
tier = "high"

[[rules]]
name = "email outside company.com"
tool = "send_email"
when = "!args.to.endsWith('@company.com')"
tier = "high"

[[rules]]
name = "several addresses in to"
tool = "send_email"
when = "args.to.contains(',') || args.to.contains(';')"
tier = "high"

[[rules]]
name = "cc outside company.com"
tool = "send_email"
when = "has(args.cc) && args.cc.exists(a, !a.endsWith('@company.com'))"
tier = "high"

[[rules]]
name = "path escapes the sandbox"
tool = "delete_file"
when = "args.path.startsWith('/') || args.path.contains('..')"
tier = "deny"

[tiers.medium]
approvals = 1
expires_after = "24h"
warn_before = "10m"

[tiers.high]
approvals = 2
distinct_operators = false
expires_after = "24h"
warn_before = "10m"
"""


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    source: str
    line: int
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.where}: {self.message}"


def parse_duration(value: object) -> float:
    """``90``, ``"90s"``, ``"30m"``, ``"24h"``, ``"7d"`` to seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str) and (match := _DURATION.match(value)) and float(match[1]) > 0:
        return float(match[1]) * _UNITS[match[2]]
    raise ValueError(f'{value!r} is not a duration (like 90, "90s", "30m", "24h", "7d")')


class _Locator:
    """Finds the line of a key in a section of the raw text (tomllib keeps none)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def header(self, header: str, occurrence: int = 0) -> int:
        pattern = re.compile(r"^\s*" + re.escape(header) + r"\s*(#.*)?$")
        seen = 0
        for number, line in enumerate(self.lines, 1):
            if pattern.match(line):
                if seen == occurrence:
                    return number
                seen += 1
        return 0

    def key(self, header: str | None, key: str, occurrence: int = 0) -> int:
        start = self.header(header, occurrence) if header else 0
        pattern = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
        for number in range(start + 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if number > start + 1 and header and line.lstrip().startswith("["):
                break
            if not header and line.lstrip().startswith("["):
                break
            if pattern.match(line):
                return number
        return start


def parse_policy(text: str, source: str, known_tools: Collection[str]) -> Policy:
    """The policy ``text`` describes, or PolicyError listing every problem in it."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"line (\d+)", str(error))
        raise PolicyError(
            source, [PolicyProblem(source, int(found[1]) if found else 0, "toml", str(error))]
        ) from None
    at = _Locator(text)
    problems: list[PolicyProblem] = []

    def problem(line: int, where: str, message: str) -> None:
        problems.append(PolicyProblem(source, line, where, message))

    def tier_of(value: object, line: int, where: str) -> Tier | None:
        try:
            return Tier(str(value))
        except ValueError:
            problem(line, where, f"unknown tier {value!r} (use one of {TIERS})")
            return None

    for key in data:
        if key not in ("default_tier", "tools", "rules", "tiers", "notify"):
            problem(
                at.key(None, key),
                key,
                "unknown setting (use default_tier, tools, rules, tiers, notify)",
            )

    default = tier_of(
        data.get("default_tier", "medium"), at.key(None, "default_tier"), "default_tier"
    )

    tiers: dict[str, Tier] = {}
    tools_table = data.get("tools", {})
    if not isinstance(tools_table, Mapping):
        problem(at.key(None, "tools"), "tools", "must be a table of tool = tier")
        tools_table = {}
    for name, value in tools_table.items():
        line = at.key("[tools]", name)
        if name not in known_tools:
            problem(
                line, f"tools.{name}", f"unknown tool (known: {', '.join(sorted(known_tools))})"
            )
        if (tier := tier_of(value, line, f"tools.{name}")) is not None:
            tiers[name] = tier

    rules: list[Rule] = []
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        problem(at.key(None, "rules"), "rules", "must be an array of tables ([[rules]])")
        raw_rules = []
    for index, raw in enumerate(raw_rules):
        where, head = f"rules[{index}]", at.header("[[rules]]", index)
        if not isinstance(raw, Mapping):
            problem(head, where, "must be a table")
            continue
        name = str(raw.get("name") or f"rule {index + 1}")
        for key in raw:
            if key not in ("name", "tool", "when", "tier"):
                problem(at.key("[[rules]]", key, index), f"{where}.{key}", "unknown key")
        tool = raw.get("tool")
        if tool is not None and (not isinstance(tool, str) or tool not in known_tools):
            problem(at.key("[[rules]]", "tool", index), f"{where}.tool", f"unknown tool {tool!r}")
        tier = None
        if "tier" in raw:
            tier = tier_of(raw["tier"], at.key("[[rules]]", "tier", index), f"{where}.tier")
        else:
            problem(head, where, f"needs a tier ({TIERS})")
        when = raw.get("when")
        when_line = at.key("[[rules]]", "when", index)
        if not isinstance(when, str) or not when.strip():
            problem(head if when is None else when_line, where, "needs a `when` CEL expression")
            continue
        try:
            rule = compile_rule(name, when, tier or Tier.HIGH, tool, when_line)
        except CELParseError as error:
            first = str(error).splitlines()[0] if str(error) else "syntax error"
            problem(when_line, f"{where}.when", f"not a valid CEL expression: {first}")
            continue
        if tier is not None:
            rules.append(rule)

    settings = dict(DEFAULT_SETTINGS)
    tiers_table = data.get("tiers", {})
    if not isinstance(tiers_table, Mapping):
        problem(at.key(None, "tiers"), "tiers", "must be a table of [tiers.NAME] sections")
        tiers_table = {}
    for tier_name, raw in tiers_table.items():
        section = f"[tiers.{tier_name}]"
        tier = tier_of(tier_name, at.header(section), f"tiers.{tier_name}")
        if tier is None:
            continue
        if not isinstance(raw, Mapping):
            problem(
                at.header(section) or at.key("[tiers]", tier_name),
                f"tiers.{tier_name}",
                "must be a table (approvals, distinct_operators, expires_after, warn_before)",
            )
            continue
        values: dict[str, Any] = {
            "approvals": settings[tier].approvals,
            "distinct_operators": settings[tier].distinct_operators,
        }
        for key, value in raw.items():
            line, where = at.key(section, key), f"tiers.{tier_name}.{key}"
            if tier is Tier.DENY:
                problem(line, where, "a deny tier never runs; it has no settings")
            elif key == "approvals":
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
                    problem(line, where, "must be a whole number from 0 to 10")
                else:
                    values[key] = value
            elif key == "distinct_operators":
                if not isinstance(value, bool):
                    problem(line, where, "must be true or false")
                else:
                    values[key] = value
            elif key in ("expires_after", "warn_before"):
                try:
                    values[key] = parse_duration(value)
                except ValueError as error:
                    problem(line, where, str(error))
            else:
                problem(
                    line,
                    where,
                    "unknown key (approvals, distinct_operators, expires_after, warn_before)",
                )
        settings[tier] = TierSettings(**values)

    targets = parse_targets(
        data.get("notify", []),
        lambda key, index: (
            at.key("[[notify]]", key, index) if key else at.header("[[notify]]", index)
        )
        or at.key(None, "notify"),
        problem,
    )

    if problems:
        raise PolicyError(source, problems)
    return Policy(
        tiers=tiers,
        default=default or Tier.MEDIUM,
        rules=tuple(rules),
        settings=settings,
        source=source,
        text=text,
        notify=targets,
    )


def load_policy(path: Path, known_tools: Collection[str]) -> Policy:
    if path.exists() and not path.is_file():  # a FIFO would block the read forever
        raise PolicyError(str(path), [PolicyProblem(str(path), 0, "file", "not a regular file")])
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise PolicyError(
            str(path), [PolicyProblem(str(path), 0, "file", error.strerror or str(error))]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise PolicyError(
            str(path),
            [PolicyProblem(str(path), line, "file", f"not UTF-8 text (byte {error.start})")],
        ) from None
    return parse_policy(text, str(path), known_tools)
