"""``hitl console --serve``: the console and the HTTP API in one process, over one engine."""

from __future__ import annotations

import httpx
import pytest
from textual.command import CommandList

from api.server import listening_socket
from engine import Engine, Home
from tui.launch import engine_opener, serving_opener

from .helpers import EMAIL, paused, running_console, wait_for_notice, wait_until


async def test_a_decision_posted_over_http_shows_in_the_console_and_quitting_stops_it(
    home: Home,
) -> None:
    async with Engine.open(home, operator="alice") as first:
        thread_id = await paused(first, EMAIL)
        _, secret = await first.create_token("dana", ("read", "decide"))
    sock = listening_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    opener = serving_opener(engine_opener(home, operator="alice"), sock)
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        async with running_console(opener) as (app, pilot):
            await wait_until(pilot, lambda: len(app.sidebar) == 1, "the approval card")
            [waiting] = (await client.get("/approvals")).json()
            assert waiting["thread_id"] == thread_id
            decided = await client.post(
                f"/approvals/{waiting['id']}/decide", json={"type": "approve"}
            )
            assert decided.status_code == 200, decided.text
            await wait_until(
                pilot, lambda: app.sidebar.rows[0].status == "approved", "the card decided"
            )
            assert app.sidebar.rows[0].decided_by == "dana"
            await wait_until(
                pilot, lambda: "approved by dana" in app.pane.story_text, "the story to say so"
            )
            await pilot.press("q")
            await wait_until(pilot, lambda: not app.is_running, "the console to close")
        with pytest.raises(httpx.ConnectError):
            await client.get("/approvals")
    sock.close()


async def test_the_console_says_where_it_serves_the_api_and_the_palette_says_it_again(
    home: Home,
) -> None:
    sock = listening_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    log = home.path / "serve.log"
    opener = serving_opener(engine_opener(home, operator="alice"), sock, log_file=log)
    async with running_console(opener, api_url=url, api_log=str(log)) as (app, pilot):
        await wait_for_notice(pilot, app, "the notice at start", url, str(log), title="HTTP API")
        assert app.header.api_url == url
        app.clear_notifications()
        await pilot.press("ctrl+p")
        await pilot.press(*"api: served")
        await wait_until(
            pilot, lambda: app.screen.query_one(CommandList).option_count > 0, "palette hits"
        )
        await pilot.press("enter")
        await wait_for_notice(pilot, app, "the notice again", url, title="HTTP API")
    sock.close()
