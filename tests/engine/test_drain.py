"""Graceful update: drain (no new step starts, running steps finish) → restart → resume (the rest completes),
with nothing lost and nothing run twice. Real worker processes; the commands run as they would in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from django.utils import timezone

from sfpserver.engine import drain, lifecycle, scheduler
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.models import Attempt, StepRun, StepStatus, WaitingFor, Worker, WorkerStatus
from sfpserver.engine.trigger import trigger
from tests.conftest import ROOT, Processes, wait_until
from tests.engine.helpers import attempts, executions, steps, wait_for_run

pytestmark = pytest.mark.usefixtures("platform")


@pytest.fixture(autouse=True)
def resumed_afterwards() -> Iterator[None]:
    """Whatever a test leaves behind, the engine is not left draining for the next one."""
    yield
    drain.resume()


def manage(platform: Processes, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=platform.env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str]:
    output, _ = proc.communicate(timeout=timeout)
    return proc.returncode, output


def chain(name: str, queue: str = "standard") -> WorkflowDef:
    """A slow first step, then two quick ones: in flight at the drain, the rest waits for the resume."""
    return WorkflowDef(
        name,
        steps=(
            StepDef("first", "t:slow", queue=queue),
            StepDef("second", "t:echo", parents=("first",), queue=queue),
            StepDef("third", "t:echo", parents=("second",), queue=queue),
        ),
    )


def running(run_ids: list[UUID]) -> list[StepRun]:
    return list(StepRun.objects.filter(run_id__in=run_ids, status=StepStatus.RUNNING))


def nothing_starts_for(seconds: float) -> None:
    """Over a few seconds, no step runs anywhere and no attempt starts."""
    since = drain.drain_started_at()
    assert since is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not StepRun.objects.filter(status=StepStatus.RUNNING).exists()
        assert not Attempt.objects.filter(started_at__gt=since).exists()
        time.sleep(0.2)


def restart_standard_pool(platform: Processes) -> None:
    """As an orchestrator restarts a pool: SIGTERM, every worker stops cleanly, new ones register."""
    old = set(Worker.objects.filter(pool="standard", status=WorkerStatus.ACTIVE).values_list("id", flat=True))
    pool = platform.procs.pop("standard")
    os.killpg(pool.pid, signal.SIGTERM)
    pool.wait(timeout=25)  # a worker hanging in its shutdown fails the test here
    assert set(Worker.objects.filter(id__in=old).values_list("status", flat=True)) == {WorkerStatus.STOPPED}
    platform.start("standard", "standard", "--count", "2")
    wait_until(
        lambda: Worker.objects.filter(pool="standard", status=WorkerStatus.ACTIVE).exclude(id__in=old).count() >= 2,
        timeout=60,
        what="the restarted standard pool to register",
    )


def test_a_drain_lets_running_steps_finish_starts_nothing_new_and_resume_completes_the_rest(
    platform: Processes,
) -> None:
    workflow = chain(f"d.update-{uuid4().hex[:8]}")
    in_flight = [trigger(workflow, {"seconds": 5}) for _ in range(3)]
    wait_until(lambda: len(running(in_flight)) == 3, what="three first steps to run")
    started = {step.id for step in running(in_flight)}

    draining = manage(platform, "drain", "--timeout", "60")
    wait_until(drain.is_draining, what="the drain flag")
    accepted = trigger(workflow, {"seconds": 0.1})  # new runs are accepted and queued while draining
    code, output = finish(draining)

    assert code == 0, output
    assert "drained: no step is running" in output
    assert all(StepRun.objects.get(id=step_id).status == StepStatus.COMPLETED for step_id in started)
    assert {steps(run_id)["second"].status for run_id in in_flight} == {StepStatus.QUEUED}
    assert steps(accepted)["first"].status == StepStatus.QUEUED
    nothing_starts_for(3)

    restart_standard_pool(platform)
    nothing_starts_for(2)
    code, output = finish(manage(platform, "resume"))
    assert code == 0, output

    for run_id in [*in_flight, accepted]:
        assert wait_for_run(run_id, timeout=60).status == "COMPLETED"
        assert [executions(run_id, name) for name in ("first", "second", "third")] == [1, 1, 1]
        assert all(len(attempts(step)) == 1 for step in steps(run_id).values())


def test_a_drain_that_times_out_reports_what_still_runs_and_the_restart_requeues_it(platform: Processes) -> None:
    queue = f"drain-{uuid4().hex[:8]}"
    platform.start_node("drain-node-old", queue, concurrency=1)
    run_id = trigger(chain(f"d.timeout-{uuid4().hex[:8]}", queue=queue), {"seconds": 6})
    wait_until(lambda: executions(run_id, "first") == 1, timeout=60, what="the long step to start")

    code, output = finish(manage(platform, "drain", "--timeout", "1"))

    assert code == 3, output
    assert "1 step(s) still running after 1s" in output
    assert f"run {run_id} " in output and "step first attempt 0 on worker drain-node-old" in output
    platform.kill("drain-node-old")  # the restart: the orchestrator's patience ran out
    first = steps(run_id)["first"]
    wait_until(lambda: steps(run_id)["first"].status == StepStatus.QUEUED, what="the dead worker's step re-queued")
    platform.start_node("drain-node-new", queue, concurrency=1)
    nothing_starts_for(2)

    drain.resume()
    assert wait_for_run(run_id, timeout=60).status == "COMPLETED"
    assert [a["outcome"] for a in attempts(first)] == ["REASSIGNED", "COMPLETED"]
    assert [executions(run_id, name) for name in ("second", "third")] == [1, 1]
    platform.stop("drain-node-new")


def test_a_step_queued_during_a_drain_is_not_cancelled_by_its_schedule_timeout() -> None:
    drain.start()
    patient = WorkflowDef(f"d.patient-{uuid4().hex[:8]}", steps=(StepDef("only", "t:echo", schedule_timeout=1),))
    run_id = trigger(patient)
    time.sleep(2.5)  # well past the schedule timeout, several scheduler ticks

    assert steps(run_id)["only"].status == StepStatus.QUEUED
    drain.resume()
    assert wait_for_run(run_id).status == "COMPLETED"
    assert executions(run_id, "only") == 1


# --- the rules underneath, checked in this process on a queue nobody serves ------------------------------

UNSERVED = "drain-unserved"


def unserved_run() -> tuple[UUID, StepRun]:
    run_id = trigger(WorkflowDef(f"d.rule-{uuid4().hex[:8]}", steps=(StepDef("only", "t:echo", queue=UNSERVED),)))
    return run_id, steps(run_id)["only"]


def test_no_claim_succeeds_while_draining_and_the_refused_step_is_left_for_the_sweeper() -> None:
    _, step = unserved_run()
    drain.start()

    assert lifecycle.claim(step.id, step.attempt, None, "test") is None
    assert drain.push_back(step.id, step.attempt)
    scheduler.release_due_steps()
    assert StepRun.objects.get(id=step.id).waiting_for == WaitingFor.BROKER  # no sweeper publishes it while draining

    drain.resume()
    assert StepRun.objects.get(id=step.id).waiting_for == WaitingFor.DELIVERED  # published again by resume
    assert lifecycle.claim(step.id, step.attempt, None, "test") is not None
    lifecycle.cancel_step(step.id)


def test_a_child_run_of_a_running_step_may_start_during_a_drain() -> None:
    parent_run, parent = unserved_run()
    assert lifecycle.claim(parent.id, parent.attempt, None, "test") is not None
    child_run = trigger(
        WorkflowDef(f"d.child-{uuid4().hex[:8]}", steps=(StepDef("only", "t:echo", queue=UNSERVED),)),
        parent_step_id=parent.id,
        child_index=0,
    )
    _, unrelated = unserved_run()
    drain.start()

    child = steps(child_run)["only"]
    assert lifecycle.claim(child.id, child.attempt, None, "test") is not None  # its parent waits for it
    assert lifecycle.claim(unrelated.id, unrelated.attempt, None, "test") is None
    assert not drain.push_back(child.id, child.attempt)
    for run_id in (parent_run, child_run):
        lifecycle.cancel_run(run_id)
    lifecycle.cancel_step(unrelated.id)


def test_resume_gives_queued_steps_back_the_schedule_time_the_drain_took() -> None:
    _, step = unserved_run()
    before = timezone.now()
    drain.start()
    time.sleep(1)
    drain.resume()
    after = timezone.now()

    deadline, original = StepRun.objects.get(id=step.id).schedule_deadline, step.schedule_deadline
    assert deadline is not None and original is not None
    assert timedelta(seconds=1) <= deadline - original <= after - before
    lifecycle.cancel_step(step.id)
