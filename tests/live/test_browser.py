"""End to end in a real browser: the dashboard served by uvicorn on the test database, real workers, headless
Chromium. It signs in with a token, starts the demo, and watches the run move to its end without a reload;
the token goes in the sockets' subprotocol, never their URL, and revoking it signs the page out.
The screenshot lands in .local/screenshots/dashboard.png (git-ignored)."""

from __future__ import annotations

import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sfpserver.accounts import tokens
from tests.conftest import ROOT, Processes, wait_until
from tests.live.browser import Browser, chromium_path
from tests.tasks.conftest import orgs, sample  # noqa: F401  (fixtures of the approval test)

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


SCREENS = ROOT / ".local" / "test" / "screens"


def test_a_failed_run_has_its_own_address_its_failure_and_a_filter_finds_it(server: str, browser: Browser) -> None:
    """The run page is /dashboard/runs/<id>, survives a reload, shows the failure with its traceback and the
    skipped step as skipped; a status + metadata filter lists it (newest first), in the query string."""
    from sfpserver.engine.trigger import trigger
    from tests.engine.helpers import wait_for_run

    failed = trigger("t.failure", {}, metadata={"pr": "browser-41"})
    other = trigger("t.single", {}, metadata={"pr": "browser-42"})
    assert wait_for_run(failed, timeout=60).status == "FAILED"
    wait_for_run(other, timeout=60)
    issued = tokens.issue("browser test runs", "member")

    browser.open(f"{server}/dashboard/runs/{failed}#token={issued.secret}")
    browser.wait_for("document.getElementById('run-detail').dataset.status === 'FAILED'", what="the run page")
    browser.wait_for("!!document.querySelector('#failures pre.traceback')", what="the traceback")
    browser.evaluate("location.reload()")  # the address alone brings the run back (the token is in the tab)
    time.sleep(0.5)
    browser.wait_for("document.readyState === 'complete'", what="the reload")
    browser.wait_for("document.getElementById('run-detail').dataset.status === 'FAILED'", what="the run after reload")
    browser.wait_for("!!document.querySelector('#failures pre.traceback')", what="the traceback after reload")
    assert browser.evaluate("location.pathname") == f"/dashboard/runs/{failed}"
    failure = browser.evaluate("document.querySelector('#failures .failed-step[data-step=bad]').textContent")
    assert "ValueError: boom" in failure and "Traceback (most recent call last)" in failure
    assert 'raise ValueError("boom")' in failure
    shown = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#steps tr[data-step]')]"
        ".map(r => [r.dataset.step, r.dataset.shown]))"
    )
    assert shown["after_bad"] == "SKIPPED" and shown["bad"] == "FAILED" and shown["root"] == "COMPLETED"
    created = browser.evaluate("document.getElementById('run-created').textContent")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", created), created  # a date as well as a time
    browser.wait_for("document.querySelectorAll('#workers tbody tr').length >= 3", what="the workers strip")
    browser.screenshot(SCREENS / "run-failed.png")

    assert browser.evaluate("document.getElementById('cancel-button').disabled") is True  # finished: nothing to cancel
    browser.evaluate("document.getElementById('retry-button').click()")
    assert browser.evaluate("document.getElementById('confirm').hidden") is False  # asked first, nothing sent
    assert "Retry the failed steps" in browser.evaluate("document.getElementById('confirm-text').textContent")
    browser.screenshot(SCREENS / "run-confirm.png")
    browser.evaluate("document.getElementById('confirm-no').click()")

    browser.evaluate(
        "document.getElementById('filter-status').value = 'FAILED';"
        "document.getElementById('filter-metadata').value = 'pr:browser-41';"
        "document.querySelector('#filters button[type=submit]').click()"
    )
    browser.wait_for(
        f"[...document.querySelectorAll('#runs tbody tr')].map(r => r.dataset.run).join() === '{failed}'",
        what="the filtered list",
    )
    assert browser.evaluate("location.search") == "?status=FAILED&metadata=pr%3Abrowser-41"
    browser.screenshot(SCREENS / "runs-filtered.png")
    browser.evaluate(
        f"document.getElementById('search').value = '{other}';"
        "document.querySelector('#filters button[type=submit]').click()"
    )
    browser.wait_for(f"location.pathname === '/dashboard/runs/{other}'", what="the search to open the run")
    browser.wait_for("document.getElementById('run-detail').dataset.status === 'COMPLETED'", what="the other run")


def test_the_run_page_approves_a_waiting_release_and_the_pipeline_deploys_to_production(
    server: str,
    browser: Browser,
    sample: Any,  # noqa: F811  (the fixture imported above)
    orgs: Any,  # noqa: F811
) -> None:
    from sfpserver.engine.models import StepRun
    from sfpserver.engine.trigger import trigger
    from tests.engine.helpers import wait_for_run
    from tests.tasks.test_pipeline import pipeline_input

    run_id = trigger("sfp-release-pipeline", {**pipeline_input(sample, orgs), "approval_timeout_minutes": 30})
    wait_until(
        lambda: StepRun.objects.filter(run_id=run_id, name="approval", waiting_for="condition").exists(),
        timeout=120,
        what="the approval gate to wait",
    )
    issued = tokens.issue("browser approver", "member")
    browser.open(f"{server}/dashboard/runs/{run_id}#token={issued.secret}")
    browser.wait_for("!document.getElementById('approval').hidden", what="the approval buttons")
    gate = browser.evaluate("document.querySelector('#steps tr[data-step=approval]').textContent")
    assert "for approval" in gate, gate
    browser.screenshot(SCREENS / "run-waiting-for-approval.png")
    browser.evaluate(
        "document.getElementById('approval-comment').value = 'looks good';"
        "document.getElementById('approve-button').click()"
    )
    assert "Approve the pending approval" in browser.evaluate("document.getElementById('confirm-text').textContent")
    browser.evaluate("document.getElementById('confirm-yes').click()")
    assert wait_for_run(run_id, timeout=120).status == "COMPLETED"
    browser.wait_for("document.getElementById('run-detail').dataset.status === 'COMPLETED'", what="the run to end")
    assert browser.evaluate("document.getElementById('approval').hidden") is True
    approval = StepRun.objects.get(run_id=run_id, name="approval").output
    assert approval == {"required": True, "approved_by": "browser approver", "comment": "looks good"}


def test_a_run_that_continued_past_a_failed_step_is_marked_completed_with_failures(
    server: str, browser: Browser
) -> None:
    from sfpserver.engine.trigger import trigger
    from tests.engine.helpers import wait_for_run

    run_id = trigger("t.failure", {}, continue_on_failure=["bad"])
    assert wait_for_run(run_id, timeout=60).status == "COMPLETED"
    issued = tokens.issue("browser test continued", "member")
    browser.open(f"{server}/dashboard/runs/{run_id}#token={issued.secret}")
    browser.wait_for("document.getElementById('run-detail').dataset.status === 'COMPLETED'", what="the run page")
    browser.wait_for("!!document.querySelector('#run-continued .badge')", what="the continued mark")
    assert browser.evaluate("document.querySelector('#run-continued .badge').textContent") == "with failures"
    bad = browser.evaluate("document.querySelector('#steps tr[data-step=bad]').textContent")
    assert "failed" in bad and "continued past" in bad, bad
    assert browser.evaluate("document.getElementById('run-error').textContent") == (
        "Completed with failures: continued past bad"
    )
    browser.screenshot(SCREENS / "run-completed-with-failures.png")
