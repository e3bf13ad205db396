"""Edit a call's arguments: validated as you type, a diff against the original, what the
policy would ask of the edited call, and no way to submit while the arguments are invalid
or the policy would refuse them.

The screen asks ``judge`` (the engine's ``edit_verdict`` for this approval, handed in by
the decision flow) rather than the policy itself: the engine is the one place that decides
how risky a call is, and it judges the edit again when it is submitted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static

from engine import ApprovalView, HitlError, InvalidArguments, Verdict
from tui.calls import tier_text
from tui.widgets.json_editor import JsonEditor

Judge = Callable[[dict[str, Any]], Awaitable[Verdict]]
"""What the policy would ask of the call with these arguments (``Engine.edit_verdict``)."""


def args_diff(original: dict[str, Any], edited: dict[str, Any]) -> Text:
    """Field by field: what the edit removes (-) and adds (+)."""
    text = Text()
    for key in [*original, *(k for k in edited if k not in original)]:
        before, after = original.get(key, ...), edited.get(key, ...)
        if before == after:
            continue
        if before is not ...:
            text.append(f"- {key}: {json.dumps(before, ensure_ascii=False)}\n", style="red")
        if after is not ...:
            text.append(f"+ {key}: {json.dumps(after, ensure_ascii=False)}\n", style="green")
    text.rstrip()
    return text if text.plain else Text("no changes from the original call", style="dim")


def verdict_text(verdict: Verdict, current_tier: str) -> Text:
    """What submitting the edit would lead to, and why, in the policy's words."""
    if verdict.denied:
        return Text.assemble(
            ("⊘ the policy denies this edit: ", "bold red"),
            (verdict.reason, "red"),
            ("\nit cannot be submitted; change the arguments", "red"),
        )
    tier = str(verdict.tier)
    text = Text.assemble(tier_text(tier))
    if tier != current_tier:
        text.append(f" (now {current_tier})", style="dim")
    needed = verdict.approvals_required
    if needed <= 1:
        text.append(" · your edit approves it: it runs when you submit")
    else:
        text.append(f" · needs {needed} approvals: your edit is the first")
        if verdict.settings.distinct_operators:
            text.append(", each further one from another operator", style="bold")
    text.append("\n")
    text.append("rules: ", style="dim")
    text.append(", ".join(verdict.rules) if verdict.rules else "none match", style="bold")
    text.append("\n")
    text.append("why: ", style="dim")
    text.append(verdict.reason)
    return text


class EditScreen(ModalScreen[dict[str, Any] | None]):
    """Dismisses with the edited arguments, or None when cancelled."""

    BINDINGS: ClassVar = [
        Binding("ctrl+s", "submit", "Submit edit", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
        Binding("ctrl+o", "outside", "In $EDITOR", priority=True),
    ]

    def __init__(
        self,
        approval: ApprovalView,
        *,
        judge: Judge | None = None,
        debounce_seconds: float = 0.15,
        cursor_blink: bool = True,
        text: str | None = None,
        outside: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.approval = approval
        self.text = text
        """The text to open with (from the person's own editor), else the arguments."""
        self.outside = outside
        """Opens the text in the person's own editor (``tui.external_editor``)."""
        self.judge = judge
        self.debounce_seconds = debounce_seconds
        self.cursor_blink = cursor_blink
        self.verdict: Verdict | None = None
        """The policy's answer for :attr:`judged_args` (None until the engine answered)."""
        self.judged_args: dict[str, Any] | None = None
        self.refusal: str | None = None
        """Why the engine would refuse :attr:`judged_args` (denied, or invalid), or None."""

    def compose(self) -> ComposeResult:
        a = self.approval
        with Vertical(id="dialog", classes="edit"):
            yield Label(
                Text.assemble(("Edit ", "bold"), (a.tool, "bold"), " · ", tier_text(a.tier)),
                id="title",
            )
            if self.text is not None:
                yield Label(
                    "From your editor: nothing is sent until you submit.", id="from-outside"
                )
            yield JsonEditor(
                a.args, a.args_schema, cursor_blink=self.cursor_blink, text=self.text, id="editor"
            )
            yield Label("Changes from the original call", classes="section")
            yield Static(args_diff(a.original_args, a.args), id="diff")
            if self.judge is not None:
                yield Label("If you submit it", classes="section")
                yield Static(Text("asking the policy…", style="dim"), id="verdict")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Submit edit (ctrl+s)", id="submit", variant="warning")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(JsonEditor).text_area.focus()

    @property
    def _refused(self) -> bool:
        """The engine's last answer was for the arguments in the editor, and it was no."""
        editor = self.query_one(JsonEditor)
        return self.refusal is not None and editor.value == self.judged_args

    def on_json_editor_validated(self, event: JsonEditor.Validated) -> None:
        if event.value is not None:
            self.query_one("#diff", Static).update(
                args_diff(self.approval.original_args, event.value)
            )
        if self.judge is not None:
            verdict = self.query_one("#verdict", Static)
            if event.value is None:
                verdict.update(Text("fix the arguments to see what the policy says", style="dim"))
            stale = event.value is not None and event.value != self.judged_args
            verdict.set_class(stale, "-stale")  # an older answer, while the new one comes
            if event.value is not None and event.value != self.judged_args:
                self._ask_policy(event.value)
        self._update_submit()

    def _update_submit(self) -> None:
        editor = self.query_one(JsonEditor)
        self.query_one("#submit", Button).disabled = editor.value is None or self._refused

    @work(exclusive=True, group="edit-verdict", exit_on_error=False)
    async def _ask_policy(self, args: dict[str, Any]) -> None:
        """Asks once typing pauses; newer text cancels the wait (the worker is exclusive),
        never an engine call under way: that one finishes and its answer is dropped."""
        assert self.judge is not None
        await asyncio.sleep(self.debounce_seconds)
        asking = asyncio.ensure_future(self.judge(args))
        asking.add_done_callback(lambda done: done.cancelled() or done.exception())
        refusal: str | None = None
        try:
            verdict: Verdict | None = await asyncio.shield(asking)
        except InvalidArguments as error:
            verdict, refusal = None, str(error)
            shown = Text(f"✗ {error}", style="bold red")
        except HitlError as error:  # e.g. decided meanwhile: submitting will say so too
            verdict, shown = None, Text(str(error), style="yellow")
        except Exception as error:  # the preview must never take the editor down
            verdict = None
            shown = Text(f"the policy could not be asked: {error}", style="yellow")
        else:
            assert verdict is not None
            if verdict.denied:
                refusal = f"the policy denies this edit: {verdict.reason}"
            shown = verdict_text(verdict, self.approval.tier)
        if self.query_one(JsonEditor).value != args:
            return  # the text changed meanwhile and is not valid now: nothing to judge
        self.verdict, self.judged_args, self.refusal = verdict, args, refusal
        box = self.query_one("#verdict", Static)
        box.update(shown)
        box.set_class(refusal is not None, "-denied")
        box.set_class(False, "-stale")
        self._update_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.action_cancel()

    def action_submit(self) -> None:
        editor = self.query_one(JsonEditor)
        if editor.value is None:
            self.notify("Fix the arguments first: " + "; ".join(editor.problems), severity="error")
            return
        if self._refused:
            self.notify(f"Not submitted: {self.refusal}", severity="error")
            return
        self.dismiss(editor.value)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_outside(self) -> None:
        """Closes this dialog and opens what it holds in the person's editor; it opens
        again with what they wrote."""
        if self.outside is None:
            self.app.bell()
            return
        text = self.query_one(JsonEditor).text
        self.dismiss(None)
        self.outside(text)
