"""The engine in the Django admin: every record browsable, nothing editable by hand, and the cancel and
retry-failed actions going through the lifecycle. (In the test's transaction: nothing reaches the broker.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client

from sfpserver.engine.models import RunStatus, StepRun, StepStatus, WorkflowRun
from tests.live import helpers

pytestmark = pytest.mark.django_db

ENGINE_PAGES = ["workflowrun", "steprun", "attempt", "worker", "runevent", "scheduledrun", "workflowdefinition"]
OTHER_PAGES = [
    "accounts/apitoken",
    "vault/credential",
    "django_celery_beat/periodictask",
    "django_celery_beat/crontabschedule",
]


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="unused-in-tests"))
    return client


def test_runs_steps_attempts_workers_schedules_tokens_and_credentials_are_in_the_admin(admin_client: Client) -> None:
    helpers.start_run()
    for page in [f"engine/{name}" for name in ENGINE_PAGES] + OTHER_PAGES:
        assert admin_client.get(f"/admin/{page}/").status_code == 200, page


def test_a_run_shows_its_steps_and_cannot_be_edited_or_added(admin_client: Client) -> None:
    run_id = helpers.start_run()
    helpers.fail(run_id, "checkout", "network down")
    page = admin_client.get(f"/admin/engine/workflowrun/{run_id}/change/")
    assert page.status_code == 200
    assert b"checkout" in page.content and b"network down" in page.content
    assert b'name="_save"' not in page.content
    assert admin_client.get("/admin/engine/workflowrun/add/").status_code == 403
    step = helpers.step(run_id, "checkout")
    attempt_page = admin_client.get(f"/admin/engine/steprun/{step.id}/change/")
    assert b"network down" in attempt_page.content  # the failed attempt, in the step's retry history


def test_the_cancel_action_cancels_a_running_run(admin_client: Client) -> None:
    run_id = helpers.start_run()
    helpers.claim(run_id, "checkout")
    response = admin_client.post(
        "/admin/engine/workflowrun/", {"action": "cancel", "_selected_action": [str(run_id)]}, follow=True
    )
    assert b"Cancelled 1 of 1 run(s)." in response.content
    assert WorkflowRun.objects.get(id=run_id).status == RunStatus.CANCELLED
    assert set(StepRun.objects.filter(run_id=run_id).values_list("status", flat=True)) == {StepStatus.CANCELLED}


def test_the_retry_action_re_queues_only_the_failed_steps(admin_client: Client) -> None:
    run_id = helpers.start_run()
    helpers.complete(run_id, "checkout")
    helpers.fail(run_id, "build", "first")
    helpers.fail(run_id, "build", "second")  # its one retry used: failed for good, publish cancelled
    assert WorkflowRun.objects.get(id=run_id).status == RunStatus.FAILED
    response = admin_client.post(
        "/admin/engine/workflowrun/", {"action": "retry_failed", "_selected_action": [str(run_id)]}, follow=True
    )
    assert f"Run {run_id}: re-running build, publish.".encode() in response.content
    statuses = dict(StepRun.objects.filter(run_id=run_id).values_list("name", "status"))
    assert statuses == {"checkout": "COMPLETED", "build": "QUEUED", "publish": "PENDING"}


def test_retrying_a_run_that_is_still_running_says_why_not(admin_client: Client) -> None:
    run_id = helpers.start_run()
    response = admin_client.post(
        "/admin/engine/workflowrun/", {"action": "retry_failed", "_selected_action": [str(run_id)]}, follow=True
    )
    assert b"only a failed or cancelled run can be retried" in response.content
    assert WorkflowRun.objects.get(id=run_id).status == RunStatus.QUEUED


def test_a_staff_user_without_the_change_permission_has_no_cancel_action(db: None) -> None:
    client = Client()
    viewer = User.objects.create_user("viewer", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_workflowrun"))
    client.force_login(viewer)
    page = client.get("/admin/engine/workflowrun/")
    assert page.status_code == 200
    assert b'value="cancel"' not in page.content


OUR_APPS = {"engine", "accounts", "vault"}


def test_every_list_of_ours_in_the_admin_is_ordered_newest_first() -> None:
    from django.contrib import admin

    orders = {
        model._meta.label: model_admin.get_ordering(None)  # type: ignore[arg-type]
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in OUR_APPS
    }
    assert orders and {label: order[0] for label, order in orders.items() if not order[0].startswith("-")} == {}


def test_the_runs_list_shows_the_newest_run_first(admin_client: Client) -> None:
    runs = [helpers.start_run() for _ in range(5)]  # oldest first
    base = WorkflowRun.objects.get(id=runs[-1]).created_at
    for age, run_id in enumerate(reversed(runs)):
        WorkflowRun.objects.filter(id=run_id).update(created_at=base - timedelta(minutes=age))

    html = admin_client.get("/admin/engine/workflowrun/").content.decode()

    assert sorted(runs, key=lambda run_id: html.index(str(run_id))) == list(reversed(runs))


def test_the_pause_and_unpause_actions_hold_and_release_a_workflows_new_runs(admin_client: Client) -> None:
    from sfpserver.engine.models import WorkflowDefinition, WorkflowPause

    WorkflowDefinition.objects.create(name=helpers.PIPELINE.name, spec=helpers.PIPELINE.to_spec())
    selected = {"_selected_action": [helpers.PIPELINE.name]}
    response = admin_client.post("/admin/engine/workflowdefinition/", {"action": "pause", **selected}, follow=True)
    assert f"Paused {helpers.PIPELINE.name} (0 queued step(s) held).".encode() in response.content
    assert WorkflowPause.objects.get().queue_ttl_seconds == 86400.0
    run_id = helpers.start_run()
    assert helpers.step(run_id, "checkout").waiting_for == "paused"

    response = admin_client.post("/admin/engine/workflowdefinition/", {"action": "unpause", **selected}, follow=True)
    assert f"Unpaused {helpers.PIPELINE.name} (1 step(s) released).".encode() in response.content
    assert helpers.step(run_id, "checkout").waiting_for == "delivered"
    assert not WorkflowPause.objects.exists()


def test_a_staff_user_without_the_change_permission_cannot_pause_a_workflow(db: None) -> None:
    from django.contrib.auth.models import Permission

    client = Client()
    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_workflowdefinition"))
    client.force_login(viewer)
    page = client.get("/admin/engine/workflowdefinition/")
    assert page.status_code == 200
    assert b'value="pause"' not in page.content


def test_workers_are_listed_and_found_by_their_labels(admin_client: Client) -> None:
    from django.utils import timezone

    from sfpserver.engine.models import Worker

    common = {"pool": "hatchet", "hostname": "h", "pid": 1, "slots": 1, "last_heartbeat": timezone.now()}
    Worker.objects.create(name="gpu-box", labels={"gpu": "a100", "memory": 512}, **common)
    Worker.objects.create(name="cpu-box", labels={"gpu": "none"}, **common)
    page = admin_client.get("/admin/engine/worker/", {"q": "a100"})
    assert (b"gpu-box" in page.content, b"cpu-box" in page.content) == (True, False)
    assert b"memory" in page.content
