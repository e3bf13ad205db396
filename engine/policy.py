"""Risk tiers, and the rules that give each tool call its tier.

The policy is the only place that decides how risky a call is; the gate asks it,
widgets and the CLI only show its answer. Rules are CEL expressions over the call's
``args`` (and ``tool``); they can only raise a call's tier above its tool's tier, never
lower it, so a rule that is forgotten or wrong fails towards asking a person.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.notify.targets import NotifyTarget


def looks_like(name: str) -> str:
    """The name a person reads: compatibility forms folded (NFKC), hidden characters
    dropped, spaces trimmed, case and the commonest look-alike letters folded."""
    from engine.hidden import is_hidden, read_as_latin

    folded = unicodedata.normalize("NFKC", name)
    shown = "".join(c for c in folded if not is_hidden(c)).strip()
    return read_as_latin(shown.casefold())


class Tier(StrEnum):
    """How much human attention a tool call needs before it runs."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    DENY = "deny"

    @property
    def severity(self) -> int:
        return list(Tier).index(self)


@dataclass(frozen=True, slots=True)
class TierSettings:
    """What a tier asks of people: how many approvals, from whom, and for how long."""

    approvals: int
    distinct_operators: bool = False
    expires_after: float | None = None
    """Seconds a pending approval may wait before it is rejected automatically."""
    warn_before: float | None = None
    """Seconds before expiry at which a warning is raised."""


DEFAULT_SETTINGS: Mapping[Tier, TierSettings] = {
    Tier.LOW: TierSettings(approvals=0),
    Tier.MEDIUM: TierSettings(approvals=1),
    Tier.HIGH: TierSettings(approvals=2),
    Tier.DENY: TierSettings(approvals=0),
}


@dataclass(frozen=True, slots=True)
class Rule:
    """``tier`` applies to calls of ``tool`` (or any tool, when None) for which ``when`` holds."""

    name: str
    when: str
    tier: Tier
    tool: str | None = None
    line: int = 0
    _program: Any = field(default=None, compare=False, repr=False)

    def matches(self, tool: str, args: Mapping[str, Any]) -> tuple[bool, str | None]:
        """(matched, problem). A rule that cannot be evaluated counts as matching:
        when in doubt, ask a person (or deny)."""
        if self.tool is not None and self.tool != tool:
            return False, None
        from celpy import celtypes
        from celpy.adapter import json_to_cel

        try:
            result = self._program.evaluate(
                {"args": json_to_cel(dict(args)), "tool": celtypes.StringType(tool)}
            )
        except Exception as error:
            return True, f"rule {self.name!r} could not be evaluated ({error}); treated as matching"
        if isinstance(result, Exception):
            return (
                True,
                f"rule {self.name!r} could not be evaluated ({result}); treated as matching",
            )
        return bool(result), None


def compile_rule(name: str, when: str, tier: Tier, tool: str | None, line: int = 0) -> Rule:
    """Raises celpy.CELParseError for an expression that does not parse. (celpy is
    imported here: a listing that never reads the policy should not pay for it.)"""
    import celpy

    environment = celpy.Environment()
    program = environment.program(environment.compile(when))
    return Rule(name=name, when=when, tier=tier, tool=tool, line=line, _program=program)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's answer for one call: its tier, what that tier asks, and why."""

    tier: Tier
    settings: TierSettings
    reason: str
    rules: tuple[str, ...] = ()

    @property
    def approvals_required(self) -> int:
        return self.settings.approvals if self.tier is not Tier.DENY else 0

    @property
    def gated(self) -> bool:
        return self.approvals_required > 0

    @property
    def denied(self) -> bool:
        return self.tier is Tier.DENY

    def stricter(self, other: Verdict) -> Verdict:
        """Whichever asks more, field by field: the higher tier (and its reason), more
        approvals, four-eyes if either wants it, the sooner expiry, every rule matched."""
        lead = other if other.tier.severity > self.tier.severity else self
        a, b = self.settings, other.settings
        expiries = [x for x in (a.expires_after, b.expires_after) if x]
        warnings = [x for x in (a.warn_before, b.warn_before) if x]
        settings = TierSettings(
            approvals=max(a.approvals, b.approvals),
            distinct_operators=a.distinct_operators or b.distinct_operators,
            expires_after=min(expiries) if expiries else None,
            warn_before=max(warnings) if warnings else None,
        )
        rules = tuple(dict.fromkeys((*self.rules, *other.rules)))
        return Verdict(lead.tier, settings, lead.reason, rules)


@dataclass(frozen=True, slots=True)
class Policy:
    """Tool tiers, rules over arguments, per-tier settings; where it came from."""

    tiers: Mapping[str, Tier] = field(default_factory=dict)
    default: Tier = Tier.MEDIUM
    rules: Sequence[Rule] = ()
    settings: Mapping[Tier, TierSettings] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    source: str = "built-in default policy"
    text: str = ""
    notify: Sequence[NotifyTarget] = ()
    """Who is told when a decision waits (``[[notify]]``). Not part of ``canonical``: it
    changes nothing a call is judged by."""

    def verdict(self, tool: str, args: Mapping[str, Any] | None = None) -> Verdict:
        """The tier of calling ``tool`` with ``args``: the most severe of the tool's tier
        and every matching rule's. A name that only looks like another (hidden or
        look-alike characters, spacing, case: a graph names its own tools) is judged as
        that one too, and the stricter verdict stands."""
        verdict = self._verdict(tool, args)
        alike = looks_like(tool)
        if alike == tool:
            return verdict
        other = self._verdict(alike, args)
        if other.tier.severity <= verdict.tier.severity:
            return verdict.stricter(other)
        judged = verdict.stricter(other)
        return replace(judged, reason=f"{judged.reason} (the name {tool!r} reads as {alike!r})")

    def _verdict(self, tool: str, args: Mapping[str, Any] | None) -> Verdict:
        if tool in self.tiers:
            tier, reason = self.tiers[tool], f"tool {tool} is {self.tiers[tool]}"
        else:
            tier, reason = self.default, f"{tool} is not listed: default tier {self.default}"
        matched: list[str] = []
        notes: list[str] = []
        by_rule = False
        for rule in self.rules:
            hit, problem = rule.matches(tool, args or {})
            if problem:
                notes.append(problem)
            if not hit:
                continue
            matched.append(rule.name)
            severity = rule.tier.severity
            if severity > tier.severity or (severity == tier.severity and not by_rule):
                tier, reason, by_rule = rule.tier, f"rule {rule.name!r}: {rule.when}", True
        if notes:
            reason += " (" + "; ".join(notes) + ")"
        return Verdict(tier, self.settings[tier], reason, tuple(matched))

    def canonical(self) -> str:
        """What the policy says, as canonical JSON: its digest is taken of this, and a
        policy once in force can be rebuilt from it (to judge an edit of a call that was
        requested under it). Comments and layout of the file do not count."""
        return json.dumps(
            {
                "default": self.default.value,
                "tiers": {name: tier.value for name, tier in self.tiers.items()},
                "rules": [
                    {"name": r.name, "when": r.when, "tier": r.tier.value, "tool": r.tool}
                    for r in self.rules
                ],
                "settings": {
                    tier.value: {
                        "approvals": t.approvals,
                        "distinct_operators": t.distinct_operators,
                        "expires_after": t.expires_after,
                        "warn_before": t.warn_before,
                    }
                    for tier, t in self.settings.items()
                },
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @property
    def digest(self) -> str:
        """Identifies what the policy says: recorded with every call it judged."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()

    @classmethod
    def from_canonical(cls, body: str, source: str) -> Policy:
        data = json.loads(body)
        rules = tuple(
            compile_rule(r["name"], r["when"], Tier(r["tier"]), r["tool"]) for r in data["rules"]
        )
        settings = {Tier(t): TierSettings(**v) for t, v in data["settings"].items()}
        tiers = {name: Tier(t) for name, t in data["tiers"].items()}
        return cls(tiers, Tier(data["default"]), rules, settings, source)

    @classmethod
    def from_mapping(cls, tiers: Mapping[str, str], default: str = "medium") -> Policy:
        return cls({name: Tier(t) for name, t in tiers.items()}, Tier(default))
