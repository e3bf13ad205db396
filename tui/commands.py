"""Command palette providers, one per noun: threads, approvals, actions (with the policy
and the audit log, whose keys are in the one table of keys).

Hits come from the app's live state. Titles read "group: verb …"; each hit runs the same
``action_*`` method its key runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import NamedTuple, Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.keys import KEYS, display_key
from tui.live import STATUSES, LiveState
from tui.settings import ConsoleSettings
from tui.widgets.approval_sidebar import ApprovalSidebar
from tui.widgets.thread_list import ThreadList


class PaletteHost(Protocol):
    """The app as the palette sees it: live state for the hits, and the actions they run
    (the same ``action_*`` methods the keys run)."""

    @property
    def live(self) -> LiveState: ...

    @property
    def thread_list(self) -> ThreadList: ...

    @property
    def sidebar(self) -> ApprovalSidebar: ...

    async def run_action(self, action: str) -> bool: ...

    def action_status_filter(self, status: str) -> None: ...

    def action_open_thread(self, thread_id: str) -> None: ...

    def action_open_approval(self, approval_id: str) -> None: ...

    def action_decide(self, kind: str, approval_id: str) -> None: ...

    def action_retry(self, thread_id: str | None = None) -> None: ...

    def action_show_audit(self, thread_id: str = "") -> None: ...

    def action_show_api(self) -> None: ...

    @property
    def settings(self) -> ConsoleSettings: ...


class PaletteCommand(NamedTuple):
    title: str
    help: str
    run: Callable[[], object]


class _Commands(Provider):
    """Searches the commands :meth:`commands` lists; discovery shows the first few."""

    DISCOVER_LIMIT = 12

    @property
    def console(self) -> PaletteHost:
        return cast("PaletteHost", self.app)

    def commands(self) -> Iterable[PaletteCommand]:
        raise NotImplementedError

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            if (score := matcher.match(command.title)) > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)

    async def discover(self) -> Hits:
        for index, command in enumerate(self.commands()):
            if index >= self.DISCOVER_LIMIT:
                return
            yield DiscoveryHit(command.title, command.run, help=command.help)


class ActionCommands(_Commands):
    def commands(self) -> Iterable[PaletteCommand]:
        app = self.console
        where: dict[str, Callable[[str], Awaitable[object]]] = {
            "app": app.run_action,
            "threads": app.thread_list.run_action,
            "approvals": app.sidebar.run_action,
        }
        for spec in KEYS:
            if spec.palette and spec.scope in where:
                yield PaletteCommand(
                    spec.title or f"action: {spec.description.lower()}",
                    f"key {display_key(spec.key)}",
                    # A list's keys live on the list; run them where they live.
                    partial(where[spec.scope], spec.action),
                )
        if url := app.settings.api_url:
            yield PaletteCommand(
                f"api: served on {url}", "the HTTP API of --serve, and its log", app.action_show_api
            )
        yield PaletteCommand(
            "filter: all threads", "clear the status filter", partial(app.action_status_filter, "")
        )
        for status in STATUSES:
            yield PaletteCommand(
                f"filter: {status} threads",
                f"show only {status} threads",
                partial(app.action_status_filter, status),
            )


class ApprovalCommands(_Commands):
    def commands(self) -> Iterable[PaletteCommand]:
        app = self.console
        for approval in app.live.pending.values():
            thread = app.live.threads.get(approval.thread_id)
            name = (
                f"{approval.id} {approval.tool} · {thread.title if thread else approval.thread_id}"
            )
            help_text = (
                f"{approval.tier} · {approval.received}/{approval.required} · {approval.summary}"
            )
            yield PaletteCommand(
                f"approval: show {name}", help_text, partial(app.action_open_approval, approval.id)
            )
            for verb in ("approve", "reject", "edit", "respond"):
                yield PaletteCommand(
                    f"{verb}: {name}", help_text, partial(app.action_decide, verb, approval.id)
                )

    async def discover(self) -> Hits:
        for command in self.commands():
            if command.title.startswith("approval: show"):
                yield DiscoveryHit(command.title, command.run, help=command.help)


class ThreadCommands(_Commands):
    def commands(self) -> Iterable[PaletteCommand]:
        app = self.console
        threads = sorted(app.live.threads.values(), key=lambda t: -t.created_at)
        for thread in threads:
            yield PaletteCommand(
                f"thread: open {thread.title} ({thread.id})",
                f"{thread.status} · {thread.task}",
                partial(app.action_open_thread, thread.id),
            )
            yield PaletteCommand(
                f"audit: thread {thread.title} ({thread.id})",
                "the audit entries of this thread",
                partial(app.action_show_audit, thread.id),
            )
            if thread.status == "failed":
                yield PaletteCommand(
                    f"thread: retry {thread.title} ({thread.id})",
                    thread.error or "failed",
                    partial(app.action_retry, thread.id),
                )
