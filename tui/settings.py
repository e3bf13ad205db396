"""The console's settings, as typed data handed to the app (never read inside widgets)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tui.clock import Clock, SystemClock


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    demo: int = 0
    """Start this many demo tasks once the engine is open."""

    demo_tasks: tuple[str, ...] = ()
    """Tasks for ``demo``; empty means the built-in varied list (tui.demo.DEMO_TASKS)."""

    resume: bool = True
    """Call ``engine.resume()`` on start, so threads left mid-run carry on."""

    clock: Clock = field(default_factory=SystemClock)
    """Where ages and times come from; snapshot tests pass a FixedClock."""

    show_ids: bool = True
    """Show thread and approval ids. Snapshot tests hide them: the engine makes them random."""

    frame_seconds: float = 1 / 30
    """Engine events are applied at most once per frame; a burst in between is one batch."""

    decided_linger_seconds: float = 2.0
    """A decided card stays, marked decided, this long before it leaves the sidebar."""

    confirm_arm_seconds: float = 0.6
    """The high-risk confirm button stays disabled this long, so a key already on its way
    (typed for something else) cannot press it."""

    settle_seconds: float = 0.5
    """After the approval under the cursor changes without the person moving it (the card
    they were on was decided and left), decision keys wait this long."""

    expiry_warning_seconds: float = 600.0
    """Within this long of the policy's automatic rejection, a card shows the time left."""

    verdict_debounce_seconds: float = 0.15
    """The editor asks the engine what the edited call would need once typing pauses
    this long."""

    grid_size: int = 6
    """Threads shown side by side in the grid view."""

    tick_seconds: float = 1.0
    """How often live ages repaint."""

    outbox_seconds: float = 5.0
    """How often the header re-counts dead notifications (any process's)."""

    bell_tiers: tuple[str, ...] = ("medium", "high")
    """A new approval, or one about to expire, of these tiers rings the terminal bell;
    empty means never."""

    api_url: str = ""
    """Where ``hitl console --serve`` serves the HTTP API ("" without ``--serve``): the
    header, a notice at start, the help screen and the palette show it, since the line
    printed before the console took the screen is hidden behind it."""

    api_log: str = ""
    """The file the API server's log lines go to, never the terminal the console owns."""

    cursor_blink: bool = True
    """Blink text cursors; snapshot tests turn it off so pictures are stable."""
