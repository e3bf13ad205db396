"""The policy in force, read-only: where it came from, each tool's tier, each rule, and
what each tier asks of people.

The console only shows the engine's policy; it never decides a tier itself.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from engine import Policy, span
from tui.calls import tier_text


def tools_table(policy: Policy) -> Table:
    table = Table(box=None, padding=(0, 2), show_edge=False)
    table.add_column("tool", style="bold", no_wrap=True)
    table.add_column("tier", no_wrap=True)
    for tool, tier in sorted(policy.tiers.items()):
        table.add_row(tool, tier_text(str(tier)))
    table.add_row(Text("any other", style="dim italic"), tier_text(str(policy.default)))
    return table


def rules_table(policy: Policy) -> Table | Text:
    if not policy.rules:
        return Text("no rules: each call has its tool's tier", style="dim")
    table = Table(box=None, padding=(0, 2), show_edge=False)
    table.add_column("rule", style="bold")
    table.add_column("tool", no_wrap=True)
    table.add_column("when (CEL)", overflow="fold")
    table.add_column("tier", no_wrap=True)
    table.add_column("line", justify="right", style="dim", no_wrap=True)
    for rule in policy.rules:
        table.add_row(
            rule.name,
            rule.tool or Text("any", style="dim italic"),
            rule.when,
            tier_text(str(rule.tier)),
            str(rule.line) if rule.line else "",
        )
    return table


def tiers_table(policy: Policy) -> Table:
    table = Table(box=None, padding=(0, 2), show_edge=False)
    for column in ("tier", "approvals", "four-eyes", "expires after", "warning before"):
        table.add_column(column, no_wrap=True)
    for tier, settings in policy.settings.items():
        table.add_row(
            tier_text(str(tier)),
            "never runs" if str(tier) == "deny" else str(settings.approvals),
            "yes" if settings.distinct_operators else "no",
            span(settings.expires_after) if settings.expires_after else "never",
            span(settings.warn_before) if settings.warn_before else "—",
        )
    return table


class PolicyScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [Binding("escape,q,p", "close", "Close")]

    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.policy = policy

    def compose(self) -> ComposeResult:
        policy = self.policy
        source = Text.assemble(("from ", "dim"), (policy.source, "bold"))
        source.append("\ndefault tier ", style="dim")
        source.append_text(tier_text(str(policy.default)))
        source.append(" (tools not listed below)", style="dim")
        with Vertical(id="dialog", classes="policy"):
            yield Label("Policy in force", id="title")
            with VerticalScroll(id="policy-body"):
                yield Static(source, id="source")
                yield Static("Tools", classes="section")
                yield Static(tools_table(policy), id="tools")
                yield Static("Rules: each can only raise a call's tier", classes="section")
                yield Static(rules_table(policy), id="rules")
                yield Static("What each tier asks", classes="section")
                yield Static(tiers_table(policy), id="tiers")
            yield Static(
                "Read-only. Change the policy file, check it with `hitl policy check`, and "
                "restart. Escape closes.",
                classes="hint",
            )
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
