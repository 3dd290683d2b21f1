"""sfp server's task API: submit, status, result, cancel; scheduled and recurring tasks; who sees what."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from sfpserver.engine import cron
from sfpserver.engine.models import CronFiring, RunStatus, ScheduledRun, StepRun, WorkflowRun
from sfpserver.engine.scheduler import fire_scheduled_runs
from sfpserver.engine.trigger import trigger
from sfpserver.submissions.models import RunCreator, SubmittedTask
from tests.api.conftest import Personas
from tests.api.helpers import complete, fail, operation_id, progress, start, submit

pytestmark = pytest.mark.django_db

PENDING = {"status": "pending", "progress": 0, "error": None, "continuedFailures": []}


def status_of(client, op_id: str) -> dict:
    response = client.get(f"/sfp/api/tasks/{op_id}/status")
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.mark.parametrize("role", ["owner", "member", "app"])
def test_each_role_can_submit_a_task_and_gets_its_operation_id(personas: Personas, role: str) -> None:
    persona = getattr(personas, role)
    response = submit(persona.client, {"type": "test.single", "data": {"branch": "main"}, "metadata": {"pr": "7"}})
    assert response.status_code == 201
    op_id = response.json()["operationId"]
    assert response.json() == {"operationId": op_id, "type": "test.single"}
    run = WorkflowRun.objects.get(id=op_id)
    assert (run.workflow_name, run.input, run.additional_metadata) == ("t.single", {"branch": "main"}, {"pr": "7"})
    assert RunCreator.objects.get(run=run).token == persona.token


def test_a_submitted_task_is_pending_until_a_worker_starts_it(personas: Personas) -> None:
    op_id = operation_id(submit(personas.app.client, {"type": "test.single", "data": {}}))
    assert status_of(personas.app.client, op_id) == {**PENDING, "runId": op_id}


def test_progress_counts_completed_steps_and_the_latest_progress_of_running_ones(personas: Personas) -> None:
    op_id = operation_id(submit(personas.app.client, {"type": "test.dag", "data": {}}))
    complete(op_id, "a", {"ok": True})
    start(op_id, "b")
    progress(op_id, "b", 20)
    progress(op_id, "b", 50)
    assert status_of(personas.app.client, op_id) == {
        "status": "active",
        "progress": 37,
        "error": None,
        "runId": op_id,
        "continuedFailures": [],
    }  # 1.5 of 4


def test_a_completed_task_answers_with_its_result(personas: Personas) -> None:
    op_id = operation_id(submit(personas.member.client, {"type": "test.single", "data": {}}))
    complete(op_id, "only", {"built": 3})
    response = personas.member.client.get(f"/sfp/api/tasks/{op_id}/result")
    assert response.json() == {
        "status": "completed",
        "progress": 100,
        "error": None,
        "runId": op_id,
        "continuedFailures": [],
        "result": {"only": {"built": 3}},
    }


def test_a_failed_task_reports_its_error_with_the_stack(personas: Personas) -> None:
    op_id = operation_id(submit(personas.app.client, {"type": "test.refuse", "data": {}}))
    fail(op_id, "refuse", "disk full")
    assert personas.app.client.get(f"/sfp/api/tasks/{op_id}/result").json() == {
        "status": "failed",
        "progress": 0,
        "error": {
            "message": "refuse: disk full",
            "stack": "Traceback (most recent call last):\nRuntimeError: disk full\n",
        },
        "runId": op_id,
        "continuedFailures": [],
        "result": None,
    }


def test_owner_and_member_see_an_applications_task_but_the_outsider_gets_404(personas: Personas) -> None:
    op_id = operation_id(submit(personas.app.client, {"type": "test.single", "data": {}}))
    assert status_of(personas.owner.client, op_id) == {**PENDING, "runId": op_id}
    assert status_of(personas.member.client, op_id) == {**PENDING, "runId": op_id}
    not_found = {"error": "not_found", "detail": f"no task with operationId {op_id}"}
    for path in ("status", "result", "recurring-instances"):
        response = personas.outsider.client.get(f"/sfp/api/tasks/{op_id}/{path}")
        assert (response.status_code, response.json()) == (404, not_found)
    for response in (
        personas.outsider.client.delete(f"/sfp/api/tasks/{op_id}"),
        personas.outsider.client.post(f"/sfp/api/tasks/{op_id}/stop-recurring"),
    ):
        assert (response.status_code, response.json()) == (404, not_found)
    assert WorkflowRun.objects.get(id=op_id).status == RunStatus.QUEUED


def test_an_unknown_operation_id_answers_404(personas: Personas) -> None:
    missing = uuid.uuid4()
    response = personas.owner.client.get(f"/sfp/api/tasks/{missing}/status")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": f"no task with operationId {missing}"},
    )
    response = personas.owner.client.get("/sfp/api/tasks/not-a-uuid/status")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": "no such resource: /sfp/api/tasks/not-a-uuid/status"},
    )


def test_a_run_started_outside_the_task_api_can_be_polled_as_a_task_by_those_who_see_it(personas: Personas) -> None:
    run_id = trigger("t.single", {})
    assert status_of(personas.member.client, str(run_id)) == {**PENDING, "runId": str(run_id)}
    assert personas.app.client.get(f"/sfp/api/tasks/{run_id}/status").status_code == 404


def test_cancelling_a_pending_task_cancels_its_run(personas: Personas) -> None:
    op_id = operation_id(submit(personas.app.client, {"type": "test.slow", "data": {}}))
    response = personas.app.client.delete(f"/sfp/api/tasks/{op_id}")
    assert (response.status_code, response.json()) == (200, {"message": "Task cancelled successfully"})
    assert status_of(personas.app.client, op_id) == {
        "status": "cancelled",
        "progress": 0,
        "error": {"message": "cancelled by request", "stack": ""},
        "runId": op_id,
        "continuedFailures": [],
    }


def test_a_cancelled_task_does_not_show_the_traceback_of_an_earlier_retried_attempt(personas: Personas) -> None:
    op_id = operation_id(submit(personas.app.client, {"type": "test.refuse", "data": {}}))
    fail(op_id, "refuse", "flaky network", retryable=True)  # attempt 1 failed; attempt 2 is queued
    assert personas.app.client.delete(f"/sfp/api/tasks/{op_id}").status_code == 200
    assert status_of(personas.app.client, op_id) == {
        "status": "cancelled",
        "progress": 0,
        "error": {"message": "cancelled by request", "stack": ""},
        "runId": op_id,
        "continuedFailures": [],
    }


def test_a_completed_task_cannot_be_cancelled(personas: Personas) -> None:
    op_id = operation_id(submit(personas.owner.client, {"type": "test.single", "data": {}}))
    complete(op_id, "only", {})
    response = personas.owner.client.delete(f"/sfp/api/tasks/{op_id}")
    assert (response.status_code, response.json()) == (
        409,
        {
            "error": "invalid_state",
            "detail": f"task {op_id} is completed; only pending or active tasks can be cancelled",
        },
    )


# --- scheduled ------------------------------------------------------------------------------------------------


def test_a_scheduled_task_waits_as_a_scheduled_run_and_can_be_cancelled_before_it_starts(personas: Personas) -> None:
    when = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)
    response = submit(personas.app.client, {"type": "test.single", "data": {"x": 1}, "scheduledFor": when.isoformat()})
    op_id = operation_id(response)
    scheduled = ScheduledRun.objects.get(id=op_id)
    assert (scheduled.workflow_name, scheduled.trigger_at, scheduled.input) == ("t.single", when, {"x": 1})
    assert status_of(personas.app.client, op_id) == {**PENDING, "runId": None}
    assert personas.app.client.delete(f"/sfp/api/tasks/{op_id}").status_code == 200
    assert status_of(personas.app.client, op_id) == {
        "status": "cancelled",
        "progress": 0,
        "error": {"message": "the task was cancelled before it started", "stack": ""},
        "runId": None,
        "continuedFailures": [],
    }
    response = personas.app.client.delete(f"/sfp/api/tasks/{op_id}")
    assert (response.status_code, response.json()) == (
        409,
        {
            "error": "invalid_state",
            "detail": f"task {op_id} is cancelled; only pending or active tasks can be cancelled",
        },
    )


def test_a_scheduled_task_once_fired_carries_the_run_it_started_in_its_status_and_result(personas: Personas) -> None:
    when = timezone.now() + timedelta(minutes=5)
    op_id = operation_id(
        submit(personas.app.client, {"type": "test.single", "data": {}, "scheduledFor": when.isoformat()})
    )
    ScheduledRun.objects.filter(id=op_id).update(trigger_at=timezone.now())  # its time has come
    assert fire_scheduled_runs() == 1
    run_id = str(ScheduledRun.objects.get(id=op_id).run_id)
    assert run_id != op_id
    assert status_of(personas.app.client, op_id) == {**PENDING, "runId": run_id}
    complete(run_id, "only", {"done": True})
    assert personas.app.client.get(f"/sfp/api/tasks/{op_id}/result").json() == {
        "status": "completed",
        "progress": 100,
        "error": None,
        "runId": run_id,
        "continuedFailures": [],
        "result": {"only": {"done": True}},
    }
    assert personas.app.client.get(f"/sfp/api/runs/{run_id}").json()["id"] == run_id


def test_a_scheduled_task_keeps_its_continue_on_failure_steps_for_the_run_it_starts(personas: Personas) -> None:
    when = timezone.now() + timedelta(minutes=5)
    body = {"type": "test.dag", "data": {}, "scheduledFor": when.isoformat(), "continueOnFailure": ["b"]}
    op_id = operation_id(submit(personas.app.client, body))
    ScheduledRun.objects.filter(id=op_id).update(trigger_at=timezone.now())
    assert fire_scheduled_runs() == 1
    run_id = ScheduledRun.objects.get(id=op_id).run_id
    continuing = dict(StepRun.objects.filter(run_id=run_id).values_list("name", "continue_on_failure"))
    assert continuing == {"a": False, "b": True, "c": False, "d": False}


# --- recurring ------------------------------------------------------------------------------------------------


def recurring(personas: Personas, cron: str = "*/5 * * * *", tz: str = "Europe/Paris") -> SubmittedTask:
    body = {"type": "test.single", "data": {"n": 1}, "recurrenceConfig": {"cron": cron, "timezone": tz}}
    return SubmittedTask.objects.get(id=operation_id(submit(personas.app.client, body)))


def test_a_recurring_task_is_an_engine_cron_in_its_time_zone(personas: Personas) -> None:
    task = recurring(personas)
    periodic = PeriodicTask.objects.select_related("crontab").get(id=task.periodic_task_id)
    assert (periodic.name, periodic.task, periodic.enabled) == (task.schedule_name, "engine.cron", True)
    assert json.loads(periodic.kwargs) == {"workflow": "t.single", "input": {"n": 1}, "metadata": {}, "priority": None}
    schedule = periodic.crontab
    assert schedule is not None
    fields = (schedule.minute, schedule.hour, schedule.day_of_month, schedule.month_of_year, schedule.day_of_week)
    assert (fields, str(schedule.timezone)) == (("*/5", "*", "*", "*", "*"), "Europe/Paris")
    assert status_of(personas.app.client, str(task.id)) == {**PENDING, "runId": None}
    assert personas.app.client.get(f"/sfp/api/tasks/{task.id}/recurring-instances").json() == []


def test_a_recurring_task_fires_once_per_cron_slot_and_reports_its_latest_execution(personas: Personas) -> None:
    task = recurring(personas, cron="0 9 * * *")  # 09:00 in Paris: 08:00Z in winter
    morning = datetime(2030, 1, 2, 8, 30, tzinfo=UTC)
    cron.fire_due(morning)
    cron.fire_due(morning + timedelta(minutes=20))  # same slot: another scheduler, or a restart
    cron.fire_due(morning + timedelta(days=1))
    firings = list(CronFiring.objects.filter(schedule_name=task.schedule_name).order_by("fire_time"))
    assert [f.fire_time for f in firings] == [
        datetime(2030, 1, 2, 8, tzinfo=UTC),
        datetime(2030, 1, 3, 8, tzinfo=UTC),
    ]
    first, second = (str(f.run_id) for f in firings)
    instances = personas.app.client.get(f"/sfp/api/tasks/{task.id}/recurring-instances").json()
    assert instances == [
        {"operationId": second, "fireTime": "2030-01-03T08:00:00Z", "status": "pending", "progress": 0},
        {"operationId": first, "fireTime": "2030-01-02T08:00:00Z", "status": "pending", "progress": 0},
    ]
    complete(second, "only", {"n": 1})
    assert personas.app.client.get(f"/sfp/api/tasks/{task.id}/result").json()["result"] == {"only": {"n": 1}}
    assert personas.app.client.get(f"/sfp/api/runs/{second}").json()["created_by"] == "ci"
    assert personas.outsider.client.get(f"/sfp/api/runs/{second}").status_code == 404


def test_a_recurring_task_keeps_its_continue_on_failure_steps_for_every_run_it_starts(personas: Personas) -> None:
    body = {
        "type": "test.dag",
        "data": {},
        "recurrenceConfig": {"cron": "0 9 * * *", "timezone": "UTC"},
        "continueOnFailure": ["c"],
    }
    task = SubmittedTask.objects.get(id=operation_id(submit(personas.app.client, body)))
    cron.fire_due(datetime(2030, 1, 2, 9, 30, tzinfo=UTC))
    [firing] = CronFiring.objects.filter(schedule_name=task.schedule_name)
    continuing = dict(StepRun.objects.filter(run_id=firing.run_id).values_list("name", "continue_on_failure"))
    assert continuing == {"a": False, "b": False, "c": True, "d": False}


def test_stopping_a_recurring_task_disables_its_schedule_and_nothing_fires_after(personas: Personas) -> None:
    task = recurring(personas)
    response = personas.app.client.post(f"/sfp/api/tasks/{task.id}/stop-recurring")
    assert (response.status_code, response.json()) == (200, {"message": "Recurring task stopped"})
    assert PeriodicTask.objects.get(id=task.periodic_task_id).enabled is False
    cron.fire_due(timezone.now() + timedelta(days=1))
    assert not CronFiring.objects.filter(schedule_name=task.schedule_name).exists()
    assert status_of(personas.app.client, str(task.id)) == {
        "status": "cancelled",
        "progress": 0,
        "error": {"message": "the recurring task was stopped before it first ran", "stack": ""},
        "runId": None,
        "continuedFailures": [],
    }


def test_an_immediate_task_has_no_recurrence_to_stop_or_list(personas: Personas) -> None:
    op_id = operation_id(submit(personas.app.client, {"type": "test.single", "data": {}}))
    conflict = {"error": "invalid_state", "detail": f"task {op_id} is immediate, not recurring"}
    response = personas.app.client.post(f"/sfp/api/tasks/{op_id}/stop-recurring")
    assert (response.status_code, response.json()) == (409, conflict)
    response = personas.app.client.get(f"/sfp/api/tasks/{op_id}/recurring-instances")
    assert (response.status_code, response.json()) == (409, conflict)


def test_cancelling_a_recurring_task_with_no_execution_running_says_how_to_stop_it(personas: Personas) -> None:
    task = recurring(personas)
    response = personas.app.client.delete(f"/sfp/api/tasks/{task.id}")
    assert (response.status_code, response.json()) == (
        409,
        {
            "error": "invalid_state",
            "detail": f"no execution of recurring task {task.id} is pending or active; "
            "stop-recurring stops future runs",
        },
    )
