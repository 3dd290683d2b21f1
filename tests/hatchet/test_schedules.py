"""Scheduled runs and crons: due-time rows released by the scheduler leader, each firing recorded once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from sfpserver.engine import cron
from sfpserver.engine.models import CronFiring, ScheduledRun, WorkflowRun
from tests.conftest import wait_until
from tests.hatchet import workflows as wf

pytestmark = pytest.mark.usefixtures("sdk_worker")


def test_a_scheduled_run_starts_when_due_and_completes() -> None:
    scheduled = wf.double.schedule(timezone.now() + timedelta(seconds=1), wf.StepInput(value=7))
    row = wait_until(
        lambda: ScheduledRun.objects.filter(id=scheduled.metadata.id, status="TRIGGERED").first(),
        what="the scheduled run to fire",
    )
    assert wf.double.get_result(str(row.run_id)) == wf.StepOutput(doubled=14)


def test_a_deleted_schedule_never_fires() -> None:
    scheduled = wf.double.schedule(timezone.now() + timedelta(seconds=1), wf.StepInput(value=1))
    wf.hatchet.scheduled.delete(scheduled.metadata.id)
    assert wf.hatchet.scheduled.get(scheduled.metadata.id).status == "CANCELLED"


def test_a_cron_is_a_django_celery_beat_entry_and_fires_once_per_fire_time() -> None:
    created = wf.double.create_cron("every-minute", "* * * * *", wf.StepInput(value=3))
    task = PeriodicTask.objects.get(id=created.metadata.id)
    assert task.crontab is not None and cron.expression_of(task) == "* * * * *"
    later = timezone.now() + timedelta(minutes=1, seconds=1)
    due = later.replace(second=0, microsecond=0)
    cron.fire_due(later)
    cron.fire_due(later)  # a second scheduler pass for the same fire time (the session's scheduler runs too)
    [firing] = CronFiring.objects.filter(schedule_name=task.name, fire_time=due)
    assert firing.run_id is not None
    run = WorkflowRun.objects.get(id=firing.run_id)
    assert wf.hatchet.runs.get_run_ref(str(run.id)).result()["sdkdouble"] == {"doubled": 6}
    assert [c.name for c in wf.hatchet.cron.list(workflow_name="SdkDouble")] == ["every-minute"]
    wf.hatchet.cron.delete(created.metadata.id)
    assert not PeriodicTask.objects.filter(id=created.metadata.id).exists()


def test_a_disabled_cron_does_not_fire() -> None:
    created = wf.double.create_cron("disabled", "* * * * *", wf.StepInput(value=1))
    PeriodicTask.objects.filter(id=created.metadata.id).update(enabled=False)
    assert (
        cron.fire_due(timezone.now() + timedelta(minutes=2)) == 0
        or not CronFiring.objects.filter(schedule_name="SdkDouble:disabled").exists()
    )
