"""Which regions are drawn: the thread list, the thread (or grid) and the approvals side by
side on a wide terminal; one at a time, with a line of tabs, on a narrow one.

Below :data:`NARROW_BELOW` columns three columns do not fit (at 80 the approvals were not
drawn at all, yet Tab reached them and ``a`` approved). There, the region holding the focus
is the one drawn, full width; Tab and shift+Tab move to the next region and draw it. The
choice follows the terminal's width on every resize.

Whatever the layout, a decision key only acts on a card a person can see:
:func:`card_in_view` is asked before a key's decision goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from rich.text import Text
from textual import errors
from textual.binding import ActiveBinding
from textual.css.query import NoMatches
from textual.geometry import Region
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from tui.widgets.approval_sidebar import ApprovalSidebar

if TYPE_CHECKING:
    from tui.app import HitlApp

NARROW_BELOW = 120
"""Columns under which the console draws one region at a time."""

THREADS_WIDTH = (30, 0.4)
"""The thread list's width when wide: what its longest title needs, at least 30 columns,
at most 40% of the terminal (and never so much that the pane gets under 44)."""
ROW_FRAME = 21
"""Columns of a thread row besides its title: status, pending count, age, border."""
CENTER_MIN, APPROVALS_MIN = 44, 36

MIN_CARD_WIDTH = 24
"""Columns a card needs to show its tool, tier and age: fewer is not "seen"."""

RegionName = Literal["threads", "center", "approvals"]
REGIONS: tuple[RegionName, ...] = ("threads", "center", "approvals")
COLUMN_ID: dict[RegionName, str] = {
    "threads": "threads-column",
    "center": "center",
    "approvals": "approvals-column",
}
TAB_LABEL: dict[RegionName, str] = {
    "threads": "Threads",
    "center": "Thread",
    "approvals": "Approvals",
}


def region_of(widget: Widget | None) -> RegionName | None:
    """The region a widget is in (None: outside the three, e.g. a dialog's)."""
    node = widget
    while node is not None:
        for name, column in COLUMN_ID.items():
            if node.id == column:
                return name
        parent = node.parent
        node = parent if isinstance(parent, Widget) else None
    return None


class RegionTabs(Widget):
    """The narrow layout's tabs: every region, the one drawn in reverse video (so it
    reads without colour), the approvals with how many wait."""

    DEFAULT_CSS = """
    RegionTabs { height: 1; width: 1fr; display: none; }
    RegionTabs.-shown { display: block; }
    """

    shown: reactive[RegionName] = reactive[RegionName]("threads")
    waiting: reactive[int] = reactive(0)
    """Pending approvals: a person in another tab still sees that calls wait."""

    def render(self) -> Text:
        text = Text()
        for number, name in enumerate(REGIONS, 1):
            label = f" {number} {TAB_LABEL[name]}"
            if name == "approvals":
                label += f" ({self.waiting})"
            label += " "
            text.append(label, style="reverse bold" if name == self.shown else "dim")
            text.append(" ")
        text.append("tab: next", style="dim italic")
        return text


class RegionLayout:
    """Draws the regions the terminal's width allows; narrow, the one holding focus."""

    def __init__(self, app: HitlApp) -> None:
        self.app = app
        self.region: RegionName = "threads"
        """The region a narrow terminal draws."""
        self.longest_title = 0
        """Of the threads listed: the thread list is as wide as it needs (within bounds)."""

    @property
    def narrow(self) -> bool:
        return self.app.size.width < NARROW_BELOW

    def apply(self) -> None:
        """Three regions side by side, or (narrow) only :attr:`region`, with tabs."""
        app, narrow = self.app, self.narrow
        try:
            app.query_one("#main").set_class(narrow, "-narrow")
        except NoMatches:
            return  # not composed yet: on_mount lays it out
        tabs = app.query_one("#regions", RegionTabs)
        tabs.set_class(narrow, "-shown")
        tabs.shown = self.region
        app.query_one(Footer).compact = narrow
        for name in REGIONS:
            app.query_one(f"#{COLUMN_ID[name]}").display = not narrow or name == self.region
        self._size_threads()

    def fit_threads(self, longest_title: int) -> None:
        """The threads changed: the list takes the width its longest title needs."""
        if longest_title != self.longest_title:
            self.longest_title = longest_title
            self._size_threads()

    def _size_threads(self) -> None:
        app = self.app
        try:
            column = app.query_one(f"#{COLUMN_ID['threads']}")
        except NoMatches:
            return
        if self.narrow:
            column.styles.width = None  # the narrow rule's full width (tui/app.tcss)
            return
        least, share = THREADS_WIDTH
        width = app.size.width
        most = min(int(width * share), width - CENTER_MIN - APPROVALS_MIN)
        column.styles.width = max(least, min(self.longest_title + ROW_FRAME, most))

    def focused(self, widget: Widget) -> None:
        """Focus moved (a key, a click, the palette): its region is the one drawn."""
        region = region_of(widget)
        if region is not None and region != self.region:
            self.region = region
            self.apply()

    def step(self, by: int) -> bool:
        """Narrow, on the main screen: Tab draws the next region and focuses what takes
        keys in it. False when Tab should move the focus as usual."""
        app = self.app
        if not self.narrow or app.screen is not app.screen_stack[0]:
            return False
        self.region = REGIONS[(REGIONS.index(self.region) + by) % len(REGIONS)]
        self.apply()
        if self.region == "threads":
            app.thread_list.focus()
        elif self.region == "approvals":
            app.sidebar.focus()
        else:
            (app.grid.panes[0] if app.grid_shown else app.pane).focus()
        return True


FOOTER_FIRST = ("help", "quit")
"""Actions the footer shows before all others: a narrow footer cuts its end, and these
are the two a person must always find."""


class MainScreen(Screen[None]):
    """The console's main screen: lays its regions out again on every resize; its
    footer lists :data:`FOOTER_FIRST` first."""

    def __init__(self, regions: RegionLayout, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.regions = regions

    def on_resize(self) -> None:
        self.regions.apply()

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        bindings = super().active_bindings
        first = [k for k, b in bindings.items() if b.binding.action in FOOTER_FIRST]
        return {k: bindings[k] for k in [*first, *(k for k in bindings if k not in first)]}


def card_in_view(sidebar: ApprovalSidebar) -> bool:
    """Whether the card under the sidebar's cursor is drawn whole, wide enough to read,
    on the screen a person is looking at."""
    key = sidebar.cursor
    if key is None or sidebar.screen is not sidebar.app.screen:
        return False
    try:
        drawn = sidebar.screen.find_widget(sidebar)
        index = sidebar.visible_keys.index(key)
    except (errors.NoWidget, NoMatches, ValueError):
        return False
    content = sidebar.content_region
    top = content.y + index * sidebar.ROW_HEIGHT - round(sidebar.scroll_y)
    card = Region(content.x, top, min(content.width, MIN_CARD_WIDTH), sidebar.ROW_HEIGHT)
    visible = drawn.region.intersection(drawn.clip).intersection(sidebar.screen.region)
    return content.width >= MIN_CARD_WIDTH and visible.contains_region(card)
