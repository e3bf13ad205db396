"""A call's arguments in the person's own editor (``$VISUAL``, else ``$EDITOR``).

The console hands the terminal over (Textual's ``App.suspend``), writes the arguments
as pretty JSON to a private temporary file, waits for the editor to exit and reads the
file back. What comes back is never sent as it is: it opens in the built-in edit dialog
(``tui.screens.edit``), with its problems, the diff and the policy's verdict, and only
the person's Submit there decides. The editor runs as a subprocess awaited on the event
loop, so the engine keeps running (other threads, expiry, leases) while it is open; the
screen is not painted meanwhile (``batch_update``), so nothing draws over the editor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from textual.app import SuspendNotSupported

from engine import ApprovalView
from tui.calls import who_did_what
from tui.host import Host

MAX_BYTES = 1_000_000
"""More than this read back is refused: no call's arguments are a megabyte, and the
dialog would be unusable with them."""


class EditorProblem(Exception):
    """Why the file could not be edited or read back, in words a person can act on."""


def editor_command(environ: Mapping[str, str]) -> list[str] | None:
    """``$VISUAL``, else ``$EDITOR``, split as a shell would (``code -w``), or None."""
    for name in ("VISUAL", "EDITOR"):
        value = environ.get(name, "").strip()
        if value:
            try:
                words = shlex.split(value)
            except ValueError as error:
                raise EditorProblem(f"${name} ({value!r}) cannot be read: {error}") from None
            if words:
                return words
    return None


def args_text(args: Mapping[str, Any]) -> str:
    """The arguments as the built-in editor shows them (pretty JSON, Unicode kept)."""
    return json.dumps(args, indent=2, ensure_ascii=False) + "\n"


def write_private(text: str, approval_id: str) -> Path:
    """A new file only this user can read (0600, from ``mkstemp``) holding ``text``."""
    fd, name = tempfile.mkstemp(prefix=f"hitl-{approval_id[:8]}-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    return Path(name)


def read_back(path: Path) -> str:
    """The file's text; a file too big, not UTF-8 or gone is an :class:`EditorProblem`."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise EditorProblem(
                f"the file is {size:,} bytes; arguments over {MAX_BYTES:,} bytes are refused"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise EditorProblem("the editor removed the file: nothing to read back") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EditorProblem(
            f"the file is not UTF-8 (byte {error.start}: {data[error.start : error.start + 1]!r})"
        ) from None


async def run_editor(command: list[str], path: Path) -> int:
    """Runs the editor on ``path`` in this terminal; its exit status."""
    try:
        process = await asyncio.create_subprocess_exec(*command, str(path))
    except (FileNotFoundError, PermissionError) as error:
        raise EditorProblem(f"the editor {command[0]!r} could not be started: {error}") from None
    return await process.wait()


class ExternalEditHost(Host, Protocol):
    """The app as this flow sees it: a host whose terminal can be handed over."""

    @property
    def is_web(self) -> bool: ...

    @property
    def is_headless(self) -> bool: ...

    def suspend(self) -> AbstractContextManager[None]: ...

    def batch_update(self) -> AbstractContextManager[None]: ...

    def call_later(self, callback: Callable[..., Any], *args: Any) -> bool: ...


class ExternalEdit:
    """One call at a time in ``$EDITOR``; what comes back goes to ``review`` (the
    built-in dialog), with the text as written."""

    def __init__(self, app: ExternalEditHost, review: Callable[[ApprovalView, str], None]) -> None:
        self.app = app
        self.review = review
        self.environ: Mapping[str, str] = os.environ
        self.editing: str | None = None
        """The id of the call open in the editor, if one is."""
        self._decided: ApprovalView | None = None
        self.hand_over: Callable[[], AbstractContextManager[None]] = self._suspended
        """How the terminal is given to the editor: suspend the app, paint nothing. A
        headless test, which has no terminal, hands over nothing instead."""

    @contextlib.contextmanager
    def _suspended(self) -> Iterator[None]:
        with self.app.suspend(), self.app.batch_update():
            yield

    def begin(self, approval: ApprovalView, text: str | None = None) -> None:
        """Opens ``text`` (else the call's arguments) in the editor, if one is set."""
        if self.editing is not None:
            self.app.notify("Another call is open in your editor.", severity="warning")
            return
        if self.hand_over == self._suspended and (self.app.is_web or self.app.is_headless):
            self._say_no_terminal()  # said first: setting $EDITOR would not help here
            return
        try:
            command = editor_command(self.environ)
        except EditorProblem as error:
            self.app.notify(str(error), title="editor", severity="error")
            return
        if command is None:
            self.app.notify(
                "Neither $VISUAL nor $EDITOR is set: set one (export EDITOR=nano, or "
                "'code -w') to edit in your editor. e edits here, in the built-in editor.",
                title="no editor",
                severity="warning",
                timeout=10,
            )
            return
        self.editing, self._decided = approval.id, None
        self.app.run_worker(
            self._edit(approval, command, text if text is not None else args_text(approval.args)),
            group="external-editor",
            exit_on_error=False,
        )

    def _say_no_terminal(self) -> None:
        self.app.notify(
            "This console cannot hand its terminal to an editor (a web console, or no "
            "terminal): e edits here, in the built-in editor.",
            title="editor",
            severity="warning",
            timeout=10,
        )

    def decided_elsewhere(self, approvals: Iterable[ApprovalView]) -> None:
        """Remembers that the call in the editor was decided meanwhile (told on return)."""
        for approval in approvals:
            if approval.id == self.editing and approval.status != "pending":
                self._decided = approval

    async def _edit(self, approval: ApprovalView, command: list[str], text: str) -> None:
        app = self.app
        path: Path | None = None
        try:
            path = write_private(text, approval.id)
            with self.hand_over():
                status = await run_editor(command, path)
            if status != 0:
                app.notify(
                    f"{command[0]} exited with status {status}: cancelled, nothing changed.",
                    title="editor",
                    severity="warning",
                )
                return
            written = read_back(path)
        except SuspendNotSupported:
            self._say_no_terminal()
            return
        except (EditorProblem, OSError) as error:
            app.notify(
                f"Not read back: {error}. Nothing changed.", title="editor", severity="error"
            )
            return
        finally:
            self.editing = None
            if path is not None:
                path.unlink(missing_ok=True)
        current = app.live.pending.get(approval.id)
        if current is None or self._decided is not None:
            decided = self._decided
            what = (who_did_what(decided) or decided.status) if decided else "no longer pending"
            app.notify(
                f"{approval.tool} ({approval.id}) was decided while your editor was open: "
                f"{what}. Nothing was submitted from here.",
                title="decided elsewhere",
                severity="warning",
                timeout=15,
            )
            return
        app.call_later(self.review, current, written)  # from the app's loop, as a key does
