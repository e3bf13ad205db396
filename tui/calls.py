"""How a tool call is shown: a per-tool preview, a JSON fallback, hidden characters flagged.

A person approves what they see, so what they see must be the whole truth: every
argument is shown (long ones wrap, never silently cut), and characters that can hide
or reorder text (bidirectional overrides, zero-width spaces) are made visible.
"""

from __future__ import annotations

import io
import json
import unicodedata
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from engine import ApprovalView, hidden_marker, is_hidden

_SHOWN = "\n\t"
"""Control characters a preview lays out rather than flags."""

TIER_STYLE = {"low": "green", "medium": "yellow", "high": "bold red"}


def hidden_characters(value: Any) -> list[str]:
    """Names of characters in ``value`` (any JSON value) that can hide or reorder text."""
    found: dict[str, None] = {}
    for text in _strings(value):
        for char in text:
            if is_hidden(char) and char not in _SHOWN:
                found[f"U+{ord(char):04X} {unicodedata.name(char, 'control character')}"] = None
    return list(found)


def reveal(text: str) -> Text:
    """``text`` with every hidden character replaced by a visible, highlighted marker."""
    out = Text()
    for char in text:
        if is_hidden(char) and char not in _SHOWN:
            out.append(hidden_marker(char), style="reverse red")
        else:
            out.append(char)
    return out


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _value_text(value: Any) -> Text:
    if isinstance(value, str):
        return reveal(value)
    return reveal(json.dumps(value, ensure_ascii=False))


def _money(args: Mapping[str, Any]) -> Text | None:
    amount = args.get("amount")
    if not isinstance(amount, int | float):
        return None
    text = Text()
    text.append(f"{amount:,.2f} {args.get('currency', '')}".strip(), style="bold")
    text.append(" → ")
    text.append_text(_value_text(args.get("to_account", "?")))
    return text


def _order(args: Mapping[str, Any]) -> Text | None:
    quantity, price = args.get("quantity"), args.get("unit_price")
    if not isinstance(quantity, int) or not isinstance(price, int | float):
        return None
    text = Text(f"{quantity} x ", style="bold")
    text.append_text(_value_text(args.get("item", "?")))
    text.append(f" at {price:,.2f} = {quantity * price:,.2f}", style="bold")
    return text


_HEADLINES = {"transfer_money": _money, "create_order": _order}


def call_preview(
    tool: str, args: Mapping[str, Any], original: Mapping[str, Any] | None = None
) -> Group:
    """The call as a renderable: a headline for tools that have one, then every argument.

    Arguments that differ from ``original`` (a person edited them) are marked.
    """
    parts: list[RenderableType] = []
    headline = _HEADLINES.get(tool)
    if headline is not None and (line := headline(args)) is not None:
        parts.append(line)
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in args.items():
        label = Text(name)
        if original is not None and original.get(name) != value:
            label = Text(f"{name}*", style="bold yellow")
        table.add_row(label, _value_text(value))
    if not args:
        table.add_row("", Text("(no arguments)", style="dim"))
    parts.append(table)
    if flagged := hidden_characters(args):
        parts.append(
            Text(
                "⚠ hidden or direction-changing characters in the arguments: " + ", ".join(flagged),
                style="bold red",
            )
        )
    return Group(*parts)


def approval_preview(approval: ApprovalView) -> RenderableType:
    original = approval.original_args if approval.edited else None
    return call_preview(approval.tool, approval.args, original)


DECIDED_GLYPH = {
    "approved": "✓",
    "edited": "✎",
    "rejected": "✗",
    "responded": "↩",
    "answered": "↩",
    "withdrawn": "↷",
}


def who_did_what(approval: ApprovalView) -> str:
    """What each person did to the call, in order: "edited by root · approved by alice"
    (the engine's words, ``ApprovalView.deeds``, which the CLI joins with commas)."""
    return " · ".join(approval.deeds())


def decided_glyph(approval: ApprovalView) -> str:
    """✓ approved, ✎ edited, ✗ rejected, ↩ answered, ⏱ expired (rejected by the clock)."""
    if approval.decided_by == "policy:expiry":
        return "⏱"
    return DECIDED_GLYPH.get(approval.status, "·")


def tier_text(tier: str) -> Text:
    return Text(tier, style=TIER_STYLE.get(tier, ""))


def plain(renderable: RenderableType, width: int = 200) -> str:
    """A renderable as plain text, for tests and for copying."""
    console = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get().rstrip("\n")
