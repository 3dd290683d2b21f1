from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROOT, Processes, wait_until
from workers.lifeline import die_with_parent

HEALTH_PORT = int(os.environ.get("TEST_HEALTH_PORT", "18011"))


def health() -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{HEALTH_PORT}/health", timeout=1) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


def start_sdk_worker(procs: Processes) -> subprocess.Popen[bytes]:
    env = procs.env(
        HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED="true", HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT=str(HEALTH_PORT)
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hatchet.run_worker"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    procs.procs["sdk-worker"] = proc
    wait_until(lambda: health()[0] == 200, timeout=60, what="the SDK worker's /health")
    return proc


@pytest.fixture(scope="session")
def sdk_worker(platform: Processes) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_sdk_worker(platform)
    yield proc
    if "sdk-worker" in platform.procs:
        platform.stop("sdk-worker")


@pytest.fixture(scope="session")
def routing_worker(live_db: None) -> Iterator[subprocess.Popen[bytes]]:
    """The SDK worker of the event filter and webhook tests (tests/hatchet/routing_workflows.py)."""
    from sfpserver.engine.models import Worker, WorkerStatus
    from tests.hatchet.routing_workflows import WORKER_NAME

    procs = Processes()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hatchet.routing_workflows"],
        cwd=ROOT,
        env=procs.env(),
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    procs.procs["routing-worker"] = proc
    wait_until(
        lambda: Worker.objects.filter(name=WORKER_NAME, status=WorkerStatus.ACTIVE).exists(),
        timeout=60,
        what="the routing test worker",
    )
    yield proc
    procs.stop_all()


class DurableWorker:
    """The durable test worker as a process of its own, started and killed at will."""

    def __init__(self, platform: Processes) -> None:
        self.platform = platform
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, slots: int = 1) -> subprocess.Popen[bytes]:
        from sfpserver.engine.models import Worker

        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.hatchet.durable_worker"],
            cwd=ROOT,
            env=self.platform.env(DURABLE_SLOTS=str(slots)),
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.procs.append(proc)
        wait_until(
            lambda: Worker.objects.filter(name="sdk-durable-worker", pid=proc.pid, status="ACTIVE").exists(),
            timeout=60,
            what="the durable worker",
        )
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def durable(platform: Processes) -> Iterator[DurableWorker]:
    workers = DurableWorker(platform)
    yield workers
    workers.stop_all()
