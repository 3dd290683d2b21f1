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
from collections import Counter
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


def served_by(port: int, servers: list[int], connections: int = 40) -> Counter[int]:
    """Open `connections` connections to the port, a PING on each, and count which server process holds the
    other end of each (its sockets in /proc/<pid>/fd against the established connections in /proc/net/tcp)."""
    opened = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(connections)]
    try:
        for conn in opened:
            conn.sendall(f"GET {PING} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            assert conn.recv(64).startswith(b"HTTP/1.1 200"), "a server process did not answer"
        established = tcp_inodes(port, "01")
        return Counter({pid: len(socket_inodes(pid) & established) for pid in servers})
    finally:
        for conn in opened:
            conn.close()


def socket_inodes(pid: int) -> set[int]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except FileNotFoundError:  # closed meanwhile (a process starting up)
            continue
        if link.startswith("socket:["):
            found.add(int(link[8:-1]))
    return found


def tcp_inodes(port: int, state: str) -> set[int]:
    """The inodes of the IPv4 sockets on local port `port` in `state` (/proc/net/tcp: 01 established, 0A listen)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            found.add(int(fields[9]))
    return found


def test_the_api_starts_api_processes_servers_that_share_the_connections_on_the_one_port(
    processes: Processes,
) -> None:
    port = free_port()
    launcher = processes.start("api-two", "api", "--port", str(port), API_PROCESSES="2", API_THREADS="2")
    wait_until(lambda: status(port, PING) == 200, timeout=60, what="the API to answer")
    servers = wait_until(lambda: len(children(launcher.pid)) == 2 and children(launcher.pid), what="two servers")
    assert all(command_line(pid)[-4:-1] == ["workers", "api", "--fd"] for pid in servers)

    # Each listens on a socket of its own beside the others (SO_REUSEPORT): the kernel spreads the connections,
    # which one shared socket gave to whichever process woke first. 40 connections all on one: 1 in 2^39.
    spread = served_by(port, servers)
    assert sum(spread.values()) == 40 and min(spread.values()) > 0, spread
    secret = tokens.issue("api processes", "member").secret
    assert status(port, "/sfp/api/tasks", {"type": "demo", "data": {"repository": "r"}}, secret) == 201


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
    wait_until(lambda: tcp_inodes(port, "0A") & socket_inodes(replacement), timeout=60, what="it to listen")
    assert min(served_by(port, now).values()) > 0  # the replacement takes its share, the dead one's socket none

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


def test_an_api_whose_port_another_of_our_apis_listens_on_ends_with_an_error(processes: Processes) -> None:
    # SO_REUSEPORT lets a second server of the same user bind the port: it must see the first one and end.
    port = free_port()
    processes.start("api-first", "api", "--port", str(port), "--processes", "2")
    wait_until(lambda: status(port, PING) == 200, timeout=60, what="the first API to answer")
    argv = [sys.executable, "-m", "workers", "api", "--port", str(port), "--processes", "2"]
    done = subprocess.run(argv, cwd=ROOT, env=processes.env(), capture_output=True, text=True, timeout=120)

    assert done.returncode != 0
    assert "another server listens on it" in done.stderr


def test_fewer_than_one_process_is_refused(processes: Processes) -> None:
    argv = [sys.executable, "-m", "workers", "api", "--port", str(free_port()), "--processes", "0"]
    done = subprocess.run(argv, cwd=ROOT, env=processes.env(), capture_output=True, text=True, timeout=120)

    assert done.returncode != 0
    assert "python -m workers api: --processes must be at least 1, got 0" in done.stderr
