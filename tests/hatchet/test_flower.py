"""Flower tells the truth, read through Flower's own HTTP API against real workers: a step shows under its
workflow and step name, a failed step as FAILURE with its error, and the broker page lists the standard,
long-running and SDK queues."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from sfpserver.engine.trigger import trigger
from tests.conftest import Processes, wait_until
from tests.hatchet.workflows import StepInput, dag

LOGIN = "ops:correct-horse-battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def flower(platform: Processes, sdk_worker: subprocess.Popen[bytes]) -> Iterator[int]:
    port = free_port()
    proc = platform.start("flower", "flower", "--port", str(port), FLOWER_BASIC_AUTH=LOGIN)
    try:
        wait_until(lambda: listening(port) or proc.poll() is not None, timeout=60, what="Flower to listen")
        assert proc.poll() is None, "Flower exited"
        yield port
    finally:
        platform.stop("flower")


def get(port: int, path: str) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    request.add_header("Authorization", "Basic " + base64.b64encode(LOGIN.encode()).decode())
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(response.read().decode())


def tasks_named(port: int, *names: str) -> dict[str, dict[str, Any]] | None:
    """Flower's latest task of each name, once each has reached a final state."""
    seen: dict[str, dict[str, Any]] = {}
    for task in json.loads(get(port, "/api/tasks")).values():
        if task["name"] in names and task["state"] in ("SUCCESS", "FAILURE"):
            seen[task["name"]] = task
    return seen if set(seen) == set(names) else None


def seen_after_a_run(port: int) -> bool:
    """Flower answers HTTP before its event receiver listens: run steps until it sees one."""
    trigger("t.single", {})
    return tasks_named(port, "t.single:only") is not None


def test_without_flower_a_step_sends_no_task_events(platform: Processes) -> None:
    """Task events are off until Flower asks for them (settings.CELERY_WORKER_SEND_TASK_EVENTS); this test runs
    before the one that starts Flower, which turns them on in the session's workers."""
    import redis
    from django.conf import settings

    from sfpserver.engine.models import RunStatus, WorkflowRun

    client = redis.Redis.from_url(settings.REDIS_URL)
    listener = client.pubsub()
    listener.psubscribe("*celeryev*")
    run_id = trigger("t.single", {})
    wait_until(lambda: WorkflowRun.objects.filter(id=run_id, status=RunStatus.COMPLETED).exists(), what="the run")
    received, until = [], time.monotonic() + 2  # what the run set off after its completion, too (heartbeats
    while time.monotonic() < until:  # go on all the while: read for a while, not until silence)
        message = listener.get_message(timeout=0.2)
        if message is not None:
            received.append(message)
    listener.close()
    task_events = [m["channel"] for m in received if m["type"] == "pmessage" and b".celeryev/task." in m["channel"]]
    assert task_events == []  # (the workers' own heartbeats still go out: one every 2 s per worker, not per step)


def test_flower_shows_each_step_by_name_a_failed_one_as_failure_and_every_queue(flower: int) -> None:
    wait_until(lambda: seen_after_a_run(flower), timeout=60, interval=1, what="Flower to receive events")
    trigger("t.no_retry", {})
    dag.run(StepInput(value=1), wait_for_result=False)
    names = ("t.single:only", "t.no_retry:refuse", "SdkDag:first")
    shown = wait_until(lambda: tasks_named(flower, *names), timeout=60, interval=0.5, what="Flower to see the steps")
    assert [shown[name]["state"] for name in names] == ["SUCCESS", "FAILURE", "SUCCESS"]
    assert "this input can never succeed" in shown["t.no_retry:refuse"]["exception"]
    broker = get(flower, "/broker")
    for queue in ("standard", "long-running", "hatchet.SdkDag"):
        assert f">{queue}<" in broker, queue
