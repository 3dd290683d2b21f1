"""Workers (pool, liveness, running steps) and schedules (list, pause, change the cron)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from sfpserver.engine import cron
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.models import StepRun, Worker
from tests.api.conftest import Personas
from tests.api.helpers import operation_id, row_counts, submit

pytestmark = pytest.mark.django_db


def worker(name: str, pool: str, age_seconds: float, status: str = "ACTIVE") -> Worker:
    return Worker.objects.create(
        name=name,
        pool=pool,
        queues=[pool],
        hostname="host",
        pid=1,
        slots=2,
        status=status,
        last_heartbeat=timezone.now() - timedelta(seconds=age_seconds),
    )


@pytest.fixture
def two_workers(personas: Personas) -> tuple[Worker, Worker, StepRun]:
    live = worker(f"live-{uuid.uuid4().hex[:6]}", "test-pool", 0.5)
    silent = worker(f"silent-{uuid.uuid4().hex[:6]}", "test-pool", 600)
    run_id = uuid.UUID(operation_id(submit(personas.app.client, {"type": "test.single", "data": {}})))
    StepRun.objects.filter(run_id=run_id).update(status="RUNNING", worker=live, started_at=timezone.now())
    return live, silent, StepRun.objects.get(run_id=run_id)


@pytest.mark.parametrize("role", ["owner", "member", "app"])
def test_workers_show_pool_liveness_heartbeat_age_and_running_steps(personas: Personas, two_workers, role) -> None:
    live, silent, running = two_workers
    rows = getattr(personas, role).client.get("/sfp/api/workers?pool=test-pool").json()
    assert [(w["name"], w["live"]) for w in rows] == [(live.name, True), (silent.name, False)]
    assert 0 <= rows[0]["heartbeat_age_seconds"] < rows[1]["heartbeat_age_seconds"]
    assert rows[0]["running_steps"] == [
        {
            "step_id": str(running.id),
            "run_id": str(running.run_id),
            "step": "only",
            "attempt": 0,
            "started_at": rows[0]["running_steps"][0]["started_at"],
        }
    ]


@pytest.mark.parametrize("role", ["owner", "member", "app"])
def test_only_people_see_worker_ids(personas: Personas, two_workers, role: str) -> None:
    live, silent, _ = two_workers
    rows = getattr(personas, role).client.get("/sfp/api/workers?pool=test-pool").json()
    ids = [row.get("id") for row in rows]
    expected: list[str | None] = [None, None] if role == "app" else [str(live.id), str(silent.id)]
    assert ids == expected
    if role == "app":
        assert str(live.id) not in str(rows) and str(silent.id) not in str(rows)


def test_the_outsider_sees_workers_but_not_the_steps_of_runs_it_may_not_see(personas: Personas, two_workers) -> None:
    rows = personas.outsider.client.get("/sfp/api/workers?pool=test-pool").json()
    assert [w["running_steps"] for w in rows] == [[], []]


def test_workers_refuse_a_bad_status_filter(personas: Personas) -> None:
    response = personas.owner.client.get("/sfp/api/workers?status=SLEEPY")
    assert (response.status_code, response.json()) == (
        400,
        {
            "error": "invalid_input",
            "detail": {"status": '"SLEEPY" is not a valid choice; one of: ACTIVE, PAUSED, STOPPED, DEAD'},
        },
    )


# --- schedules ------------------------------------------------------------------------------------------------


@pytest.fixture
def app_schedule(personas: Personas) -> PeriodicTask:
    body = {"type": "test.single", "data": {}, "recurrenceConfig": {"cron": "0 6 * * 1-5", "timezone": "UTC"}}
    op_id = operation_id(submit(personas.app.client, body))
    return PeriodicTask.objects.get(name=f"task test.single {op_id}")


def test_schedules_are_listed_for_those_who_may_see_them(personas: Personas, app_schedule: PeriodicTask) -> None:
    expected = {
        "id": app_schedule.id,
        "name": app_schedule.name,
        "task": "engine.cron",
        "enabled": True,
        "cron": "0 6 * * 1-5",
        "timezone": "UTC",
        "interval": None,
        "description": "",
        "last_run_at": None,
        "total_run_count": 0,
        "operation_id": app_schedule.name.split()[-1],
    }
    for persona in (personas.owner, personas.member, personas.app):
        assert expected in persona.client.get("/sfp/api/schedules").json()
        assert persona.client.get(f"/sfp/api/schedules/{app_schedule.id}").json() == expected
    assert personas.outsider.client.get("/sfp/api/schedules").json() == []
    response = personas.outsider.client.get(f"/sfp/api/schedules/{app_schedule.id}")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": f"no schedule with id {app_schedule.id}"},
    )


def test_the_owner_pauses_a_schedule_and_changes_its_cron(personas: Personas, app_schedule: PeriodicTask) -> None:
    url = f"/sfp/api/schedules/{app_schedule.id}"
    paused = personas.owner.client.patch(url, {"enabled": False}, format="json").json()
    assert (paused["enabled"], paused["cron"]) == (False, "0 6 * * 1-5")
    changed = personas.owner.client.patch(url, {"cron": "30 2 1 * *", "timezone": "Asia/Tokyo"}, format="json")
    assert (changed.json()["cron"], changed.json()["timezone"], changed.json()["enabled"]) == (
        "30 2 1 * *",
        "Asia/Tokyo",
        False,
    )
    app_schedule.refresh_from_db()
    schedule = CrontabSchedule.objects.get(id=app_schedule.crontab_id)
    assert (schedule.minute, schedule.hour, schedule.day_of_month, str(schedule.timezone)) == (
        "30",
        "2",
        "1",
        "Asia/Tokyo",
    )


@pytest.mark.parametrize("role", ["member", "app"])
def test_only_the_owner_may_change_a_schedule(personas: Personas, app_schedule: PeriodicTask, role: str) -> None:
    response = getattr(personas, role).client.patch(
        f"/sfp/api/schedules/{app_schedule.id}", {"enabled": False}, format="json"
    )
    assert (response.status_code, response.json()) == (
        403,
        {
            "error": "permission_denied",
            "detail": "this needs a token with the role owner (pause schedules and change their cron)",
        },
    )
    assert PeriodicTask.objects.get(id=app_schedule.id).enabled is True


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"cron": "0 25 * * *"}, {"cron": "the hour field '25' is not valid: Invalid end range: 25 > 23."}),
        ({"cron": "every day"}, {"cron": "expected 5 fields (minute hour day-of-month month day-of-week), got 2"}),
        (
            {"timezone": "Nowhere"},
            {"timezone": "unknown time zone 'Nowhere' (use an IANA name such as 'Europe/Paris')"},
        ),
        ({"enabled": "sometimes"}, {"enabled": "Must be a valid boolean."}),
        ({}, {"body": "give at least one of enabled, cron, timezone"}),
        ({"paused": True}, {"paused": "unknown field"}),
    ],
)
def test_a_bad_schedule_change_is_refused_and_changes_nothing(
    personas: Personas, app_schedule: PeriodicTask, body: dict, detail: dict
) -> None:
    before = row_counts()
    response = personas.owner.client.patch(f"/sfp/api/schedules/{app_schedule.id}", body, format="json")
    assert (response.status_code, response.json()) == (400, {"error": "invalid_input", "detail": detail})
    assert row_counts() == before
    unchanged = PeriodicTask.objects.get(id=app_schedule.id)
    assert (unchanged.enabled, unchanged.crontab_id) == (True, app_schedule.crontab_id)


def test_the_schedule_of_a_stopped_recurring_task_cannot_be_resumed(personas: Personas, app_schedule) -> None:
    op_id = app_schedule.name.split()[-1]
    assert personas.app.client.post(f"/sfp/api/tasks/{op_id}/stop-recurring").status_code == 200
    response = personas.owner.client.patch(f"/sfp/api/schedules/{app_schedule.id}", {"enabled": True}, format="json")
    assert (response.status_code, response.json()) == (
        409,
        {"error": "invalid_state", "detail": "its recurring task was stopped; submit a new task instead"},
    )


def declared(name: str, *crons: str) -> WorkflowDef:
    return WorkflowDef(name=name, steps=(StepDef("only", "t:echo"),), triggers={"on_crons": list(crons)})


def test_a_declared_cron_is_renamed_after_its_new_cron_and_a_restart_does_not_bring_the_old_one_back(
    personas: Personas,
) -> None:
    assert cron.register_declared([declared("t.single", "0 2 * * *")]) == 1
    periodic = PeriodicTask.objects.get(name="t.single:0 2 * * *")
    response = personas.owner.client.patch(f"/sfp/api/schedules/{periodic.id}", {"cron": "15 3 * * *"}, format="json")
    assert (response.status_code, response.json()["name"]) == (200, "t.single:15 3 * * *")
    assert cron.register_declared([declared("t.single", "0 2 * * *")]) == 0  # the server starts again
    assert list(PeriodicTask.objects.filter(name__startswith="t.single:").values_list("name", flat=True)) == [
        "t.single:15 3 * * *"
    ]


def test_a_declared_cron_edited_as_the_admin_saves_it_follows_its_cron(db: None) -> None:
    cron.register_declared([declared("t.single", "@hourly")])
    periodic = PeriodicTask.objects.get(name="t.single:@hourly")
    periodic.crontab = CrontabSchedule.objects.create(minute="5", hour="*/2")
    periodic.save()  # what the admin's change form does
    assert PeriodicTask.objects.get(id=periodic.id).name == "t.single:5 */2 * * *"
