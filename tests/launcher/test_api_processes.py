"""`python -m workers api` starts API_PROCESSES server processes on one port, and each of them serves."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfpserver.accounts import tokens
from tests.conftest import ROOT, Processes, wait_until

PING = "/sfp/api/ping"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")


def status(port: int, path: str, body: dict[str, object] | None = None, token: str = "") -> int:
    """The status of one request on a fresh connection (0 when nothing answered within 10 s)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"} if token else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


@pytest.fixture
def processes(live_db: None) -> Iterator[Processes]:
    procs = Processes()
    yield procs
    procs.stop_all()


def test_the_api_starts_api_processes_servers_that_each_answer_on_the_one_port(processes: Processes) -> None:
    port = free_port()
    launcher = processes.start("api-two", "api", "--port", str(port), API_PROCESSES="2", API_THREADS="2")
    wait_until(lambda: status(port, PING) == 200, timeout=60, what="the API to answer")
    servers = wait_until(lambda: len(children(launcher.pid)) == 2 and children(launcher.pid), what="two servers")
    assert all(command_line(pid)[-4:-1] == ["workers", "api", "--fd"] for pid in servers)
    secret = tokens.issue("api processes", "member").secret

    for paused, serving in ((servers[0], servers[1]), (servers[1], servers[0])):
        os.kill(paused, signal.SIGSTOP)  # the other process alone accepts on the shared socket
        try:
            answers = [status(port, "/sfp/api/tasks", {"type": "demo", "data": {"repository": "r"}}, secret)]
            answers += [status(port, PING) for _ in range(3)]
        finally:
            os.kill(paused, signal.SIGCONT)
        assert answers == [201, 200, 200, 200], f"process {serving} alone"


def test_a_server_process_that_dies_is_replaced_and_a_stop_ends_them_all(processes: Processes) -> None:
    port = free_port()
    launcher = processes.start("api-replaced", "api", "--port", str(port), "--processes", "2")
    wait_until(lambda: status(port, PING) == 200, timeout=60, what="the API to answer")
    first = wait_until(lambda: len(children(launcher.pid)) == 2 and children(launcher.pid), what="two servers")

    os.kill(first[0], signal.SIGKILL)

    def replaced() -> list[int] | None:
        now = children(launcher.pid)
        return now if len(now) == 2 and first[0] not in now else None

    now = wait_until(replaced, timeout=60, what="a new server")
    assert first[1] in now
    replacement = next(pid for pid in now if pid != first[1])
    os.kill(first[1], signal.SIGSTOP)  # the replacement alone accepts
    try:
        wait_until(lambda: status(port, PING) == 200, timeout=60, what="the replacement to answer")
    finally:
        os.kill(first[1], signal.SIGCONT)

    launcher.send_signal(signal.SIGTERM)
    assert launcher.wait(60) == 0
    processes.procs.pop("api-replaced")
    assert not any(Path(f"/proc/{pid}").exists() for pid in (first[1], replacement))


def test_the_processes_flag_overrides_the_setting_and_one_process_starts_no_child(processes: Processes) -> None:
    port = free_port()
    launcher = processes.start("api-one", "api", "--port", str(port), "--processes", "1", API_PROCESSES="3")
    wait_until(lambda: status(port, PING) == 200, timeout=60, what="the API to answer")

    assert children(launcher.pid) == []


@pytest.mark.parametrize("count", ["1", "2"])
def test_an_api_whose_port_is_taken_ends_with_an_error(processes: Processes, count: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "workers", "api", "--port", str(port), "--processes", count]
        done = subprocess.run(argv, cwd=ROOT, env=processes.env(), capture_output=True, text=True, timeout=120)

    assert done.returncode != 0
    assert "address already in use" in done.stderr.lower()


def test_fewer_than_one_process_is_refused(processes: Processes) -> None:
    argv = [sys.executable, "-m", "workers", "api", "--port", str(free_port()), "--processes", "0"]
    done = subprocess.run(argv, cwd=ROOT, env=processes.env(), capture_output=True, text=True, timeout=120)

    assert done.returncode != 0
    assert "python -m workers api: --processes must be at least 1, got 0" in done.stderr
