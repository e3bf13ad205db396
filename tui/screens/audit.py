"""The audit log: every entry of the home (or of one thread), and whether the chain holds.

The top line is ``verify_audit()``'s answer: intact, with the entry count and the head
hash to note elsewhere, or the first entry that was changed, removed or moved, in red.
``r`` reads both again; ``t`` switches between the thread and the whole home.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label, Static

from engine import HitlError
from tui.calls import reveal
from tui.clock import Clock
from tui.keys import bindings

if TYPE_CHECKING:
    from engine import AuditEntry, Verification


class AuditSource(Protocol):
    """What the screen reads: ``Engine`` and ``Reader`` both answer these."""

    async def audit(self, *, thread: str | None = None) -> list[AuditEntry]: ...

    async def verify_audit(self) -> Verification: ...


DETAIL_WIDTH = 90
COLUMNS = ("seq", "time", "kind", "tool", "operator", "detail")


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

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="audit"):
            yield Label(self._title(), id="title")
            yield Static(Text("verifying the chain…", style="dim"), id="verify")
            yield DataTable(id="entries", cursor_type="row", zebra_stripes=True)
            yield Static("r refresh · t this thread / whole home · escape closes", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#entries", DataTable).add_columns(*COLUMNS)
        self.refresh_entries()

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
            return "Audit log · whole home"
        return f"Audit log · thread “{self.thread[1]}”"

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
        self.entries, self.verification = entries, verification
        self.query_one("#title", Label).update(self._title())
        line = self.query_one("#verify", Static)
        line.update(verification_text(verification, len(entries)))
        line.set_class(not verification.ok, "-broken")
        table = self.query_one("#entries", DataTable)
        table.clear()
        table.add_rows(
            (
                str(e.seq),
                self.clock.time_of(e.at),
                e.kind,
                e.tool or "",
                e.operator or "",
                reveal(entry_detail(e)),
            )
            for e in entries
        )

    def action_refresh(self) -> None:
        self.refresh_entries()

    def action_toggle_scope(self) -> None:
        if self.thread is None:
            self.notify("No thread is selected: the whole home is shown.")
            return
        self.whole_home = not self.whole_home
        self.refresh_entries()

    def action_close(self) -> None:
        self.dismiss(None)
