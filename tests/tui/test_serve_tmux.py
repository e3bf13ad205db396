"""``hitl console --serve`` in a real terminal: the console's screen says where the API
is, and the server's log lines go to a file, never over the screen."""

from __future__ import annotations

import shlex
import socket
import subprocess

import pytest

from engine import Home

from .test_tmux import HITL, keys, resize, screen, tmux_session, wait_for_screen

pytestmark = pytest.mark.tmux
__all__ = ["tmux_session"]  # the fixture, used by name


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _garbage_request(port: int) -> None:
    """A request uvicorn cannot parse: it logs "Invalid HTTP request received"."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        client.recv(1024)


def test_the_console_shows_where_the_api_is_and_no_server_line_corrupts_it(
    tmux_session: str, home: Home
) -> None:
    where = ["--home", str(home.path)]
    if home.database_url:
        where += ["--database", home.database_url]
    port = _free_port()
    command = (
        f"env -u COLUMNS -u LINES {HITL} {shlex.join(where)} --operator carol console"
        f" --serve --port {port}; echo CONSOLE-EXIT-$?; sleep 30"
    )
    subprocess.run(
        ["tmux", "new", "-d", "-s", tmux_session, "-x", "160", "-y", "45", command], check=True
    )
    subprocess.run(["tmux", "set-option", "-t", tmux_session, "window-size", "manual"], check=False)
    resize(tmux_session, 160, 45)
    url = f"http://127.0.0.1:{port}"
    shown = wait_for_screen(tmux_session, f"HTTP API on {url}")  # the notice at start
    assert f"API {url}" in shown  # and the header keeps it
    _garbage_request(port)
    log = home.path / "serve.log"
    logged = ""
    for _ in range(100):  # until the refusal is logged, or drawn over the console
        logged = log.read_text() if log.exists() else ""
        shown = screen(tmux_session)
        if "Invalid HTTP request" in logged or "Invalid HTTP request" in shown:
            break
        wait_for_screen(tmux_session, f"API {url}", limit=0.1)
    assert "Invalid HTTP request" not in shown and "WARNING" not in shown
    assert "Invalid HTTP request" in logged
    assert shown.splitlines()[0].lstrip().startswith("hitl ·"), shown  # the header stays on top
    keys(tmux_session, "?")
    shown = wait_for_screen(tmux_session, f"HTTP API on {url}; its log:")  # the help screen
    assert "serve.log" in shown
    keys(tmux_session, "q")  # closes the help screen
    wait_for_screen(tmux_session, "q Quit")  # the console's own footer again
    keys(tmux_session, "q")
    wait_for_screen(tmux_session, "CONSOLE-EXIT-0")
