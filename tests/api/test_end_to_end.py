"""Through the API to real worker processes and back: tasks run, fail, retry, get cancelled and fire on time."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from sfpserver.submissions.models import SubmittedTask
from tests.api.conftest import Persona, Personas
from tests.api.helpers import operation_id, submit
from tests.conftest import Processes, wait_until
from tests.engine.helpers import executions
from tests.tasks.conftest import store_org

pytestmark = pytest.mark.usefixtures("platform")


def wait_for_status(persona: Persona, op_id: str, *wanted: str, timeout: float = 60) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        body = persona.client.get(f"/sfp/api/tasks/{op_id}/result").json()
        return body if body["status"] in wanted else None

    result: dict[str, Any] = wait_until(reached, timeout=timeout, interval=0.2, what=f"task {op_id} to be {wanted}")
    return result


def test_the_demo_task_submitted_through_the_api_runs_on_the_workers(live_personas: Personas) -> None:
    app = live_personas.app
    op_id = operation_id(submit(app.client, {"type": "demo", "data": {"repository": "core"}, "metadata": {"pr": "12"}}))
    seen_progress: list[int] = []

    def finished() -> dict[str, Any] | None:
        body = app.client.get(f"/sfp/api/tasks/{op_id}/result").json()
        seen_progress.append(body["progress"])
        return body if body["status"] in ("completed", "failed", "cancelled") else None

    body = wait_until(finished, timeout=90, interval=0.2, what="the demo task to finish")
    assert (body["status"], body["progress"], body["error"]) == ("completed", 100, None)
    assert body["result"]["publish"] == {"step": "publish", "attempt": 0}
    assert seen_progress == sorted(seen_progress)  # polled progress only moves forward here
    detail = app.client.get(f"/sfp/api/runs/{op_id}").json()
    build = next(step for step in detail["steps"] if step["name"] == "build")
    assert [a["outcome"] for a in build["attempts"]] == ["FAILED", "COMPLETED"]
    assert build["attempts"][0]["error_message"] == "transient failure while fetching dependencies"
    assert all(a["worker"] for a in build["attempts"])
    assert live_personas.outsider.client.get(f"/sfp/api/runs/{op_id}").status_code == 404


def test_an_sfp_operation_submitted_through_the_api_runs_on_its_pool(live_personas: Personas) -> None:
    member = live_personas.member
    store_org("t-staging")
    lock = {"environment": "t-staging", "action": "lock", "duration_minutes": 5, "reason": "release 12"}
    op_id = operation_id(submit(member.client, {"type": "environment", "data": lock}))
    body = wait_for_status(member, op_id, "completed", "failed", "cancelled")
    acquired = body["result"]["configure_environment"]
    assert (body["status"], acquired["status"], acquired["environmentName"]) == ("completed", "acquired", "t-staging")
    unlock = {"environment": "t-staging", "action": "unlock", "ticket": acquired["ticketId"]}
    op_id = operation_id(submit(member.client, {"type": "environment", "data": unlock}))
    released = wait_for_status(member, op_id, "completed", "failed", "cancelled")["result"]["configure_environment"]
    assert released == {"status": "released", "environmentName": "t-staging", "ticketId": acquired["ticketId"]}


def test_cancelling_an_active_task_stops_it_on_its_worker(live_personas: Personas) -> None:
    member = live_personas.member
    op_id = operation_id(submit(member.client, {"type": "test.slow", "data": {"seconds": 30}}))
    wait_for_status(member, op_id, "active")
    wait_until(lambda: executions(uuid.UUID(op_id), "long") == 1, what="the slow step to start")
    response = member.client.delete(f"/sfp/api/tasks/{op_id}")
    assert (response.status_code, response.json()) == (200, {"message": "Task cancelled successfully"})
    body = wait_for_status(member, op_id, "cancelled", "completed", "failed")
    assert (body["status"], body["error"]) == ("cancelled", {"message": "cancelled by request", "stack": ""})
    assert executions(uuid.UUID(op_id), "after") == 0


def test_a_failed_task_is_retried_through_the_api_running_only_the_failed_step_again(live_personas: Personas) -> None:
    app = live_personas.app
    op_id = operation_id(submit(app.client, {"type": "test.refuse", "data": {}}))
    body = wait_for_status(app, op_id, "failed", "completed")
    assert body["error"]["message"] == "refuse: this input can never succeed"
    assert "NonRetryableError" in body["error"]["stack"]
    response = app.client.post(f"/sfp/api/runs/{op_id}/retry-failed")
    assert (response.status_code, response.json()["steps"]) == (200, ["refuse"])
    wait_until(lambda: executions(uuid.UUID(op_id), "refuse") == 2, what="the failed step to run again")
    assert wait_for_status(app, op_id, "failed")["status"] == "failed"


def test_a_scheduled_task_starts_when_it_is_due(live_personas: Personas) -> None:
    app = live_personas.app
    when = timezone.now() + timedelta(seconds=1)
    op_id = operation_id(
        submit(app.client, {"type": "test.single", "data": {"at": "later"}, "scheduledFor": when.isoformat()})
    )
    body = wait_for_status(app, op_id, "completed", "failed", "cancelled")
    assert body["result"]["only"]["input"] == {"at": "later"}
    runs = app.client.get("/sfp/api/runs").json()["results"]
    assert body["status"] == "completed" and len(runs) == 1  # the fired run is the application's
    assert body["runId"] == runs[0]["id"] != op_id  # followed from the task into /runs


def test_a_recurring_task_fires_on_the_scheduler_and_its_runs_complete_on_the_workers(live_personas: Personas) -> None:
    app = live_personas.app
    body = {"type": "test.single", "data": {"nightly": True}, "recurrenceConfig": {"cron": "* * * * *"}}
    op_id = operation_id(submit(app.client, body))
    task = SubmittedTask.objects.get(id=op_id)
    # As if it had been created before the last minute began: the scheduler owes it that minute's firing.
    PeriodicTask.objects.filter(id=task.periodic_task_id).update(date_changed=timezone.now() - timedelta(minutes=2))
    result = wait_for_status(app, op_id, "completed", "failed", timeout=60)
    assert result["result"]["only"]["input"] == {"nightly": True}
    instances = app.client.get(f"/sfp/api/tasks/{op_id}/recurring-instances").json()
    assert instances[-1]["status"] == "completed"
    assert len({i["fireTime"] for i in instances}) == len(instances)  # never two runs for one minute
    assert app.client.post(f"/sfp/api/tasks/{op_id}/stop-recurring").status_code == 200
    assert PeriodicTask.objects.get(id=task.periodic_task_id).enabled is False


def test_readiness_is_200_with_the_platform_running(platform: Processes, anonymous: Any) -> None:
    response = anonymous.get("/sfp/api/ready")
    body = response.json()
    assert (response.status_code, body["ready"]) == (200, True), body
    assert all(check["ok"] for check in body["checks"].values())
