"""The text filter over the approval queue; shown while it is in use."""

from __future__ import annotations

from tui.widgets.filter_box import FilterBox


class QueueFilter(FilterBox):
    """``tier:high tool:send thread:q3 words`` over the waiting calls
    (:class:`tui.queue.QueueFilter` parses it)."""

    PLACEHOLDER = "calls: tier:high tool:… thread:… words"

    class Done(FilterBox.Done):
        """The person finished with the queue's filter (Enter or Escape)."""
