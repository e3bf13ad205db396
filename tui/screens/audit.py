"""The audit log: every entry of the home (or of one thread), and whether the chain holds.

The top line is ``verify_audit()``'s answer: intact, with the entry count and the head
hash to note elsewhere, or the first entry that was changed, removed or moved, in red.
Newest first, the table focused; ``enter`` shows one entry whole (an edit's diff, every
argument), ``/`` filters, ``r`` reads both again, ``t`` switches between the thread and
the whole home.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Label, Static

from engine import HitlError
from tui.calls import reveal
from tui.clock import Clock
from tui.keys import bindings
from tui.screens.edit import args_diff

if TYPE_CHECKING:
    from engine import AuditEntry, Verification


class AuditSource(Protocol):
    """What the screen reads: ``Engine`` and ``Reader`` both answer these."""

    async def audit(self, *, thread: str | None = None) -> list[AuditEntry]: ...

    async def verify_audit(self) -> Verification: ...


DETAIL_WIDTH = 90
COLUMNS = ("seq", "time", "kind", "thread", "tool", "operator", "detail")


def entry_detail(entry: AuditEntry) -> str:
    """One short line saying what the entry records, beyond its columns."""
    body: dict[str, Any] = entry.body
    if entry.kind == "policy_in_force":
        detail = f"{body.get('source', '?')} · digest {str(body.get('digest', ''))[:12]}"
    elif entry.kind in ("approval_requested", "outcome_unknown"):
        detail = f"{body.get('tier', '?')}, needs {body.get('required', '?')}"
        if body.get("reason"):
            detail += f" · {body['reason']}"
    elif entry.kind in ("decision", "outcome_resolved", "expired"):
        detail = f"{body.get('decision', '?')} → {body.get('status', '?')}"
        detail += f" · {body.get('approvals', '')}"
        if body.get("edited"):
            detail += " · edited: " + json.dumps(body.get("args"), ensure_ascii=False)
        if body.get("reason"):
            detail += f" · “{body['reason']}”"
    elif entry.kind == "tool_executed":
        detail = ("ok" if body.get("ok") else "failed") + f" · {body.get('result', '')}"
    elif entry.kind == "call_denied":
        detail = f"{body.get('reason', '')} · " + json.dumps(body.get("args"), ensure_ascii=False)
    else:
        detail = json.dumps(body, ensure_ascii=False, default=str)
    detail = " ".join(detail.split())
    return detail if len(detail) <= DETAIL_WIDTH else detail[: DETAIL_WIDTH - 1] + "…"


def verification_text(verification: Verification, shown: int) -> Text:
    if not verification.ok:
        return Text(f"✗ audit chain broken: {verification.problem}", style="bold red")
    return Text.assemble(
        ("✓ intact", "bold green"),
        f" · {verification.entries} entries in the chain · head {verification.head[:16]}…",
        (f" · {shown} shown", "dim"),
    )


class AuditTable(DataTable[str | Text]):
    """The entries, moved through with the keys every list of the console uses."""

    BINDINGS: ClassVar = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=max(0, self.row_count - 1))


def entry_row(entry: AuditEntry, clock: Clock) -> tuple[str | Text, ...]:
    return (
        str(entry.seq),
        clock.time_of(entry.at),
        entry.kind,
        (entry.thread_id or "")[:8],
        entry.tool or "",
        entry.operator or "",
        reveal(entry_detail(entry)),
    )


class AuditScreen(ModalScreen[None]):
    BINDINGS: ClassVar = bindings("audit")

    def __init__(
        self,
        source: AuditSource,
        clock: Clock,
        *,
        thread: tuple[str, str] | None = None,
        whole_home: bool = False,
    ) -> None:
        """``thread``: (id, title) of the selected thread, which ``t`` switches to;
        ``whole_home``: start with every entry rather than that thread's."""
        super().__init__()
        self.source = source
        self.clock = clock
        self.thread = thread
        self.whole_home = whole_home or thread is None
        self.verification: Verification | None = None
        self.entries: list[AuditEntry] = []
        """Newest first, as shown (before the filter)."""
        self.shown: list[AuditEntry] = []
        """The entries the table holds, in its order."""
        self.text_filter = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="audit"):
            yield Label(self._title(), id="title")
            yield Static(Text("verifying the chain…", style="dim"), id="verify")
            yield Input(placeholder="filter: words every shown entry contains", id="filter")
            yield AuditTable(id="entries", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.table.add_columns(*COLUMNS)
        self.table.focus()
        self.refresh_entries()

    @property
    def table(self) -> AuditTable:
        return self.query_one("#entries", AuditTable)

    @property
    def verify_line(self) -> str:
        """The verification line as plain text (for tests)."""
        return str(self.query_one("#verify", Static).content)

    @property
    def thread_id(self) -> str | None:
        """The thread whose entries are shown; None when the whole home's are."""
        return None if self.whole_home or self.thread is None else self.thread[0]

    def _title(self) -> str:
        if self.whole_home or self.thread is None:
            return "Audit log · whole home · newest first"
        return f"Audit log · thread “{self.thread[1]}” · newest first"

    @work(exclusive=True, group="audit", exit_on_error=False)
    async def refresh_entries(self) -> None:
        """Reads the entries and verifies the whole chain again."""
        try:
            entries = await self.source.audit(thread=self.thread_id)
            verification = await self.source.verify_audit()
        except Exception as error:
            message = str(error) if isinstance(error, HitlError) else repr(error)
            self.notify(message, title="audit", severity="error")
            return
        self.entries, self.verification = entries[::-1], verification
        self.query_one("#title", Label).update(self._title())
        self._fill()

    def _fill(self) -> None:
        """The table: the entries the filter keeps, newest first."""
        words = self.text_filter.lower().split()
        rows = [(e, entry_row(e, self.clock)) for e in self.entries]
        kept = [(e, r) for e, r in rows if all(w in " ".join(map(str, r)).lower() for w in words)]
        self.shown = [e for e, _ in kept]
        assert self.verification is not None or not self.entries
        if self.verification is not None:
            line = self.query_one("#verify", Static)
            line.update(verification_text(self.verification, len(kept)))
            line.set_class(not self.verification.ok, "-broken")
        table = self.table
        table.clear()
        table.add_rows(r for _, r in kept)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.text_filter = event.value
        self._fill()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.shown):
            entry = self.shown[event.cursor_row]
            self.app.push_screen(AuditEntryScreen(entry, self._asked(entry), self.clock))

    def _asked(self, entry: AuditEntry) -> AuditEntry | None:
        """The request an entry decided (for an edit's diff against what was asked)."""
        if entry.approval_id is None:
            return None
        return next(
            (
                e
                for e in self.entries
                if e.approval_id == entry.approval_id and e.kind == "approval_requested"
            ),
            None,
        )

    def action_filter_entries(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_refresh(self) -> None:
        self.refresh_entries()

    def action_toggle_scope(self) -> None:
        if self.thread is None:
            self.notify("No thread is selected: the whole home is shown.")
            return
        self.whole_home = not self.whole_home
        self.refresh_entries()

    def action_close(self) -> None:
        if self.text_filter:  # escape clears the filter first
            self.query_one("#filter", Input).value = ""
            self.text_filter = ""
            self._fill()
            self.table.focus()
            return
        self.dismiss(None)


class AuditEntryScreen(ModalScreen[None]):
    """One audit entry whole: who, when, what; an edit's diff; every field it holds."""

    BINDINGS: ClassVar = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, entry: AuditEntry, asked: AuditEntry | None, clock: Clock) -> None:
        super().__init__()
        self.entry, self.asked, self.clock = entry, asked, clock

    def compose(self) -> ComposeResult:
        e = self.entry
        with Vertical(id="dialog", classes="audit-entry"):
            yield Label(Text(f"Audit entry {e.seq} · {e.kind}", style="bold"), id="title")
            with VerticalScroll(id="entry-body"):
                yield Static(self._head(), id="entry-head")
                if diff := self._diff():
                    yield Static(diff, id="entry-diff")
                yield Static(
                    reveal(json.dumps(e.body, ensure_ascii=False, indent=2, default=str)),
                    id="entry-json",
                )
        yield Footer()

    def _head(self) -> Text:
        e = self.entry
        lines = [
            ("time", f"{self.clock.time_of(e.at)}"),
            ("thread", e.thread_id or "—"),
            ("approval", e.approval_id or "—"),
            ("tool", e.tool or "—"),
            ("operator", e.operator or "—"),
            ("hash", f"{e.hash[:16]}… (previous {e.prev_hash[:16]}…)"),
        ]
        text = Text()
        for label, value in lines:
            text.append(f"{label:<9}", style="dim")
            text.append(f"{reveal(value)}\n")
        text.rstrip()
        return text

    def _diff(self) -> Text | None:
        """What an edit changed: against the original arguments it records, else the
        arguments the call was requested with."""
        body = self.entry.body
        if not body.get("edited"):
            return None
        original = body.get("original_args")
        if not isinstance(original, dict) and self.asked is not None:
            original = self.asked.body.get("args")
        edited = body.get("args")
        if not isinstance(original, dict) or not isinstance(edited, dict):
            return None
        return Text.assemble(("the edit\n", "bold"), args_diff(original, edited))

    @property
    def text(self) -> str:
        """Everything the screen shows, as plain text (for tests)."""
        return "\n".join(str(s.render()) for s in self.query(Static))

    def action_close(self) -> None:
        self.dismiss(None)
