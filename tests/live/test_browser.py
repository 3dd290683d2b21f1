"""End to end in a real browser: the dashboard served by uvicorn on the test database, real workers, headless
Chromium. It signs in with a token, starts the demo, and watches the run move to its end without a reload;
the token goes in the sockets' subprotocol, never their URL, and revoking it signs the page out.
The screenshot lands in .local/screenshots/dashboard.png (git-ignored)."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfpserver.accounts import tokens
from tests.conftest import ROOT, Processes, wait_until
from tests.live.browser import Browser, chromium_path

SCREENSHOT = ROOT / ".local" / "screenshots" / "dashboard.png"
# Every WebSocket the page opens, with the URL it asked for and the subprotocol the server chose.
RECORD_SOCKETS = """
window.sockets = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const socket = new NativeWebSocket(url, protocols);
  const seen = { url: String(url), protocol: null };
  window.sockets.push(seen);
  socket.addEventListener("open", () => { seen.protocol = socket.protocol; });
  socket.addEventListener("close", (event) => { seen.closed = event.code; });
  return socket;
};
Object.assign(window.WebSocket, NativeWebSocket);
"""
CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (/usr/bin/chromium); .ci/run installs it with apt-get"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def server(platform: Processes) -> Iterator[str]:
    """The ASGI app under uvicorn (`python -m workers api`) on a free loopback port."""
    port = _free_port()
    platform.start("api-for-browser", "api", "--host", "127.0.0.1", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{base}/sfp/api/ping"), timeout=60, what="uvicorn to answer")
        yield base
    finally:
        platform.stop("api-for-browser")


@pytest.fixture
def browser() -> Iterator[Browser]:
    assert CHROMIUM is not None
    opened = Browser(CHROMIUM)
    try:
        yield opened
    finally:
        opened.close()


def test_the_dashboard_shows_a_demo_run_move_to_its_end_without_reloading(server: str, browser: Browser) -> None:
    issued = tokens.issue("browser test", "member")
    browser.open(f"{server}/dashboard/#token={issued.secret}", before=RECORD_SOCKETS)
    browser.wait_for("document.getElementById('connection').textContent === 'live'", what="the live feed")
    assert browser.evaluate("location.hash") == ""  # the token left the address bar
    sockets = browser.evaluate("window.sockets")
    assert sockets == [{"url": f"{server.replace('http', 'ws', 1)}/ws/runs/", "protocol": "sfp.v1"}]  # no token
    browser.evaluate("window.notReloaded = true; document.getElementById('demo-button').click()")

    seen: list[int] = []

    def finished() -> bool:
        progress = browser.evaluate("document.getElementById('run-detail').dataset.progress || null")
        if progress is not None:
            seen.append(int(progress))
        return browser.evaluate("document.getElementById('run-detail').dataset.status") == "COMPLETED"

    wait_until(finished, timeout=90, interval=0.05, what="the demo run to complete on the page")
    assert seen[-1] == 100 and any(0 < p < 100 for p in seen), seen
    assert browser.evaluate("window.notReloaded") is True
    build = browser.evaluate("document.querySelector('#steps tr[data-step=build]').textContent")
    assert "#1 failed: transient failure while fetching dependencies" in build and "#2 completed" in build
    dag = browser.evaluate("[...document.querySelectorAll('#dag .node')].map(n => n.dataset.status)")
    assert dag == ["COMPLETED"] * 5
    listed = browser.evaluate("document.querySelector('#runs tbody tr.selected').textContent")
    assert "demo.pipeline" in listed and "completed" in listed
    browser.wait_for("document.querySelectorAll('#workers tbody tr').length >= 3", what="the workers table")
    browser.screenshot(SCREENSHOT)
    assert Path(SCREENSHOT).stat().st_size > 10_000

    browser.evaluate("window.fetch = () => new Promise(() => {})")  # the REST poll would notice it too: mute it
    tokens.revoke(issued.token)  # the open sockets close (4401) and the page signs out
    browser.wait_for("!document.getElementById('sign-in').hidden", timeout=15, what="the page to sign out")
    assert browser.evaluate("document.getElementById('sign-in-error').textContent") == (
        "The token was revoked or has expired."
    )
    closes = browser.evaluate("window.sockets.map((s) => s.closed)")  # the first 4401 signs out, closing the rest
    assert len(closes) == 2 and 4401 in closes and None not in closes, closes
