"""Recovery in seconds: work Redis lost runs again as soon as Redis is back (not a sweeper's delay later), a
completion during a Redis outage is not interrupted by its own worker, a worker started while Postgres is
down waits for it, and the leader's duties go on when the scheduler process dies. Real processes throughout;
each test fails on the engine as it was before these changes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from django.db import connection
from django.utils import timezone

from sfpserver.accounts import tokens
from sfpserver.engine import scheduler, standby
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.models import Attempt, AttemptOutcome, RunStatus, ScheduledRun, StepRun, Worker, WorkerStatus
from sfpserver.engine.trigger import trigger
from tests.conftest import ROOT, Processes, wait_until
from tests.engine.helpers import executions, steps, wait_for_run
from tests.engine.test_faults import embedded_postgres, embedded_redis, fault_nodes, through_outage
from tests.engine.workflows import FAULT_QUEUE
from workers.lifeline import die_with_parent

__all__ = ["fault_nodes"]

pytestmark = [pytest.mark.fault, pytest.mark.usefixtures("platform")]

BACKLOG_QUEUE = "recovery-backlog"  # served only by the node the backlog test starts after the outage


@pytest.fixture
def slow_sweeper(platform: Processes) -> Iterator[None]:
    """The session's scheduler replaced by one whose sweeper waits 60 s (the default): what brings lost work
    back in these tests must be the recovery, not the test settings' 3 s sweeper."""
    platform.stop("scheduler")
    platform.start("scheduler-slow-sweeper", "scheduler", ENGINE_REDISPATCH_AFTER="60")
    yield
    platform.stop("scheduler-slow-sweeper")
    platform.start("scheduler", "scheduler")


def started(run_ids: list[UUID]) -> int:
    return StepRun.objects.filter(run_id__in=run_ids, started_at__isnull=False).count()


def test_work_redis_lost_in_a_restart_starts_within_seconds_of_redis_being_back(
    platform: Processes, slow_sweeper: None
) -> None:
    redis = embedded_redis()
    definition = WorkflowDef("t.recovery_backlog", steps=(StepDef("only", "t:echo", queue=BACKLOG_QUEUE),))
    run_ids = [trigger(definition, {"n": n}) for n in range(20)]
    time.sleep(1)  # published, waiting in Redis for a consumer

    redis.kill()
    for path in redis.data_dir.iterdir():  # the restart loses what Redis held
        if path.name.startswith("appendonly"):
            path.unlink() if path.is_file() else subprocess.run(["rm", "-rf", str(path)], check=True)
    redis.start()
    back = time.monotonic()
    platform.start_node("recovery-backlog-node", BACKLOG_QUEUE, concurrency=4)
    try:
        wait_until(lambda: started(run_ids) == 20, timeout=30, interval=0.1, what="the lost backlog to start")
        elapsed = time.monotonic() - back
        print(f"\nthe backlog lost with Redis all started {elapsed:.1f}s after Redis was back")
        assert elapsed < 10
        for run_id in run_ids:
            assert wait_for_run(run_id, timeout=30).status == RunStatus.COMPLETED
            assert executions(run_id, "only") == 1
    finally:
        platform.stop("recovery-backlog-node")


def test_a_step_completing_while_redis_is_down_is_not_interrupted_and_its_children_start_when_redis_is_back(
    platform: Processes, fault_nodes: Callable[..., None], slow_sweeper: None
) -> None:
    redis = embedded_redis()
    fault_nodes("recovery-node", concurrency=2)
    definition = WorkflowDef(
        "t.recovery_fanout",
        steps=(
            StepDef("a", "t:slow", queue=FAULT_QUEUE),
            StepDef("b", "t:echo", parents=("a",), queue=FAULT_QUEUE),
            StepDef("c", "t:echo", parents=("a",), queue=FAULT_QUEUE),
            StepDef("d", "t:echo", parents=("b", "c"), queue=FAULT_QUEUE),
        ),
    )
    run_id = trigger(definition, {"seconds": 2})
    wait_until(lambda: executions(run_id, "a") == 1, timeout=30, interval=0.05, what="a to run")
    redis.stop()
    wait_until(
        lambda: StepRun.objects.filter(run_id=run_id, name="a", status="COMPLETED").exists(),
        timeout=30,
        what="a to complete during the outage",
    )
    time.sleep(3)  # past the cancel grace and the orphan grace, while the completion's publish fails
    redis.start()
    run = wait_for_run(run_id, timeout=30)

    assert run.status == RunStatus.COMPLETED
    history = list(Attempt.objects.filter(step__run_id=run_id).values_list("step__name", "number", "outcome"))
    assert sorted(history) == [(name, 0, AttemptOutcome.COMPLETED) for name in "abcd"]  # no reassignment
    assert {name: executions(run_id, name) for name in "abcd"} == dict.fromkeys("abcd", 1)
    assert all(step.internal_retry_count == 0 for step in steps(run_id).values())


def test_an_sdk_worker_started_while_postgres_is_down_serves_once_it_is_up(platform: Processes) -> None:
    from tests.engine.recovery_worker import echo

    postgres = embedded_postgres()
    postgres.stop("immediate")
    log = ROOT / ".local" / "test" / "logs" / f"sdk-recovery-{os.getpid()}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.engine.recovery_worker"],
            cwd=ROOT,
            env=platform.env(),
            start_new_session=True,
            preexec_fn=die_with_parent,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "waiting for PostgreSQL" in log.read_text(), timeout=60, what="the worker to say it waits")
        assert proc.poll() is None  # waiting, not exited
        postgres.start()
        connection.close()
        worker = wait_until(
            through_outage(lambda: Worker.objects.filter(name="sdk-recovery-worker", pid=proc.pid).first()),
            timeout=60,
            what="the worker to register once Postgres is up",
        )
        assert worker.status == WorkerStatus.ACTIVE
        assert echo.run()["worker"] == str(worker.id)
    finally:
        if postgres.is_running() is False:
            postgres.start()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_when_the_scheduler_dies_a_worker_takes_the_lead_and_hands_it_back(platform: Processes) -> None:
    platform.kill("scheduler")
    died = timezone.now()
    try:
        due = died + timedelta(seconds=4)
        scheduled = ScheduledRun.objects.create(workflow_name="t.single", input={"when": "later"}, trigger_at=due)
        retried = trigger("t.backoff", {"fail_times": 1})  # its retry waits 1 s of backoff: a timer

        fired = wait_until(
            lambda: ScheduledRun.objects.filter(id=scheduled.id, run__isnull=False).first(),
            timeout=30,
            what="the scheduled run to fire without the scheduler",
        )
        assert fired.run is not None
        lateness = (fired.run.created_at - due).total_seconds()
        print(f"\nscheduled run fired {lateness:.2f}s after its time, with the scheduler dead")
        assert 0 <= lateness < 3
        assert wait_for_run(fired.run_id, timeout=30).status == RunStatus.COMPLETED
        assert wait_for_run(retried, timeout=30).status == RunStatus.COMPLETED
        assert executions(retried, "flaky") == 2
        assert standby.lock_held(scheduler.LEADER_LOCK_KEY)  # the scheduler is dead: a worker stands in
    finally:
        platform.start("scheduler", "scheduler")
    wait_until(lambda: "hands the lead back" in platform.logs(), timeout=30, what="the worker to hand the lead back")
    wait_until(lambda: standby.lock_held(scheduler.LEADER_LOCK_KEY), timeout=30, what="the scheduler to lead")
    took_over = platform.logs().count("takes over its timers")
    time.sleep(2)  # several stand-by checks: with the scheduler leading, no worker takes over again
    assert platform.logs().count("takes over its timers") == took_over


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _get(url: str, token: str) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_an_api_started_while_postgres_is_down_answers_503_until_it_is_up_then_serves(platform: Processes) -> None:
    issued = tokens.issue(f"recovery-{uuid4().hex[:8]}", "member")
    postgres = embedded_postgres()
    port = _free_port()
    postgres.stop("immediate")
    try:
        platform.start("api-during-outage", "api", "--port", str(port))
        url = f"http://127.0.0.1:{port}/sfp/api/runs"
        wait_until(lambda: "API is up and waiting for PostgreSQL" in platform.logs(), timeout=60, what="the API to say")
        wait_until(lambda: _port_open(port), timeout=60, what="the API to listen")
        assert _get(url, issued.secret) == (
            503,
            {"error": "unavailable", "detail": "the database is unavailable; retry in a few seconds"},
        )
        postgres.start()
        connection.close()
        status, _ = wait_until(lambda: (answer := _get(url, issued.secret))[0] == 200 and answer, timeout=60)
        assert status == 200
    finally:
        if not postgres.is_running():
            postgres.start()
        platform.stop("api-during-outage")
