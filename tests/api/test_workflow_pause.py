"""Pausing and unpausing a workflow over REST (`POST workflows/{name}/pause`, `.../unpause`): owners only, bad input
refused naming the field, a paused workflow's new runs held (wait `paused`) and released by the unpause."""

from __future__ import annotations

import uuid

import pytest

from sfpserver.engine.models import StepRun, WorkflowPause, WorkflowRun
from tests.api.conftest import Personas
from tests.api.helpers import operation_id, submit

pytestmark = pytest.mark.django_db

PAUSE = "/sfp/api/workflows/t.single/pause"
UNPAUSE = "/sfp/api/workflows/t.single/unpause"


def only_step_of_task(personas: Personas) -> StepRun:
    run_id = uuid.UUID(operation_id(submit(personas.owner.client, {"type": "test.single", "data": {}})))
    return StepRun.objects.get(run_id=run_id)


def test_an_owner_pauses_a_workflow_whose_new_runs_then_wait_until_it_is_unpaused(personas: Personas) -> None:
    response = personas.owner.client.post(PAUSE, {"queue_ttl_seconds": 600, "cron_behavior": "DROP"}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "workflow": "t.single",
        "paused": True,
        "queue_ttl_seconds": 600.0,
        "cron_behavior": "DROP",
        "scheduled_behavior": "QUEUE",
        "steps": 0,
    }
    held = only_step_of_task(personas)
    assert (held.status, held.waiting_for) == ("QUEUED", "paused")
    assert WorkflowRun.objects.get(id=held.run_id).status == "QUEUED"

    response = personas.owner.client.post(UNPAUSE, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "workflow": "t.single",
        "paused": False,
        "queue_ttl_seconds": None,
        "cron_behavior": None,
        "scheduled_behavior": None,
        "steps": 1,
    }
    held.refresh_from_db()
    assert (held.status, held.waiting_for) == ("QUEUED", "delivered")
    assert not WorkflowPause.objects.exists()


def test_a_pause_holds_the_steps_already_queued_that_no_worker_claimed(personas: Personas) -> None:
    queued = only_step_of_task(personas)
    assert queued.waiting_for == "delivered"
    response = personas.owner.client.post(PAUSE, {"queue_ttl_seconds": 60}, format="json")
    assert response.json()["steps"] == 1
    queued.refresh_from_db()
    assert queued.waiting_for == "paused"


@pytest.mark.parametrize("role", ["member", "app"])
def test_only_owners_may_pause_or_unpause(personas: Personas, role: str) -> None:
    client = getattr(personas, role).client
    for url, body in ((PAUSE, {"queue_ttl_seconds": 60}), (UNPAUSE, None)):
        response = client.post(url, body, format="json")
        assert response.status_code == 403
        assert response.json() == {
            "error": "permission_denied",
            "detail": "this needs a token with the role owner (pause and unpause workflows)",
        }
    assert not WorkflowPause.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({}, "queue_ttl_seconds", "This field is required."),
        ({"queue_ttl_seconds": 0}, "queue_ttl_seconds", "Ensure this value is greater than or equal to 0.001."),
        ({"queue_ttl_seconds": "soon"}, "queue_ttl_seconds", "A valid number is required."),
        ({"queue_ttl_seconds": 5, "cron_behavior": "KEEP"}, "cron_behavior", '"KEEP" is not a valid choice.'),
        ({"queue_ttl_seconds": 5, "scheduled_behavior": 1}, "scheduled_behavior", '"1" is not a valid choice.'),
        ({"queue_ttl_seconds": 5, "ttl": 5}, "ttl", "unknown field"),
    ],
)
def test_bad_pause_input_is_refused_naming_the_field(personas: Personas, body: dict, field: str, problem: str) -> None:
    response = personas.owner.client.post(PAUSE, body, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_input", "detail": {field: problem}}
    assert not WorkflowPause.objects.exists()


def test_pausing_a_workflow_nobody_registered_is_refused_naming_it(personas: Personas) -> None:
    response = personas.owner.client.post("/sfp/api/workflows/nope/pause", {"queue_ttl_seconds": 5}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "error": "unknown_workflow",
        "detail": {"workflow": "no workflow named 'nope' is registered"},
    }
    assert not WorkflowPause.objects.exists()
