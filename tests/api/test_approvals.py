"""POST runs/{id}/approval: a decision reaches the run's pending approval gate (a durable wait for
sfp:release-approval scoped to the run), is refused when none waits, names the field of a bad body, and follows
the run's visibility and the caller's role. The gate is set up as the pipeline's durable task records it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from sfpserver.engine import services as engine
from sfpserver.engine.models import StepRun, StepWait
from sfpserver.hatchet import SleepCondition, UserEventCondition, or_
from sfpserver.hatchet.conditions import to_engine
from sfpserver.live.state import run_state
from sfpserver.submissions.approvals import APPROVAL_EVENT
from tests.api.conftest import Persona, Personas
from tests.api.helpers import operation_id, start, submit

pytestmark = pytest.mark.django_db


def gated_run(persona: Persona) -> str:
    """A run whose step waits, evicted, for an approval of this run or 30 minutes (the pipeline's gate)."""
    run_id = operation_id(submit(persona.client, {"type": "test.single", "data": {}}))
    step = start(run_id, "only")
    gate = or_(
        SleepCondition(timedelta(minutes=30), readable_data_key="timeout"),
        UserEventCondition(event_key=APPROVAL_EVENT, scope=run_id, readable_data_key="decision"),
    )
    outcome = engine.durable_wait(step.id, step.attempt, 0, "wait", to_engine([gate], timezone.now()), evict_now=True)
    assert outcome.state == "evicted"
    return run_id


def decide(persona: Persona, run_id: str, body: Any) -> Any:
    return persona.client.post(f"/sfp/api/runs/{run_id}/approval", body, format="json")


def test_a_pending_gate_shows_in_the_live_feed_as_waiting_for_approval(personas: Personas) -> None:
    run_id = gated_run(personas.app)
    state = run_state(run_id)
    assert state is not None
    [step] = state["steps"]
    assert (step["waiting_for"], step["waiting_label"]) == ("condition", "approval")


def test_an_approval_answers_the_gate_and_wakes_its_step(personas: Personas) -> None:
    run_id = gated_run(personas.app)
    response = decide(personas.member, run_id, {"decision": "approve", "comment": "ship it"})
    assert (response.status_code, response.json()) == (
        200,
        {"run_id": run_id, "decision": "approve", "comment": "ship it", "by": "member"},
    )
    wait = StepWait.objects.get(step__run_id=run_id)
    assert wait.result == {"CREATE": {"decision": [{"decision": "approve", "comment": "ship it", "by": "member"}]}}
    step = StepRun.objects.get(run_id=run_id)
    assert (step.status, step.waiting_for) == ("QUEUED", "delivered")  # woken: it replays and reads the decision


def test_a_second_decision_is_refused_once_the_gate_was_answered(personas: Personas) -> None:
    run_id = gated_run(personas.app)
    assert decide(personas.app, run_id, {"decision": "reject"}).status_code == 200
    response = decide(personas.app, run_id, {"decision": "approve"})
    assert (response.status_code, response.json()) == (
        409,
        {"error": "invalid_state", "detail": f"run {run_id} has no pending approval: no step of it waits for one"},
    )


def test_a_cancelled_run_has_no_pending_approval_left(personas: Personas) -> None:
    run_id = gated_run(personas.app)
    assert personas.app.client.post(f"/sfp/api/runs/{run_id}/cancel").status_code == 200
    response = decide(personas.app, run_id, {"decision": "approve"})
    assert (response.status_code, response.json()) == (
        409,
        {"error": "invalid_state", "detail": f"run {run_id} is CANCELLED; it has no pending approval"},
    )


def test_a_run_with_no_pending_approval_is_refused_with_409(personas: Personas) -> None:
    run_id = operation_id(submit(personas.app.client, {"type": "test.single", "data": {}}))
    response = decide(personas.app, run_id, {"decision": "approve"})
    assert (response.status_code, response.json()) == (
        409,
        {"error": "invalid_state", "detail": f"run {run_id} has no pending approval: no step of it waits for one"},
    )


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"decision": "maybe"}, {"decision": '"maybe" is not a valid choice; one of: approve, reject'}),
        ({}, {"decision": "This field is required."}),
        (
            {"decision": "approve", "comment": "x" * 2001},
            {"comment": "Ensure this field has no more than 2000 characters."},
        ),
        ({"decision": "approve", "by": "someone-else"}, {"by": "unknown field"}),
    ],
)
def test_a_bad_decision_is_refused_naming_the_field_and_the_gate_still_waits(
    personas: Personas, body: dict[str, Any], detail: dict[str, str]
) -> None:
    run_id = gated_run(personas.app)
    response = decide(personas.app, run_id, body)
    assert (response.status_code, response.json()) == (400, {"error": "invalid_input", "detail": detail})
    assert StepWait.objects.get(step__run_id=run_id).satisfied_at is None


def test_the_outsider_gets_404_and_the_gate_still_waits(personas: Personas) -> None:
    run_id = gated_run(personas.app)
    response = decide(personas.outsider, run_id, {"decision": "approve"})
    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": f"no run with id {run_id}"},
    )
    assert StepWait.objects.get(step__run_id=run_id).satisfied_at is None
