"""One table of keys: action -> key -> description.

The footer (through each widget's BINDINGS), the help screen and the command palette
all read this table, so a key is named and described in exactly one place.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from textual.binding import Binding, BindingType

Scope = Literal["app", "threads", "approvals", "rows", "audit", "modal"]
"""Where a key works: app-wide, on the focused thread list or approval list, on any list,
on the audit screen."""


class KeySpec(NamedTuple):
    action: str
    key: str
    description: str
    scope: Scope
    show: bool = True
    palette: bool = True
    """Offer it in the command palette (actions that need no row under the cursor)."""
    title: str | None = None
    """Its title in the palette, "noun: verb"; None makes it "action: <description>"."""


KEYS: tuple[KeySpec, ...] = (
    KeySpec("new_thread", "n", "New thread", "app"),
    KeySpec("toggle_grid", "g", "Grid", "app"),
    KeySpec("filter", "slash", "Filter", "app"),
    KeySpec("show_policy", "p", "Policy", "app", title="policy: show"),
    KeySpec("show_audit", "A", "Audit", "app", title="audit: whole home"),
    KeySpec(
        "zoom", "z", "Zoom", "app", show=False, title="view: zoom the focused panel (again: back)"
    ),
    KeySpec(
        "view_thread",
        "v",
        "Thread view",
        "app",
        show=False,
        title="view: the thread in the pane, full screen (search, pager)",
    ),
    KeySpec("help", "question_mark", "Help", "app"),
    KeySpec("quit", "q", "Quit", "app"),
    KeySpec(
        "next_waiting", "w", "Next call", "app", show=False, title="approvals: next waiting call"
    ),
    KeySpec(
        "next_high",
        "W",
        "Next high-risk",
        "app",
        show=False,
        title="approvals: next high-risk call",
    ),
    KeySpec("approve", "a", "Approve", "approvals", title="approve: the call under the cursor"),
    KeySpec("reject", "r", "Reject", "approvals", title="reject: the call under the cursor"),
    KeySpec("edit", "e", "Edit", "approvals", title="edit: the call under the cursor"),
    KeySpec("respond", "s", "Respond", "approvals", title="respond: the call under the cursor"),
    KeySpec(
        "edit_outside",
        "E",
        "Edit in $EDITOR",
        "approvals",
        show=False,
        title="edit: the call under the cursor, in $EDITOR",
    ),
    KeySpec(
        "toggle_mark", "space", "Mark", "approvals", title="marks: mark the call under the cursor"
    ),
    KeySpec(
        "mark_range",
        "shift+space,V",
        "Mark range",
        "approvals",
        show=False,
        title="marks: mark from the last marked call to the cursor",
    ),
    KeySpec(
        "mark_shown",
        "asterisk",
        "Mark all",
        "approvals",
        show=False,
        title="marks: mark every call shown (all the filter matches)",
    ),
    KeySpec(
        "approve_marked",
        "ctrl+a",
        "Approve marked",
        "approvals",
        show=False,  # the list's title names it while something is marked
        title="approve: the marked calls",
    ),
    KeySpec(
        "reject_marked",
        "ctrl+r",
        "Reject marked",
        "approvals",
        show=False,
        title="reject: the marked calls",
    ),
    KeySpec(
        "clear_marks",
        "escape",
        "Unmark / clear filter",
        "approvals",
        show=False,
        title="marks: clear the marks (then the approvals filter)",
    ),
    KeySpec("filter_queue", "slash", "Filter", "approvals", title="approvals: filter"),
    KeySpec(
        "cycle_order",
        "o",
        "Oldest / expiring first",
        "approvals",
        show=False,
        title="approvals: oldest or expiring first",
    ),
    KeySpec("copy_id", "y", "Copy id", "approvals", show=False, title="copy: the id of the call"),
    KeySpec(
        "copy_args",
        "Y",
        "Copy arguments",
        "approvals",
        show=False,
        title="copy: the arguments of the call (JSON)",
    ),
    KeySpec("cycle_status", "f", "Status filter", "threads"),
    KeySpec("retry", "R", "Retry failed", "threads", palette=False),
    KeySpec("audit_thread", "u", "Audit thread", "threads", palette=False),
    KeySpec("clear_filter", "escape", "Clear filter", "threads", show=False),
    KeySpec("refresh", "r,f5", "Refresh", "audit"),
    KeySpec("toggle_scope", "t", "This thread / whole home", "audit"),
    KeySpec("filter_entries", "slash", "Filter", "audit"),
    KeySpec("close", "escape", "Close", "audit"),
    KeySpec("cursor_down", "down,j", "Down", "rows", show=False, palette=False),
    KeySpec("cursor_up", "up,k", "Up", "rows", show=False, palette=False),
    KeySpec("first", "home", "First", "rows", show=False, palette=False),
    KeySpec("last", "end", "Last", "rows", show=False, palette=False),
    KeySpec("page_down", "pagedown", "Page down", "rows", show=False, palette=False),
    KeySpec("page_up", "pageup", "Page up", "rows", show=False, palette=False),
)

EXTRA_HELP: tuple[tuple[str, str], ...] = (
    ("tab / shift+tab", "Move between the thread list, the thread pane and the approvals"),
    ("ctrl+p", "Command palette: every action, and jump to a thread or approval by name"),
    ("ctrl+s", "In the editor: submit the edit (when valid, and the policy allows it)"),
    ("ctrl+o", "In the editor: open the text in $VISUAL / $EDITOR, and back here"),
    ("escape", "Close a dialog without doing anything"),
    ("enter", "In the audit log: the entry under the cursor, whole (an edit's diff)"),
)


def bindings(scope: Scope) -> list[BindingType]:
    """The Textual bindings of one scope, for a widget's or the app's BINDINGS."""
    return [
        Binding(spec.key, spec.action, spec.description, show=spec.show)
        for spec in KEYS
        if spec.scope == scope
    ]


def key_of(action: str) -> str:
    """The key(s) shown for an action, as a person would type them."""
    for spec in KEYS:
        if spec.action == action:
            return display_key(spec.key)
    raise KeyError(action)


def display_key(key: str) -> str:
    names = {"slash": "/", "question_mark": "?", "escape": "esc", "asterisk": "*"}
    return " / ".join(names.get(k, k) for k in key.split(","))
