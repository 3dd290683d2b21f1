"""Fault tests on real worker processes, real Redis and real Postgres: workers killed mid-step, Redis and
Postgres restarted mid-run, the broker down at trigger time, stale and duplicated messages, the cap on
reassignments. Each proves that nothing is lost and nothing is completed twice."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from config.celery import app
from config.embedded import EmbeddedPostgres, EmbeddedRedis
from sfpserver.engine import lifecycle
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.dispatch import RUN_STEP_TASK
from sfpserver.engine.models import (
    Attempt,
    AttemptOutcome,
    RunStatus,
    StepRun,
    StepStatus,
    WaitingFor,
    Worker,
    WorkerStatus,
    WorkflowRun,
)
from sfpserver.engine.trigger import trigger
from tests.conftest import Processes, wait_until
from tests.engine.helpers import attempts, executions, steps, wait_for_run
from tests.engine.workflows import FAULT_QUEUE
from tests.services import services

pytestmark = [pytest.mark.fault, pytest.mark.usefixtures("platform")]

T = TypeVar("T")
PLATFORM_POOLS = ("standard", "long-running")
CHAIN = ("s0", "s1", "s2", "s3", "s4")
PLATFORM_WORKERS = 3  # the platform fixture starts two standard nodes and one long-running node
UNSERVED_QUEUE = "fault-unserved"  # no process consumes it: steps there wait until a test claims them


# --- helpers ------------------------------------------------------------------------------------------------


@pytest.fixture
def fault_nodes(platform: Processes) -> Iterator[Callable[..., None]]:
    """Start dedicated worker processes on the fault queue; whatever is still alive is stopped afterwards."""
    started: list[str] = []

    def start(*names: str, concurrency: int = 2) -> None:
        for name in names:
            platform.start_node(name, FAULT_QUEUE, concurrency)
            started.append(name)
        wait_until(
            lambda: Worker.objects.filter(name__in=names, status=WorkerStatus.ACTIVE).count() == len(names),
            timeout=60,
            what=f"{', '.join(names)} to register",
        )

    yield start
    for name in started:
        if name in platform.procs:
            platform.stop(name)


def embedded_redis() -> EmbeddedRedis:
    redis = services().redis
    if redis is None:
        pytest.skip("REDIS_URL names an external Redis; this test restarts the embedded one")
    return redis


def embedded_postgres() -> EmbeddedPostgres:
    postgres = services().postgres
    if postgres is None:
        pytest.skip("DATABASE_URL names an external Postgres; this test restarts the embedded one")
    return postgres


def through_outage(read: Callable[[], T]) -> Callable[[], T | None]:
    """A read that reconnects instead of failing while the database comes back."""

    def attempt() -> T | None:
        try:
            return read()
        except (OperationalError, InterfaceError):
            connection.close()
            return None

    return attempt


def running_step(run_id: UUID, name: str) -> StepRun | None:
    """The step once its code is really running (its first line has executed) on a known worker."""
    step = StepRun.objects.select_related("worker").filter(run_id=run_id, name=name, status=StepStatus.RUNNING).first()
    if step is None or step.worker is None or executions(run_id, name) < step.attempt + 1:
        return None
    return step


def completed_attempts(run_id: UUID) -> Counter[str]:
    done = Attempt.objects.filter(step__run_id=run_id, outcome=AttemptOutcome.COMPLETED)
    return Counter(done.values_list("step__name", flat=True))


def assert_every_step_ran_and_completed_once(run_id: UUID, names: tuple[str, ...]) -> None:
    assert {name: executions(run_id, name) for name in names} == dict.fromkeys(names, 1)
    assert completed_attempts(run_id) == Counter(dict.fromkeys(names, 1))
    assert all(step.status == StepStatus.COMPLETED for step in steps(run_id).values())


def send_run_step(step_id: UUID, attempt: int, queue: str = FAULT_QUEUE) -> None:
    """Publish the engine's message by hand, as a redelivery or a duplicate would arrive."""
    app.send_task(RUN_STEP_TASK, args=[str(step_id), attempt], queue=queue)


def snapshot(run_id: UUID) -> dict[str, Any]:
    """Everything a stale message could change about a run."""
    run = WorkflowRun.objects.values("status", "output", "error", "finished_at").get(id=run_id)
    step_rows = (
        StepRun.objects.filter(run_id=run_id)
        .order_by("name")
        .values("name", "status", "attempt", "output", "worker_id", "started_at", "finished_at")
    )
    tries = (
        Attempt.objects.filter(step__run_id=run_id)
        .order_by("step__name", "number")
        .values("step__name", "number", "outcome", "worker_id", "started_at", "finished_at")
    )
    return {"run": run, "steps": list(step_rows), "attempts": list(tries)}


def purge(queue: str) -> None:
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)  # type: ignore[attr-defined]


def assert_every_platform_worker_beats_since(moment: datetime) -> None:
    """The session's worker processes lived through the outage: all of them are active and beating."""
    workers = Worker.objects.filter(pool__in=PLATFORM_POOLS)
    fresh = workers.filter(status=WorkerStatus.ACTIVE, last_heartbeat__gt=moment)
    try:
        wait_until(lambda: fresh.count() == PLATFORM_WORKERS, timeout=30)
    except AssertionError:
        rows = list(workers.order_by("name").values_list("name", "status", "last_heartbeat"))
        raise AssertionError(f"not every platform worker is beating since {moment}: {rows}") from None


# --- a worker killed mid-step -------------------------------------------------------------------------------


def test_a_step_whose_worker_is_killed_finishes_on_another_worker_and_nothing_runs_twice(
    platform: Processes, fault_nodes: Callable[..., None]
) -> None:
    fault_nodes("fault-a", "fault-b")
    run_id = trigger("t.fault", {"seconds": 3})
    two = wait_until(lambda: running_step(run_id, "two"), timeout=30, interval=0.05, what="step two to run")
    victim = two.worker.name
    survivor = ({"fault-a", "fault-b"} - {victim}).pop()

    platform.kill(victim)
    killed_at = time.monotonic()
    wait_until(
        lambda: Attempt.objects.filter(step=two, number=0, outcome=AttemptOutcome.REASSIGNED).exists(),
        timeout=30,
        interval=0.05,
        what="the lost attempt to be reassigned",
    )
    print(f"\nworker death detected and its step re-queued {time.monotonic() - killed_at:.1f}s after SIGKILL")

    run = wait_for_run(run_id, timeout=60)
    assert run.status == RunStatus.COMPLETED
    two = steps(run_id)["two"]
    assert two.worker is not None and two.worker.name == survivor
    history = Attempt.objects.filter(step=two).order_by("number")
    assert [(a.outcome, a.worker_name) for a in history] == [
        (AttemptOutcome.REASSIGNED, victim),
        (AttemptOutcome.COMPLETED, survivor),
    ]
    assert history[0].error_type == "WorkerLost"
    assert executions(run_id, "one") == 1 and executions(run_id, "three") == 1
    assert executions(run_id, "two") == 2  # cut short on the victim, then whole on the survivor
    assert completed_attempts(run_id) == Counter({"one": 1, "two": 1, "three": 1})
    assert (two.app_retry_count, two.internal_retry_count) == (0, 1)  # the step's own retries are untouched
    assert Worker.objects.get(name=victim).status == WorkerStatus.DEAD


def test_a_killed_worker_is_declared_dead(platform: Processes, fault_nodes: Callable[..., None]) -> None:
    fault_nodes("fault-lone", concurrency=1)
    platform.kill("fault-lone")
    killed_at = timezone.now()
    worker = wait_until(
        lambda: Worker.objects.filter(name="fault-lone", status=WorkerStatus.DEAD).first(),
        timeout=30,
        what="the killed worker to be declared dead",
    )
    assert worker.last_heartbeat <= killed_at
    assert worker.stopped_at is None  # it never said goodbye: it was found dead


# --- broker and database outages ----------------------------------------------------------------------------


def test_a_run_survives_redis_crashing_and_restarting_mid_chain(platform: Processes) -> None:
    redis = embedded_redis()
    run_id = trigger("t.reporting_chain", {"seconds": 1})
    wait_until(lambda: running_step(run_id, "s1"), timeout=30, interval=0.05, what="s1 to run")
    redis.kill()
    try:
        time.sleep(2)  # s1 finishes while the broker is gone: s2's message cannot be published yet
    finally:
        redis.start()
    back_at = timezone.now()

    run = wait_for_run(run_id, timeout=60)
    assert run.status == RunStatus.COMPLETED
    assert_every_step_ran_and_completed_once(run_id, CHAIN)
    # Every worker process survived, the one that was running s1 too, and both pools consume again.
    assert_every_platform_worker_beats_since(back_at)
    for workflow in ("t.single", "t.long_pool"):
        assert wait_for_run(trigger(workflow, {"seconds": 0.1}), timeout=60).status == RunStatus.COMPLETED


def test_a_run_survives_postgres_restarting_mid_chain(platform: Processes) -> None:
    postgres = embedded_postgres()
    run_id = trigger("t.reporting_chain", {"seconds": 2})
    wait_until(lambda: running_step(run_id, "s1"), timeout=30, interval=0.05, what="s1 to run")
    postgres.stop("immediate")
    try:
        # Down longer than a worker may stay silent: s1 reports progress and finishes meanwhile, and its worker
        # must hold on to both; nobody may be declared dead for the database's silence.
        time.sleep(settings.ENGINE_WORKER_DEAD_AFTER + 0.5)
    finally:
        postgres.start()
    back_at = timezone.now()
    connection.close()  # the test's own connection died with the server

    run = wait_until(
        through_outage(lambda: wait_for_run(run_id, timeout=60)), timeout=90, what="the run to finish after the restart"
    )
    assert run.status == RunStatus.COMPLETED
    assert_every_step_ran_and_completed_once(run_id, CHAIN)
    assert [a["outcome"] for a in attempts(steps(run_id)["s1"])] == [AttemptOutcome.COMPLETED]  # never reassigned
    assert_every_platform_worker_beats_since(back_at)


def test_a_run_triggered_while_the_broker_is_down_starts_once_it_is_back(platform: Processes) -> None:
    redis = embedded_redis()
    redis.stop()
    try:
        run_id = trigger("t.single", {"n": 1})  # records the run and returns; no exception
        wait_until(
            lambda: StepRun.objects.filter(
                run_id=run_id, name="only", status=StepStatus.QUEUED, waiting_for=WaitingFor.BROKER
            ).exists(),
            timeout=10,
            what="the root step to wait for the sweeper, undispatched",
        )
        assert WorkflowRun.objects.get(id=run_id).status == RunStatus.QUEUED
        assert executions(run_id, "only") == 0
    finally:
        redis.start()

    run = wait_for_run(run_id, timeout=60)
    assert run.status == RunStatus.COMPLETED
    assert_every_step_ran_and_completed_once(run_id, ("only",))


# --- fencing ------------------------------------------------------------------------------------------------


def test_duplicated_and_late_messages_change_nothing(platform: Processes, fault_nodes: Callable[..., None]) -> None:
    run_id = trigger("t.fault", {"seconds": 0.1})  # nobody serves the fault queue yet: its message waits
    one = steps(run_id)["one"]
    send_run_step(one.id, 0)  # a second copy of the same message
    fault_nodes("fault-fence", concurrency=1)  # one slot: messages are handled strictly in order

    run = wait_for_run(run_id, timeout=60)
    assert run.status == RunStatus.COMPLETED
    assert_every_step_ran_and_completed_once(run_id, ("one", "two", "three"))
    before = snapshot(run_id)

    for step in steps(run_id).values():
        send_run_step(step.id, 0)  # late: that attempt completed long ago
        send_run_step(step.id, 1)  # an attempt that was never queued
    marker = trigger("t.fault", {"seconds": 0.1})  # queued behind the stale messages, so handled after them
    assert wait_for_run(marker, timeout=60).status == RunStatus.COMPLETED

    assert snapshot(run_id) == before
    assert_every_step_ran_and_completed_once(run_id, ("one", "two", "three"))


# --- the reassignment cap -----------------------------------------------------------------------------------


def test_a_step_whose_worker_keeps_dying_fails_once_the_reassignment_cap_is_reached(platform: Processes) -> None:
    cap = settings.ENGINE_MAX_REASSIGNMENTS  # the scheduler reads the same environment
    doomed = WorkflowDef("t.doomed", (StepDef("doomed", "t:slow", queue=UNSERVED_QUEUE, retries=2),))
    run_id = trigger(doomed)
    step_id = steps(run_id)["doomed"].id
    ghosts = []
    try:
        for death in range(cap + 1):
            ghosts.append(_claim_and_die(step_id, death))
        run = wait_for_run(run_id, timeout=30)
    finally:
        purge(UNSERVED_QUEUE)

    assert run.status == RunStatus.FAILED
    step = steps(run_id)["doomed"]
    assert (step.status, step.error_type, step.error) == (
        StepStatus.FAILED,
        "WorkerLost",
        "Task reached its maximum reassignment count",
    )
    assert [a["outcome"] for a in attempts(step)] == [AttemptOutcome.REASSIGNED] * (cap + 1)
    assert (step.app_retry_count, step.internal_retry_count) == (0, cap)  # its two retries were never used
    assert set(Worker.objects.filter(id__in=ghosts).values_list("status", flat=True)) == {WorkerStatus.DEAD}


def _claim_and_die(step_id: UUID, attempt: int) -> UUID:
    """A worker (a row only) takes the step's attempt, then falls silent; the scheduler must notice."""
    wait_until(
        lambda: StepRun.objects.filter(id=step_id, attempt=attempt, status=StepStatus.QUEUED).exists(),
        timeout=15,
        what=f"attempt {attempt} to be queued",
    )
    ghost = Worker.objects.create(
        name=f"ghost-{attempt}",
        pool="ghost",
        queues=[UNSERVED_QUEUE],
        hostname="nowhere",
        pid=0,
        slots=1,
        last_heartbeat=timezone.now(),
    )
    assert lifecycle.claim(step_id, attempt, ghost.id, ghost.name) is not None
    Worker.objects.filter(id=ghost.id).update(last_heartbeat=timezone.now() - timedelta(hours=1))
    ended = Attempt.objects.filter(step_id=step_id, number=attempt).exclude(outcome=AttemptOutcome.RUNNING)
    wait_until(
        ended.exists,
        timeout=15,
        what=f"the scheduler to notice that the worker of attempt {attempt} died",
    )
    return ghost.id
