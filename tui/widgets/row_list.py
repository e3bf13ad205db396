"""A keyed, sorted, filterable list drawn with Textual's line API.

Both the thread list and the approval sidebar are one of these. Rows are kept by key and
updated in place, only visible lines are drawn (500 or 5,000 rows cost the same per
frame), and ages are drawn at paint time, so keeping them live is one ``refresh()``.

Written rather than built on OptionList because OptionList caches each rendered prompt:
a live age would mean replacing every prompt (and clearing every cache) every second.

The cursor follows a key, not an index: rows arriving above it keep it on the same row
and at the same place on screen.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from typing import Any, ClassVar, Generic, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.keys import bindings

RowT = TypeVar("RowT")


class RowList(ScrollView, Generic[RowT], can_focus=True):
    """Rows of ``ROW_HEIGHT`` lines, ordered by :meth:`sort_key`, filtered by :meth:`shows`."""

    BINDINGS: ClassVar = bindings("rows")

    DEFAULT_CSS = """
    RowList {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"row-list--cursor", "row-list--empty"}

    ROW_HEIGHT: ClassVar[int] = 1
    EMPTY_TEXT: ClassVar[str] = "nothing here"

    class Highlighted(Message):
        """The person moved the cursor onto a row (or clicked it)."""

        def __init__(self, row_list: RowList[Any], key: str) -> None:
            super().__init__()
            self.row_list = row_list
            self.key = key

        @property
        def control(self) -> RowList[Any]:
            return self.row_list

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._rows: dict[str, RowT] = {}
        self._order: list[tuple[Hashable, str]] = []
        self._visible: list[str] = []
        self._index: dict[str, int] = {}
        self.cursor: str | None = None
        """The key of the row under the cursor."""
        self._title: str | None = None
        self._base_style: Style | None = None
        """The list's own style, kept until a style of it (or an ancestor) changes."""
        self.generation = 0
        """Counts changes to the rows or the filter: what is worked out from all rows
        together (how each row is told apart) is kept until it moves."""

    # --- what subclasses define --------------------------------------------

    def key_of(self, row: RowT) -> str:
        raise NotImplementedError

    def sort_key(self, row: RowT) -> Hashable:
        raise NotImplementedError

    def shows(self, row: RowT) -> bool:
        """Whether the row passes the current filter."""
        return True

    def row_text(self, row: RowT, line: int, width: int) -> Text:
        raise NotImplementedError

    def cursor_moved(self, key: str | None, *, by_person: bool) -> None:
        """Called after the cursor lands on a different row."""

    def empty_text(self) -> str:
        """What an empty list says (it may depend on a filter)."""
        return self.EMPTY_TEXT

    # --- data --------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._visible)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def get(self, key: str) -> RowT | None:
        return self._rows.get(key)

    @property
    def rows(self) -> list[RowT]:
        """Every row in order, filtered or not."""
        return [self._rows[key] for _, key in self._order]

    @property
    def visible_keys(self) -> list[str]:
        return list(self._visible)

    @property
    def cursor_row(self) -> RowT | None:
        return self._rows.get(self.cursor) if self.cursor else None

    def upsert(self, rows: Iterable[RowT]) -> None:
        """Adds or replaces rows; one call per batch of changes."""
        changed = []
        for row in rows:
            key = self.key_of(row)
            if key not in self._rows:
                bisect.insort(self._order, (self.sort_key(row), key))
            self._rows[key] = row
            changed.append(key)
        self._relayout(changed)

    def discard(self, keys: Iterable[str]) -> None:
        gone = {key for key in keys if key in self._rows}
        if not gone:
            return
        for key in gone:
            del self._rows[key]
        self._order = [item for item in self._order if item[1] not in gone]
        self._relayout(())

    def resort(self) -> None:
        """Call after the order (whatever :meth:`sort_key` reads) changed."""
        self._order = sorted((self.sort_key(row), key) for key, row in self._rows.items())
        self._relayout()

    def refilter(self) -> None:
        """Call after the filter (whatever :meth:`shows` reads) changed."""
        self._relayout()

    def _relayout(self, changed: Iterable[str] | None = None) -> None:
        """Works out the rows shown again, keeping the cursor where it was. Repaints
        only the rows in ``changed`` when the rows on screen are the same ones as before
        (a row changed, or came or went out of sight); all of it otherwise, or when
        ``changed`` is None (the filter or the order moved)."""
        window = self._window()
        self.generation += 1
        old_cursor = self.cursor
        old_index = self._index.get(old_cursor) if old_cursor else None
        screen_offset = None
        if old_index is not None:
            screen_offset = old_index * self.ROW_HEIGHT - round(self.scroll_y)
        self._visible = [key for _, key in self._order if self.shows(self._rows[key])]
        self._index = {key: i for i, key in enumerate(self._visible)}
        self._size_lines()
        if old_cursor in self._index:
            new_index = self._index[old_cursor]
            if screen_offset is not None and new_index != old_index:
                self.scroll_to(
                    y=max(0, new_index * self.ROW_HEIGHT - screen_offset),
                    animate=False,
                    immediate=True,
                )
        elif self._visible:
            index = min(old_index if old_index is not None else 0, len(self._visible) - 1)
            self._move_to(self._visible[index], by_person=False)
        elif old_cursor is not None:
            self.cursor = None
            self.cursor_moved(None, by_person=False)
        shown = self._window()
        if changed is None or shown != window or self.texts_moved(shown[1]):
            self.refresh()
        else:
            for key in changed:
                if (at := self._index.get(key)) is not None:
                    self.refresh_lines(at * self.ROW_HEIGHT, self.ROW_HEIGHT)

    def _window(self) -> tuple[int, tuple[str, ...]]:
        """Where the list is scrolled to and the rows on screen there."""
        top = round(self.scroll_y)
        first = top // self.ROW_HEIGHT
        count = self.size.height // self.ROW_HEIGHT + 2
        return top, tuple(self._visible[first : first + count])

    def set_title(self, title: str) -> None:
        """The border title. Assigning Textual's ``border_title`` repaints the whole
        list even when it is the same, so only a new one is assigned."""
        if title != self._title:
            self._title = title
            self.border_title = title

    def texts_moved(self, keys: tuple[str, ...]) -> bool:
        """Whether the rows changed what ``keys`` (rows on screen) show, though they
        did not change themselves (an :class:`Apart` cut): they are repainted then."""
        return False

    def _line_count(self) -> int:
        return max(1, len(self._visible)) * self.ROW_HEIGHT

    def _size_lines(self) -> None:
        """The scrollable height follows the rows. Setting ``virtual_size`` lays out the
        whole screen (and repaints every widget on it): needed only when the scrollbar
        comes or goes; otherwise the size is set quietly and the scrollbar told."""
        size = Size(0, self._line_count())
        if size == self.virtual_size:
            return
        needs_bar = size.height > self.container_size.height
        if not self.is_mounted or needs_bar != self.show_vertical_scrollbar:
            self.virtual_size = size
            return
        self.set_reactive(RowList.virtual_size, size)
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.window_virtual_size = size.height
            self.vertical_scrollbar.refresh()
        if self.scroll_y > self.max_scroll_y:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)

    # --- cursor --------------------------------------------------------------

    def select(self, key: str) -> bool:
        """Puts the cursor on ``key`` (if it is shown) without telling anyone."""
        if key not in self._index:
            return False
        if key != self.cursor:
            self._put_cursor(key)
        return True

    def _put_cursor(self, key: str) -> None:
        """Moves the cursor, scrolling it into view; repaints the two rows it left and
        came to (a scroll repaints the rest)."""
        left = self._index.get(self.cursor or "")
        self.cursor = key
        self._scroll_to_cursor()
        for index in (left, self._index.get(key)):
            if index is not None:
                self.refresh_lines(index * self.ROW_HEIGHT, self.ROW_HEIGHT)

    def move_to(self, key: str) -> None:
        """Moves the cursor to ``key`` for the person, as a key press would."""
        if key in self._index:
            self._move_to(key, by_person=True)

    def _move_to(self, key: str, *, by_person: bool) -> None:
        if key == self.cursor:
            return
        self._put_cursor(key)
        self.cursor_moved(key, by_person=by_person)
        if by_person:
            self.post_message(self.Highlighted(self, key))

    def _scroll_to_cursor(self) -> None:
        index = self._index.get(self.cursor or "")
        if index is None:
            return
        region = Region(0, index * self.ROW_HEIGHT, max(1, self.size.width), self.ROW_HEIGHT)
        self.scroll_to_region(region, animate=False, immediate=True, force=True)

    def _step(self, delta: int) -> None:
        if not self._visible:
            return
        index = self._index.get(self.cursor or "")
        target = 0 if index is None else max(0, min(len(self._visible) - 1, index + delta))
        self._move_to(self._visible[target], by_person=True)

    def action_cursor_down(self) -> None:
        self._step(1)

    def action_cursor_up(self) -> None:
        self._step(-1)

    def action_first(self) -> None:
        self._step(-len(self._visible))

    def action_last(self) -> None:
        self._step(len(self._visible))

    def action_page_down(self) -> None:
        self._step(max(1, self.size.height // self.ROW_HEIGHT))

    def action_page_up(self) -> None:
        self._step(-max(1, self.size.height // self.ROW_HEIGHT))

    def on_focus(self) -> None:
        if self.cursor is None and self._visible:
            self._move_to(self._visible[0], by_person=True)

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = (offset.y + round(self.scroll_y)) // self.ROW_HEIGHT
        if 0 <= index < len(self._visible):
            self._move_to(self._visible[index], by_person=True)

    # --- drawing -------------------------------------------------------------

    def on_resize(self) -> None:
        self.virtual_size = Size(0, self._line_count())

    def notify_style_update(self) -> None:
        self._base_style = None
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if self._base_style is None:  # worked out from every ancestor: ~1/3 of a line's cost
            self._base_style = self.rich_style
        base = self._base_style
        absolute = y + round(self.scroll_y)
        index, line = divmod(absolute, self.ROW_HEIGHT)
        if not self._visible:
            if absolute == 0:
                empty = self.get_component_rich_style("row-list--empty")
                return self._strip(Text(self.empty_text(), style=empty), width, base)
            return Strip.blank(width, base)
        if index >= len(self._visible):
            return Strip.blank(width, base)
        key = self._visible[index]
        text = self.row_text(self._rows[key], line, width)
        if key == self.cursor:
            text.stylize(self.get_component_rich_style("row-list--cursor"))
        return self._strip(text, width, base)

    def _strip(self, text: Text, width: int, base: Style) -> Strip:
        text.truncate(width, overflow="ellipsis", pad=True)
        text.no_wrap = True
        segments = list(text.render(self.app.console))
        segments = [s for s in segments if s.text != "\n"]
        return Strip(Segment.apply_style(segments, base), width).crop_extend(0, width, base)


class Apart:
    """Each row's text in ``width`` columns, still telling the row from the others.

    Cut at its end when that leaves it unlike every other row's (easiest to read);
    where two rows' cut texts would read the same, shortened by the engine's listing
    rule instead (start, end, and where it differs). Worked out once per width and
    :attr:`RowList.generation`."""

    def __init__(
        self,
        whole: Callable[[Any], str],
        shorten: Callable[[list[Any], int], list[str]],
    ) -> None:
        self.whole = whole
        self.shorten = shorten
        self._for: tuple[int, int] = (-1, -1)
        self._text: dict[str, str] = {}
        self._texts: tuple[int, tuple[str, ...]] = (-1, ())
        self._whole: dict[str, tuple[Any, str]] = {}
        """Each row's whole text, with the row it is of: 300 cards' arguments written
        out again on every event cost more than drawing them."""

    def text(self, rows: RowList[Any], key: str, width: int) -> str | None:
        if self._for != (width, rows.generation):
            self._text = self._work_out(rows, width)
            self._for = (width, rows.generation)
        return self._text.get(key)

    def moved(self, rows: RowList[Any], keys: Iterable[str]) -> bool:
        """Works the texts out again now, at the last width drawn: whether any of
        ``keys`` reads differently than it did."""
        width = self._for[0]
        if width < 0:
            return False
        before = self._text
        self._text = self._work_out(rows, width)
        self._for = (width, rows.generation)
        return self._text is not before and any(
            before.get(key) != self._text.get(key) for key in keys
        )

    def _whole_of(self, key: str, row: Any) -> str:
        kept = self._whole.get(key)
        if kept is None or kept[0] is not row:
            kept = self._whole[key] = (row, self.whole(row))
        return kept[1]

    def _work_out(self, rows: RowList[Any], width: int) -> dict[str, str]:
        """Only when the texts shown changed: a status or a count changing (most
        events) leaves them as they were, and 300 alike rows cost ~25 ms to work out."""
        shown = {key: rows.get(key) for key in rows.visible_keys}
        if len(self._whole) > 2 * len(shown) + 100:  # rows that left: forget them
            self._whole = {key: kept for key, kept in self._whole.items() if key in shown}
        whole = {key: self._whole_of(key, row) for key, row in shown.items()}
        texts = (width, tuple(whole.values()))
        if texts == self._texts and self._text.keys() == whole.keys():
            return self._text
        self._texts = texts
        cut = {key: padded(text, width).rstrip() for key, text in whole.items()}
        seen = Counter(cut.values())
        alike = [key for key, text in cut.items() if seen[text] > 1]
        if alike:
            shortened = self.shorten([shown[key] for key in alike], width)
            cut.update(zip(alike, shortened, strict=True))
        return cut


def padded(text: str, width: int) -> str:
    """``text`` cut (with an ellipsis) or padded to exactly ``width`` cells."""
    if width <= 0:
        return ""
    if len(text) > width:
        return text[: width - 1] + "…"
    return text.ljust(width)
