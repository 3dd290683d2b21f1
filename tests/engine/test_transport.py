"""The workers' broker transport (config/redis_transport.py) keeps the messages a worker took and has not
acknowledged in its memory only. What Redis' unacknowledged hash did for them still happens: a worker stopped
gently puts the messages it had taken but not started back on their queue at once, for another worker (that one
runs them as any message: the claim's fence keeps each run once); one killed loses them with it, and the engine
publishes their steps again (the scheduler's sweeper; tests/engine/test_groupcommit_faults.py).
On real worker processes, Redis and Postgres."""

from __future__ import annotations

import base64
import json

import pytest

from config.celery import app
from sfpserver.engine.models import StepRun, StepStatus, Worker, WorkerStatus, WorkflowRun
from sfpserver.engine.trigger import trigger
from tests.conftest import Processes, wait_until
from tests.engine.workflows import FAULT_QUEUE

pytestmark = [pytest.mark.fault, pytest.mark.usefixtures("platform")]

RUNS = 4


def start(platform: Processes, name: str, concurrency: int, prefetch: int) -> None:
    args = ("node", "--pool", FAULT_QUEUE, "--queues", FAULT_QUEUE, "--name", name)
    platform.start(name, *args, "--concurrency", str(concurrency), "--prefetch", str(prefetch))
    wait_until(lambda: Worker.objects.filter(name=name, status=WorkerStatus.ACTIVE).exists(), timeout=60)


def queued_steps() -> list[tuple[str, bool]]:
    """The steps whose messages wait on the fault queue, and whether each message was put back by a worker."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel  # type: ignore[attr-defined]
        keys = {channel._q_for_pri(FAULT_QUEUE, priority) for priority in channel.priority_steps}
        raw = [message for key in keys for message in channel.client.lrange(key, 0, -1)]
    messages = [json.loads(message) for message in raw]
    return [(json.loads(base64.b64decode(m["body"]))[0][0], bool(m["headers"].get("redelivered"))) for m in messages]


def test_a_worker_stopped_gently_puts_back_the_messages_it_took_and_had_not_started(nodes: Processes) -> None:
    start(nodes, "transport-stopped", concurrency=1, prefetch=RUNS)
    runs = [trigger("t.fault_slow", {"seconds": 1}) for _ in range(RUNS)]
    running = StepRun.objects.filter(run_id__in=runs, status=StepStatus.RUNNING)
    wait_until(lambda: running.count() == 1 and not queued_steps(), what="one step running, three taken")

    nodes.stop("transport-stopped")  # SIGTERM: the running step finishes; the three it only took go back
    taken_back = [step for step, redelivered in queued_steps() if redelivered]
    not_started = StepRun.objects.filter(run_id__in=runs, status=StepStatus.QUEUED)
    assert sorted(taken_back) == sorted(str(step.id) for step in not_started)
    assert len(taken_back) == RUNS - 1  # (the scheduler may also have sent them again: duplicates, fenced)

    WorkflowRun.objects.filter(id__in=runs).delete()  # no later fault-queue worker is to run them
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(FAULT_QUEUE)  # type: ignore[attr-defined]
