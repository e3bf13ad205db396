"""The console: composes the screen, follows the engine's events, routes them to widgets.

A router, not a home for logic: what the console knows lives in ``tui.live``, how things
look in the widgets, decisions' dialogs in ``tui.decide``, which stories are on screen in
``tui.stories``, how the app is built and started in ``tui.launch``. Attributes go down (the app
sets what widgets show); messages come up only for a person's intent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual import work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import DescendantFocus
from textual.widgets import ContentSwitcher, Footer

from engine import FourEyes, HitlError
from engine.events import ApprovalRequested, Event, SourceReachable, SourceUnreachable
from tui.attention import Attention
from tui.bulk import BulkFlow
from tui.commands import ActionCommands, ApprovalCommands, PaletteHost, ThreadCommands
from tui.decide import DecisionFlow
from tui.demo import demo_tasks
from tui.keys import bindings
from tui.layout import MainScreen, RegionLayout, RegionTabs, card_in_view
from tui.live import STATUSES, Changes, LiveState
from tui.screens.answer import NOTHING, AnswerScreen
from tui.screens.ask import AskScreen
from tui.screens.audit import AuditScreen
from tui.screens.choose import ChooseScreen
from tui.screens.help import HelpScreen, api_notice
from tui.screens.policy import PolicyScreen
from tui.screens.quit import QuitScreen
from tui.screens.thread_view import ThreadViewScreen
from tui.settings import ConsoleSettings
from tui.stories import ThreadStories
from tui.story import expiring_notice, item_of
from tui.widgets.approval_detail import ApprovalDetail
from tui.widgets.approval_sidebar import ApprovalSidebar
from tui.widgets.queue_filter import QueueFilter
from tui.widgets.status_header import StatusHeader
from tui.widgets.thread_filter import ThreadFilter
from tui.widgets.thread_grid import ThreadGrid
from tui.widgets.thread_list import ThreadList, parse_filter
from tui.widgets.thread_pane import ThreadPane

if TYPE_CHECKING:
    from engine import Engine
    from tui.sources import EngineOpener, ReadHome

T = TypeVar("T")


class HitlApp(App[int]):
    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "hitl"
    AUTO_FOCUS = "#threads"
    BINDINGS: ClassVar = bindings("app")
    # Every screen's class for a short terminal (dialogs' spacing goes: tui/app.tcss).
    # Textual's App annotates this as an instance variable, so ClassVar upsets mypy.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]  # noqa: RUF012
    COMMANDS: ClassVar = {*App.COMMANDS, ActionCommands, ApprovalCommands, ThreadCommands}

    def __init__(
        self,
        open_engine: EngineOpener,
        settings: ConsoleSettings,
        *,
        read_home: ReadHome | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.clock = settings.clock
        self.live = LiveState()
        self.engine: Engine | None = None
        self._counting_dead = False
        self.decisions = DecisionFlow(self)
        self.bulk = BulkFlow(self)
        self.stories = ThreadStories(self)
        self._open_engine = open_engine
        self._read_home = read_home
        self._engine_stack = AsyncExitStack()
        self._select_when_listed: str | None = None
        self.regions = RegionLayout(self)
        self.attention = Attention(self, settings.bell_tiers, self.TITLE)

    # --- layout --------------------------------------------------------------

    def get_default_screen(self) -> MainScreen:
        return MainScreen(self.regions, id="_default")

    def compose(self) -> ComposeResult:
        s = self.settings
        yield StatusHeader(id="header")
        yield RegionTabs(id="regions")
        with Horizontal(id="main"):
            with Vertical(id="threads-column"):
                yield ThreadFilter(id="filter")
                yield ThreadList(self.clock, show_ids=s.show_ids, id="threads")
            with ContentSwitcher(initial="pane", id="center"):
                yield ThreadPane(self.clock, show_ids=s.show_ids, id="pane")
                yield ThreadGrid(self.clock, size=s.grid_size, show_ids=s.show_ids, id="grid")
            with Vertical(id="approvals-column"):
                yield QueueFilter(id="queue-filter")
                yield ApprovalSidebar(
                    self.clock,
                    show_ids=s.show_ids,
                    settle_seconds=s.settle_seconds,
                    expiry_warning_seconds=s.expiry_warning_seconds,
                    id="approvals",
                )
                yield ApprovalDetail(self.clock, show_ids=s.show_ids, id="detail")
        yield Footer()

    @property
    def thread_list(self) -> ThreadList:
        return self.query_one("#threads", ThreadList)

    @property
    def sidebar(self) -> ApprovalSidebar:
        return self.query_one("#approvals", ApprovalSidebar)

    @property
    def pane(self) -> ThreadPane:
        return self.query_one("#pane", ThreadPane)

    @property
    def grid(self) -> ThreadGrid:
        return self.query_one("#grid", ThreadGrid)

    @property
    def detail(self) -> ApprovalDetail:
        return self.query_one("#detail", ApprovalDetail)

    @property
    def header(self) -> StatusHeader:
        return self.query_one("#header", StatusHeader)

    @property
    def grid_shown(self) -> bool:
        return self.query_one("#center", ContentSwitcher).current == "grid"

    def on_mount(self) -> None:
        self.sidebar.thread_title = self._thread_title
        self.header.api_url = self.settings.api_url
        self.sidebar.set_title(self.sidebar.title())
        self.detail.border_title = "Call"
        self._title_threads()
        self.grid.border_title = "Grid"
        self.thread_list.focus()
        self.regions.apply()
        self.set_interval(self.settings.tick_seconds, self._tick)
        self.follow_engine()

    async def on_unmount(self) -> None:
        await self._engine_stack.aclose()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        self.regions.focused(event.widget)

    def action_focus_next(self) -> None:
        if not self.regions.step(1):
            super().action_focus_next()

    def action_focus_previous(self) -> None:
        if not self.regions.step(-1):
            super().action_focus_previous()

    def _tick(self) -> None:
        """Live ages and time left: one repaint of the visible lines of each list. Not
        once the console is closing: its widgets go before its timers do."""
        if not self.is_running:
            return
        self.thread_list.refresh()
        self.sidebar.refresh()
        self.detail.tick()

    # --- the engine ----------------------------------------------------------

    @work(exclusive=True, group="engine-events", exit_on_error=False)
    async def follow_engine(self) -> None:
        """Paints what the home holds, opens the engine, re-reads what it holds, then
        applies its events a frame at a time."""
        if self._read_home is not None:
            await self._first_look(self._read_home)
        try:
            engine = await self._engine_stack.enter_async_context(self._open_engine())
        except Exception as error:
            self.header.state = "the engine could not start"
            self.notify(_say(error), title="engine", severity="error", timeout=30)
            return
        self.engine = engine
        self.header.operator = engine.operator
        subscription = engine.subscribe()
        self._engine_stack.callback(subscription.close)
        self.stories.load_waiting()
        await self.reload()
        self.header.state = ""
        if self.settings.api_url:  # serving now: the engine opened with the server
            self.action_show_api()
        self.set_interval(self.settings.outbox_seconds, self._count_dead_notifications)
        self._count_dead_notifications()
        self._say_policy_drift(engine)
        if self.settings.resume:
            await self.attempt(engine.resume())
        for task in demo_tasks(self.settings.demo, self.settings.demo_tasks):
            await self.attempt(engine.start(task))
        async for batch in subscription.batches():
            try:
                await self.apply(batch)
            except Exception as error:  # a bad event must not end the console
                self.notify(_say(error), title="console", severity="error")
            await asyncio.sleep(self.settings.frame_seconds)

    @work(group="outbox", exit_on_error=False)
    async def _count_dead_notifications(self) -> None:
        """The header's count of notifications nobody could deliver (one count at a
        time: a slow database skips beats rather than piling counts up)."""
        if self.engine is None or self._counting_dead:
            return
        self._counting_dead = True
        try:
            counts = await self.engine.notification_counts()
            self.header.dead_notifications = counts.get("dead", 0)
        finally:
            self._counting_dead = False

    def _say_policy_drift(self, engine: Engine) -> None:
        """Pending calls keep the verdict of the policy they were asked under; say so
        when that is not the policy this console runs with."""
        other = [
            a
            for a in self.live.pending.values()
            if a.policy_digest not in ("", engine.policy_digest)
        ]
        if other:
            calls = f"{len(other)} pending call{'s were' if len(other) > 1 else ' was'}"
            self.notify(
                f"{calls} requested under another policy than the one in force here; they "
                "keep the verdict they were given. New calls get this one (p shows it).",
                title="policy changed",
                severity="warning",
                timeout=20,
            )

    async def _first_look(self, read_home: ReadHome) -> None:
        """Threads and pending approvals from the plain rows, painted while the engine
        (and LangGraph's ~1 s import) is still on its way; the engine's reload replaces them."""
        snapshot = await self.attempt(read_home())
        if snapshot is not None and self.engine is None:
            self._show_changes(self.live.load(snapshot.threads, snapshot.pending))
            self.header.state = "opening the engine…"

    async def attempt(self, call: Awaitable[T]) -> T | None:
        """Awaits an engine call; an error becomes a notification, never a crash."""
        try:
            return await call
        except Exception as error:
            title = "four-eyes" if isinstance(error, FourEyes) else ""
            self.notify(_say(error), title=title, severity="error", timeout=10)
            return None

    async def reload(self) -> None:
        """Reads every thread and pending approval (on start, and after lost events)."""
        assert self.engine is not None
        threads = await self.engine.threads()
        pending = await self.engine.pending()
        listed, waiting = set(self.live.threads), set(self.live.pending)
        changes = self.live.load(threads, pending)
        self.thread_list.discard(listed - changes.threads.keys())
        self.sidebar.discard(waiting - changes.approvals.keys())
        self._show_changes(changes)

    async def apply(self, batch: list[Event]) -> None:
        for event in batch:  # the server the threads live on: a banner while it is gone
            if isinstance(event, SourceUnreachable):
                why = event.why or f"server at {event.url} unreachable"
                self.header.state = f"{why}, retrying in {event.retry_seconds:.0f}s"
            elif isinstance(event, SourceReachable):
                self.header.state = ""
        changes = self.live.apply(batch, self.clock.now())
        if changes.resync:
            await self.reload()
        self._show_changes(changes)
        for approval in changes.withdrawn:
            thread = self.live.threads.get(approval.thread_id)
            where = thread.title if thread else approval.thread_id
            self.notify(
                f"{approval.tool or 'interrupt'} in “{where}” was resumed elsewhere: "
                "its card is closed, nothing was sent.",
                title="resumed elsewhere",
                severity="warning",
            )
        for approval in changes.expiring:
            thread = self.live.threads.get(approval.thread_id)
            notice = expiring_notice(approval, thread.title if thread else None, self.clock)
            self.notify(notice, title="approval expiring", severity="warning", timeout=15)
        asked = {e.approval.id for e in batch if isinstance(e, ApprovalRequested)}
        arrived = [a for a in changes.approvals.values() if a.id in asked and a.status == "pending"]
        self.attention.call_for([*arrived, *changes.expiring])

    def _show_changes(self, changes: Changes) -> None:
        self.attention.show_pending(len(self.live.pending))
        if changes.threads:
            self.thread_list.upsert(changes.threads.values())
            self._title_threads()
            for row in changes.threads.values():
                for pane in self.stories.panes_of(row.thread.id):
                    pane.update_thread(row.thread, refused=row.refused)
            if self._select_when_listed in changes.threads:
                self.thread_list.select(self._select_when_listed)
                self._select_when_listed = None
            self.stories.fill_grid(changes.threads.keys())
        if changes.approvals:
            self.sidebar.upsert(changes.approvals.values())
            decided = [a.id for a in changes.approvals.values() if a.status != "pending"]
            if decided:
                self.set_timer(
                    self.settings.decided_linger_seconds, lambda: self._drop_decided(decided)
                )
            self.decisions.decided_elsewhere(changes.approvals.values())
        for thread_id, events in changes.stories.items():
            panes = self.stories.panes_of(thread_id)
            if panes:
                items = [i for e in events if (i := item_of(e, self.clock))]
                for pane in panes:
                    pane.append(items)
        self.header.counts = self.live.counts()
        self.header.pending = len(self.live.pending)
        self.query_one("#regions", RegionTabs).waiting = len(self.live.pending)
        if self.pane.thread is None:
            self.stories.show_something()
        self._show_detail()

    def _drop_decided(self, approval_ids: list[str]) -> None:
        """Decided cards leave after their moment; not once the console is closing."""
        if self.is_running:
            self.sidebar.discard(approval_ids)

    # --- what is shown: one selection ---------------------------------------------

    def _show_thread(self, thread_id: str) -> None:
        """Puts ``thread_id`` in the pane, and the Call panel with it."""
        self.stories.show(thread_id)
        self._show_detail()

    def _show_detail(self) -> None:
        """The Call panel shows a call of the thread in the pane, never another's: the
        one under the approval cursor when it is that thread's, else that thread's first
        waiting call (the cursor moves there, silently), else none."""
        approval = self.sidebar.cursor_row
        shown = self.pane.thread_id
        if shown is not None and (approval is None or approval.thread_id != shown):
            approval = next(
                (a for a in self.sidebar.rows if a.thread_id == shown and a.status == "pending"),
                None,
            )
            if approval is not None:
                self.sidebar.select(approval.id)
        thread = self.live.threads.get(approval.thread_id if approval else shown or "")
        self.detail.show(approval, thread.title if thread else None)

    def _follow_approval(self) -> None:
        """The thread of the call under the approval cursor in the pane and the list."""
        approval = self.sidebar.cursor_row
        if approval is not None:
            self.thread_list.select(approval.thread_id)
            self.stories.show(approval.thread_id)
        self._show_detail()

    def advance_past(self, approval_id: str) -> None:
        """A decision was sent: the next waiting call comes under the cursor at once."""
        self.sidebar.advance_past(approval_id)

    def _thread_title(self, thread_id: str) -> str:
        thread = self.live.threads.get(thread_id)
        return thread.title if thread else ""

    def sent_in_bulk(self, approval_ids: tuple[str, ...]) -> None:
        """A bulk decision was confirmed: the cursor leaves its calls, their marks go."""
        self.sidebar.advance_past(*approval_ids)
        self.sidebar.unmark(approval_ids)

    def _title_threads(self) -> None:
        self.thread_list.set_title(self.thread_list.title(len(self.live.threads)))
        self.regions.fit_threads(max((len(t.title) for t in self.live.threads.values()), default=0))

    # --- a person's intent (messages up) ----------------------------------------

    def on_thread_list_thread_selected(self, message: ThreadList.ThreadSelected) -> None:
        self._show_thread(message.thread_id)

    def on_thread_list_retry_requested(self, message: ThreadList.RetryRequested) -> None:
        self.action_retry(message.thread_id)

    def on_thread_list_audit_requested(self, message: ThreadList.AuditRequested) -> None:
        self.action_show_audit(message.thread_id)

    def on_thread_list_filter_changed(self) -> None:
        if not self.thread_list.text_filter:
            box = self.query_one("#filter", ThreadFilter)
            box.value = ""
            box.remove_class("-shown")
        self._title_threads()

    def on_thread_pane_view_requested(self, message: ThreadPane.ViewRequested) -> None:
        self.action_view_thread(message.thread_id)

    def on_approval_sidebar_approval_selected(
        self, message: ApprovalSidebar.ApprovalSelected
    ) -> None:
        if not self.is_running:
            return  # a card moved as the console closed: its widgets are already gone
        if message.by_person or self.focused is self.sidebar:
            self._follow_approval()
        else:
            self._show_detail()

    def on_approval_sidebar_decision_requested(
        self, message: ApprovalSidebar.DecisionRequested
    ) -> None:
        self.action_decide(message.kind, message.approval_id)

    def on_approval_sidebar_bulk_requested(self, message: ApprovalSidebar.BulkRequested) -> None:
        self.bulk.begin(message.kind, message.approval_ids)

    def on_approval_sidebar_filter_requested(self) -> None:
        box = self.query_one("#queue-filter", QueueFilter)
        box.add_class("-shown")
        box.focus()

    def on_approval_sidebar_filter_cleared(self) -> None:
        box = self.query_one("#queue-filter", QueueFilter)
        box.value = ""
        box.remove_class("-shown")

    def on_queue_filter_done(self) -> None:
        self.sidebar.focus()

    def on_input_changed(self, event: ThreadFilter.Changed) -> None:
        if isinstance(event.input, QueueFilter):
            self.sidebar.set_queue_filter(event.value)
        elif isinstance(event.input, ThreadFilter):
            status, text = parse_filter(event.value)
            self.thread_list.set_filter(status or self.thread_list.status_filter, text)
            self._title_threads()

    def on_thread_filter_done(self) -> None:
        self.thread_list.focus()
        self.on_thread_list_filter_changed()

    # --- actions (keys and the palette run these) ------------------------------

    def action_decide(self, kind: str, approval_id: str) -> None:
        """Every decision the console starts (a key, the palette) passes here: nothing is
        decided that is not on screen under the cursor; such a call is shown instead."""
        if self.sidebar.cursor != approval_id or not card_in_view(self.sidebar):
            self.notify(
                "That call is not on screen: nothing was decided. Show it first "
                "(tab to the approvals, or a wider terminal).",
                severity="warning",
            )
            self.action_open_approval(approval_id)
            return
        self.decisions.begin(kind, approval_id)

    def action_new_thread(self) -> None:
        graphs = self.engine.graphs if self.engine is not None else []
        if not graphs:
            self._ask_task(None)
            return
        options = [(f"graph:{name}", name) for name in graphs]
        options.append(("builtin", "the built-in demo agent"))

        def chosen(key: str | None) -> None:
            if key is not None:
                self._ask_task(key.removeprefix("graph:") if key != "builtin" else None)

        self.push_screen(
            ChooseScreen("New thread", options, prompt="Which agent should run it?"), chosen
        )

    def _ask_task(self, graph: str | None) -> None:
        """The task (or, for a graph without messages, its JSON input) of a new thread."""
        if graph is not None and self.engine is not None and not self.engine.takes_messages(graph):
            self.push_screen(
                AnswerScreen(
                    f"New thread on {graph}",
                    prompt="The graph's input, as a JSON object (checked against its schema).",
                    initial="{}",
                    submit="Start",
                    cursor_blink=self.settings.cursor_blink,
                    check=lambda value: self._input_refusal(graph, value),
                    id="new-input",
                ),
                lambda value: self._start_if("", graph, value, value is not NOTHING),
            )
            return
        self.push_screen(
            AskScreen.new_thread(graph),
            lambda task: self._start_if(task or "", graph, None, bool(task)),
        )

    def _input_refusal(self, graph: str, value: Any) -> str | None:
        """Why the engine would refuse ``value`` as the graph's input, if it would."""
        if self.engine is None:
            return "The engine is not open yet."
        try:
            self.engine.check_input(graph, value)
        except HitlError as error:
            return str(error)
        return None

    def _start_if(self, task: str, graph: str | None, given: Any, wanted: bool) -> None:
        if wanted:
            self._start_thread(task, graph, given)

    @work(group="commands", exit_on_error=False)
    async def _start_thread(self, task: str, graph: str | None = None, given: Any = None) -> None:
        if self.engine is None:
            self.notify("The engine is not open yet.", severity="error")
            return
        thread = await self.attempt(self.engine.start(task, graph=graph, input=given))
        if thread is not None:
            if not self.thread_list.select(thread.id):
                self._select_when_listed = thread.id
            self.stories.show(thread.id, thread)
            self._show_detail()

    def action_retry(self, thread_id: str | None = None) -> None:
        thread_id = thread_id or self.thread_list.cursor
        if thread_id and self.engine is not None:
            self.run_worker(self.attempt(self.engine.retry(thread_id)), group="commands")

    def action_toggle_grid(self) -> None:
        to_grid = not self.grid_shown
        self.query_one("#center", ContentSwitcher).current = "grid" if to_grid else "pane"
        self.stories.toggle_grid(to_grid)

    def action_zoom(self) -> None:
        """The focused panel fills the screen; again, it goes back to its place."""
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
        elif self.focused is None or not screen.maximize(self.focused):
            self.bell()

    def action_filter(self) -> None:
        box = self.query_one("#filter", ThreadFilter)
        box.add_class("-shown")
        box.focus()

    def action_status_filter(self, status: str) -> None:
        self.thread_list.status_filter = status if status in STATUSES else None
        self.thread_list.refilter()
        self._title_threads()

    def action_open_thread(self, thread_id: str) -> None:
        self.thread_list.focus()
        if not self.thread_list.select(thread_id):
            self.action_status_filter("")
            self.query_one("#filter", ThreadFilter).value = ""
            self.thread_list.select(thread_id)
        self._show_thread(thread_id)

    def action_open_approval(self, approval_id: str) -> None:
        if self.sidebar.select(approval_id):
            self.sidebar.focus()
            self._follow_approval()

    def action_next_waiting(self) -> None:
        self._next_call(high=False)

    def action_next_high(self) -> None:
        self._next_call(high=True)

    def _next_call(self, *, high: bool) -> None:
        """From anywhere: the approvals get focus, with the next waiting (high-risk) call
        under the cursor and its thread in the pane."""
        key = self.sidebar.next_waiting(high=high)
        if key is None:
            what = "high-risk call" if high else "call"
            hidden = " the filter shows" if self.sidebar.queue_filter else ""
            self.notify(f"No {what} is waiting{hidden}.", timeout=4)
            return
        self.sidebar.focus()
        self.sidebar.move_to(key)
        self._follow_approval()

    def action_view_thread(self, thread_id: str = "") -> None:
        """The thread in the pane (or ``thread_id``) on the whole screen, followed live."""
        thread_id = thread_id or self.pane.thread_id or ""
        if self.engine is None or not thread_id:
            why = "The engine is not open yet." if self.engine is None else "No thread is shown."
            self.notify(why, severity="warning")
            return
        s = self.settings
        self.push_screen(
            ThreadViewScreen(self.engine, self.live, self.clock, thread_id, show_ids=s.show_ids)
        )

    def action_help(self) -> None:
        self.push_screen(HelpScreen(api_notice(self.settings)))

    def action_show_api(self) -> None:
        if notice := api_notice(self.settings):
            self.notify(notice, title="HTTP API", timeout=20)

    def action_show_policy(self) -> None:
        if self.engine is None:
            self.notify("The engine is not open yet.", severity="warning")
            return
        self.push_screen(PolicyScreen(self.engine.policy))

    def action_show_audit(self, thread_id: str = "") -> None:
        """The audit log of ``thread_id``, or of the whole home (``t`` switches to the
        thread shown in the pane)."""
        if self.engine is None:
            self.notify("The engine is not open yet.", severity="warning")
            return
        thread = self.live.threads.get(thread_id or self.pane.thread_id or "")
        selected = (thread.id, thread.title) if thread else None
        screen = AuditScreen(self.engine, self.clock, thread=selected, whole_home=not thread_id)
        self.push_screen(screen)

    async def action_quit(self) -> None:
        pending = len(self.live.pending)
        if not pending:
            self.exit(0)
            return

        def leave(sure: bool | None) -> None:
            if sure:
                self.exit(0)

        self.push_screen(QuitScreen(pending), leave)


def _say(error: BaseException) -> str:
    """An error as one line a person can act on."""
    if isinstance(error, HitlError):
        return str(error)
    return f"{type(error).__name__}: {error}"


if TYPE_CHECKING:

    def _palette_host(app: HitlApp) -> PaletteHost:
        """The palette's providers cast ``self.app`` to this; mypy checks it holds."""
        return app
