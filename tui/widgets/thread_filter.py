"""The text filter over the thread list; shown while it is in use."""

from __future__ import annotations

from tui.widgets.filter_box import FilterBox


class ThreadFilter(FilterBox):
    """Words and ``status:waiting`` over the threads (``thread_list.parse_filter``)."""

    PLACEHOLDER = "filter: words, status:waiting …"

    class Done(FilterBox.Done):
        """The person finished with the thread filter (Enter or Escape)."""
