"""hatchet.worker(...) lifecycle: graceful shutdown on SIGTERM, and definition errors at registration."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sfpserver.engine.models import StepRun, Worker
from sfpserver.hatchet import ConcurrencyExpression, ConcurrencyLimitStrategy, Context, EmptyModel, Hatchet, RateLimit
from tests.conftest import ROOT, Processes, wait_until
from workers.lifeline import die_with_parent


def test_sigterm_pauses_the_worker_lets_running_tasks_finish_then_tears_down(
    platform: Processes, tmp_path: Path
) -> None:
    from tests.hatchet.drain_worker import slow

    marker = tmp_path / "marker"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hatchet.drain_worker"],
        cwd=ROOT,
        env=platform.env(DRAIN_MARKER=str(marker)),
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    try:
        worker = wait_until(
            lambda: Worker.objects.filter(name="sdk-drain-worker", pid=proc.pid, status="ACTIVE").first(),
            timeout=60,
            what="the drain worker",
        )
        ref = slow.run(wait_for_result=False)
        wait_until(
            lambda: StepRun.objects.filter(run_id=ref.workflow_run_id, status="RUNNING").exists(),
            what="the task to start",
        )
        os.killpg(proc.pid, signal.SIGTERM)
        wait_until(lambda: Worker.objects.get(id=worker.id).status == "PAUSED", timeout=5, what="PAUSED")
        late = slow.run(wait_for_result=False)  # arrives while draining: must not start here
        result = ref.result()
        assert result["worker"] == str(worker.id)
        assert result["retry_count"] == 0
        assert result["lifespan"] == "opened"
        assert proc.wait(timeout=30) == 0
        assert marker.read_text() == "torn down"
        assert StepRun.objects.get(run_id=late.workflow_run_id).status == "QUEUED"
        assert Worker.objects.get(id=worker.id).status == "STOPPED"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def hatchet(db_access: None) -> Hatchet:
    return Hatchet()


def test_duplicate_task_names_after_lower_casing_are_refused_at_registration(hatchet: Hatchet) -> None:
    wf = hatchet.workflow(name="DupNames")

    @wf.task(name="Step")
    def one(input: EmptyModel, ctx: Context) -> None: ...

    @wf.task(name="step")
    def two(input: EmptyModel, ctx: Context) -> None: ...

    with pytest.raises(ValueError, match="Duplicate task names"):
        hatchet.worker("w", workflows=[wf])._register()


def test_a_parent_from_another_workflow_is_refused(hatchet: Hatchet) -> None:
    first, second = hatchet.workflow(name="First"), hatchet.workflow(name="Second")

    @first.task()
    def foreign(input: EmptyModel, ctx: Context) -> None: ...

    @second.task(parents=[foreign])
    def child(input: EmptyModel, ctx: Context) -> None: ...

    with pytest.raises(ValueError, match="from another workflow"):
        second.to_definition()


def test_a_workflow_without_tasks_is_refused(hatchet: Hatchet) -> None:
    with pytest.raises(ValueError, match="has no tasks"):
        hatchet.worker("w", workflows=[hatchet.workflow(name="Empty")])._register()


def test_an_invalid_cron_is_refused(hatchet: Hatchet) -> None:
    wf = hatchet.workflow(name="BadCron", on_crons=["every day at noon"])

    @wf.task()
    def step(input: EmptyModel, ctx: Context) -> None: ...

    with pytest.raises(ValueError, match="invalid cron expression"):
        wf.to_definition()
    with pytest.raises(ValueError, match="invalid cron expression"):
        hatchet.cron.create("BadCron", "nightly", "61 * * * *")


def test_max_runs_must_be_positive_and_a_rate_limit_takes_one_key() -> None:
    with pytest.raises(ValueError, match="max_runs must be greater than 0"):
        ConcurrencyExpression(
            expression="input.x", max_runs=0, limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN
        )
    with pytest.raises(ValueError, match="Cannot have both static key and dynamic key set"):
        RateLimit(static_key="a", dynamic_key="input.b", limit=1)
    with pytest.raises(ValueError, match="CEL based keys requires limit to be set"):
        RateLimit(dynamic_key="input.b")


def test_input_that_fails_the_validator_is_refused_at_trigger_and_records_nothing(hatchet: Hatchet) -> None:
    from pydantic import BaseModel, ValidationError

    from sfpserver.engine.models import WorkflowRun

    class Strict(BaseModel):
        count: int

    wf = hatchet.workflow(name="StrictInput", input_validator=Strict)

    @wf.task()
    def step(input: Strict, ctx: Context) -> None: ...

    before = WorkflowRun.objects.count()
    with pytest.raises(ValidationError, match="count"):
        wf.run({"count": "not a number"}, wait_for_result=False)
    assert WorkflowRun.objects.count() == before


def test_mock_run_runs_task_logic_without_a_broker() -> None:
    from tests.hatchet import workflows as wf

    assert wf.second.mock_run(wf.StepInput(value=1), parent_outputs={"first": {"doubled": 4}}) == {"plus_one": 5}
    assert wf.flaky.mock_run(wf.StepInput(fail_times=0), retry_count=0) == {"attempts": 1, "max_attempts": 4}
