"""``hitl console --web`` in headless Chromium: the page shows the pending approval, a
key press approves it, and the engine records the decision. Requests without the
URL's token are refused."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine import Home, Reader
from engine.engine import Engine
from engine.policy_file import DEFAULT_POLICY_TOML
from tests.engine.notify_servers import Receiver, free_port
from tests.engine.processes import ROOT

from .helpers import EMAIL

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(b"web-key")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def served(tmp_path: Path, receiver: Receiver) -> Iterator[tuple[Home, str]]:
    """A home with one pending email, served with --web; (home, the printed URL). Its
    policy owes the receiver a notification, queued but not sent."""
    home = Home(tmp_path / "home")
    home.path.mkdir()
    home.policy_file.write_text(
        DEFAULT_POLICY_TOML
        + f'[[notify]]\nkind = "webhook"\nurl = "{receiver.url}"\n'
        + 'secret_env = "HITL_TEST_WEB_KEY"\non = ["approval_requested"]\n'
    )

    async def pause() -> None:
        async with Engine.open(home, operator="alice", send_notifications=False) as engine:
            thread = await engine.start(EMAIL)
            await engine.wait(thread.id)

    asyncio.run(pause())
    env = {k: v for k, v in os.environ.items() if k not in ("HITL_HOME", "HITL_DATABASE_URL")}
    env["HITL_TEST_WEB_KEY"] = "web-key"
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-c", "import sys; from tui.entry import main; sys.exit(main())",
            "--home", str(home.path), "--operator", "alice",
            "console", "--web", "--web-port", str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        found = re.search(r"http://\S+", line)
        assert found, f"no URL printed: {line!r} {server.stderr.read() if not line else ''}"
        yield home, found[0]
    finally:
        server.terminate()
        server.wait(10)


async def test_the_server_delivers_notifications_with_no_browser_attached(
    served: tuple[Home, str], receiver: Receiver
) -> None:
    await receiver.wait_for(lambda r: len(r.deliveries) == 1)
    assert receiver.deliveries[0].body["event"] == "approval_requested"


def test_requests_without_the_token_are_refused(served: tuple[Home, str]) -> None:
    _, url = served
    base = url.split("?")[0]
    assert httpx.get(base).status_code == 403
    assert httpx.get(base + "?token=guess").status_code == 403
    assert httpx.get(base + "static/css/xterm.css").status_code == 403
    assert httpx.get(base + "ws").status_code == 403
    token = url.split("token=")[1]
    foreign = {"Origin": "http://elsewhere.example"}
    assert httpx.get(base + "ws", params={"token": token}, headers=foreign).status_code == 403
    page = httpx.get(url)
    assert page.status_code == 200
    assert "hitl_web_token" in page.headers["set-cookie"]
    assert "SameSite=Strict" in page.headers["set-cookie"]
    assert "googleapis" not in page.text, "the page loads nothing from a third party"
    proxied = httpx.get(url, headers={"Host": "hitl.example:443", "X-Forwarded-Proto": "https"})
    assert 'data-session-websocket-url="wss://hitl.example:443/ws"' in proxied.text, (
        "behind a TLS proxy the page's websocket goes back through it"
    )


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (Debian package `chromium`)")
async def test_a_key_press_in_the_browser_approves(
    served: tuple[Home, str], tmp_path: Path
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    home, url = served
    host = url.split("/")[2]
    shown = bytearray()
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch_persistent_context(
            tmp_path / "chromium",  # a fresh --user-data-dir
            executable_path=CHROMIUM,
            args=FLAGS,
            viewport={"width": 1600, "height": 900},
        )
        page = await browser.new_page()

        async def local_only(route: object) -> None:  # nothing leaves 127.0.0.1
            request_url = route.request.url  # type: ignore[attr-defined]
            if request_url.split("/")[2] == host:
                await route.continue_()  # type: ignore[attr-defined]
            else:
                await route.abort()  # type: ignore[attr-defined]

        await page.route("**/*", local_only)
        page.on(
            "websocket",
            lambda ws: ws.on(
                "framereceived",
                lambda frame: shown.extend(frame if isinstance(frame, bytes) else frame.encode()),
            ),
        )
        await page.goto(url)
        await _until(lambda: b"send_email" in _text(shown), "the approval on the page")
        await page.click("#terminal")
        async with Reader.open(home) as reader:
            [pending] = await reader.pending()
            for _ in range(100):  # the card takes keys once it has settled
                await page.keyboard.press("Tab")
                await page.keyboard.press("a")
                decided = await reader.approval(pending.id)
                if decided.status != "pending":
                    break
                await asyncio.sleep(0.1)
            await _until_async(
                lambda: _status(reader, pending.id), "approved", "the engine to record it"
            )
            decided = await reader.approval(pending.id)
        await browser.close()
    assert decided.decided_by == "alice"


async def _status(reader: Reader, approval_id: str) -> str:
    return (await reader.approval(approval_id)).status


def _text(raw: bytearray) -> bytes:
    return _ESCAPES.sub(b"", bytes(raw))


async def _until(check: object, what: str, within: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():  # type: ignore[operator]
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _until_async(probe: object, expected: str, what: str, within: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (got := await probe()) != expected:  # type: ignore[operator]
        assert loop.time() < deadline, f"timed out waiting for {what}: {got}"
        await asyncio.sleep(0.05)
