"""Workflow pause on real workers and the scheduler: a paused workflow's runs are created but wait, start after the
unpause in the order they came, are cancelled past the queue TTL; its crons and scheduled runs are held."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from sfpserver.engine import cron
from sfpserver.engine.models import Attempt, CronFiring, ScheduledRun, StepRun, WorkflowRun
from sfpserver.hatchet import EmptyModel
from tests.conftest import wait_until
from tests.hatchet import feature_workflows as fw

pytestmark = pytest.mark.usefixtures("sdk_worker")

SCHEDULER_TICKS = 2.0  # long enough for the platform's scheduler to tick a few times (ENGINE_TICK 0.5 s)


@pytest.fixture(autouse=True)
def unpaused_afterwards() -> Iterator[None]:
    yield
    fw.pausable.unpause()


def cron_name(created: object) -> str:
    return str(PeriodicTask.objects.get(id=created.metadata.id).name)  # type: ignore[attr-defined]


def held_step(run_id: str) -> StepRun:
    return StepRun.objects.get(run_id=run_id)


def test_a_paused_workflows_run_waits_then_starts_after_the_unpause() -> None:
    fw.pausable.pause(timedelta(minutes=10))
    ref = fw.pausable.run(wait_for_result=False)
    time.sleep(SCHEDULER_TICKS)  # the worker and the scheduler have had every chance to start it
    step = held_step(ref.workflow_run_id)
    assert (step.status, step.waiting_for) == ("QUEUED", "paused")
    assert WorkflowRun.objects.get(id=ref.workflow_run_id).status == "QUEUED"
    assert not Attempt.objects.filter(step=step).exists()

    fw.pausable.unpause()
    assert ref.result() == {"pausable_step": {"run": ref.workflow_run_id}}


def test_the_unpause_releases_held_runs_oldest_first() -> None:
    fw.pausable.pause(timedelta(minutes=10))
    refs = [fw.pausable.run(wait_for_result=False) for _ in range(3)]
    fw.pausable.unpause()
    for ref in refs:
        ref.result()
    released = [held_step(ref.workflow_run_id).available_at for ref in refs]
    assert released == sorted(released)


def test_a_run_held_past_the_queue_ttl_is_cancelled() -> None:
    fw.pausable.pause(timedelta(seconds=1))
    ref = fw.pausable.run(wait_for_result=False)
    run = wait_until(
        lambda: WorkflowRun.objects.filter(id=ref.workflow_run_id, status="CANCELLED").first(),
        what="the held run to be cancelled after its queue TTL",
    )
    step = held_step(ref.workflow_run_id)
    assert (step.status, step.error, step.waiting_for) == ("CANCELLED", "paused workflow queue item TTL expired", None)
    assert run.started_at is None


def test_while_paused_with_drop_a_cron_does_not_fire_and_a_schedule_waits_for_the_unpause() -> None:
    marker = str(uuid.uuid4())
    fw.pausable.pause(
        timedelta(minutes=10),
        paused_workflow_cron_run_queue_behavior="DROP",
        paused_workflow_scheduled_run_queue_behavior="DROP",
    )
    created = fw.pausable.create_cron(f"paused-{marker}", "* * * * *", additional_metadata={"marker": marker})
    scheduled = fw.pausable.schedule(timezone.now() + timedelta(seconds=0.5), additional_metadata={"marker": marker})
    try:
        assert cron.fire_due(timezone.now() + timedelta(minutes=1, seconds=1)) >= 0
        time.sleep(SCHEDULER_TICKS)  # the schedule is due; the platform's scheduler ticked past it
        assert not CronFiring.objects.filter(schedule_name=cron_name(created)).exists()
        assert ScheduledRun.objects.get(id=scheduled.metadata.id).status == "SCHEDULED"
        assert not WorkflowRun.objects.filter(additional_metadata__marker=marker).exists()

        fw.pausable.unpause()
        row = wait_until(
            lambda: ScheduledRun.objects.filter(id=scheduled.metadata.id, status="TRIGGERED").first(),
            what="the held schedule to fire after the unpause",
        )
        assert fw.hatchet.runs.get_run_ref(str(row.run_id)).result()["pausable_step"]["run"] == str(row.run_id)
    finally:
        PeriodicTask.objects.filter(id=created.metadata.id).delete()


def test_while_paused_with_queue_a_cron_firing_starts_a_run_that_waits_for_the_unpause() -> None:
    marker = str(uuid.uuid4())
    fw.pausable.pause(timedelta(minutes=10))
    created = fw.pausable.create_cron(f"queued-{marker}", "* * * * *", additional_metadata={"marker": marker})
    try:
        cron.fire_due(timezone.now() + timedelta(minutes=1, seconds=1))
        time.sleep(SCHEDULER_TICKS)
        run_ids = [str(f.run_id) for f in CronFiring.objects.filter(schedule_name=cron_name(created))]
        assert run_ids  # (the platform's scheduler may have fired it too: each firing is held)
        assert {held_step(run_id).waiting_for for run_id in run_ids} == {"paused"}

        fw.pausable.unpause()
        for run_id in run_ids:
            assert fw.hatchet.runs.get_run_ref(run_id).result() == {"pausable_step": {"run": run_id}}
    finally:
        PeriodicTask.objects.filter(id=created.metadata.id).delete()


def test_pause_and_unpause_through_the_workflows_client_and_aio_twins() -> None:
    import asyncio

    summary = asyncio.run(fw.hatchet.workflows.aio_pause(fw.pausable.id, timedelta(minutes=1)))
    assert summary.name == "SdkPausable"
    ref = fw.pausable.run(EmptyModel(), wait_for_result=False)
    assert held_step(ref.workflow_run_id).waiting_for == "paused"
    asyncio.run(fw.pausable.aio_unpause())
    assert asyncio.run(ref.aio_result()) == {"pausable_step": {"run": ref.workflow_run_id}}
