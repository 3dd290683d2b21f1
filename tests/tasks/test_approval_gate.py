"""The release pipeline's approval gate, on real workers and the Salesforce stand-in: with
`approval_timeout_minutes` the gate waits durably (no slot held) between the tests on staging and the production
deploy; an approval through the REST API lets production run, a rejection or the timeout fails the gate and
production never runs."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from django.test import Client

from sfpserver.accounts import tokens
from sfpserver.engine.models import StepRun
from sfpserver.engine.trigger import trigger
from sfpserver.live.state import run_state
from tasks.sample_repo import SampleRepository
from tests.conftest import wait_until
from tests.engine.helpers import attempts, steps, wait_for_run
from tests.tasks.conftest import Org, output
from tests.tasks.test_pipeline import pipeline_input

pytestmark = pytest.mark.usefixtures("platform")

PIPELINE = "sfp-release-pipeline"


def gated(sample: SampleRepository, orgs: dict[str, Org], minutes: float) -> UUID:
    return trigger(PIPELINE, {**pipeline_input(sample, orgs), "approval_timeout_minutes": minutes})


def wait_for_the_gate(run_id: UUID) -> StepRun:
    wait_until(
        lambda: StepRun.objects.filter(run_id=run_id, name="approval", waiting_for="condition").exists(),
        timeout=120,
        what="the approval gate to wait",
    )
    return StepRun.objects.get(run_id=run_id, name="approval")


def decide(run_id: UUID, body: dict[str, Any]) -> Any:
    issued = tokens.issue("release-manager", "member")
    return Client().post(
        f"/sfp/api/runs/{run_id}/approval",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {issued.secret}",
    )


def test_an_approved_release_waits_for_its_approval_then_deploys_to_production(
    sample: SampleRepository, orgs: dict[str, Org]
) -> None:
    run_id = gated(sample, orgs, minutes=30)
    gate = wait_for_the_gate(run_id)
    assert gate.worker_id is None  # it holds no slot while it waits
    state = run_state(run_id)
    assert state is not None
    assert {s["name"]: s["waiting_label"] for s in state["steps"]}["approval"] == "approval"
    assert steps(run_id)["deploy_production"].status == "PENDING"

    response = decide(run_id, {"decision": "approve", "comment": "green on staging"})
    assert response.status_code == 200, response.json()

    finished = wait_for_run(run_id, timeout=120)
    assert finished.status == "COMPLETED"
    assert output(run_id, "approval") == {
        "required": True,
        "approved_by": "release-manager",
        "comment": "green on staging",
    }
    assert output(run_id, "deploy_production")["outcome"] == "succeeded"
    assert [a["outcome"] for a in attempts(steps(run_id)["approval"])] == ["EVICTED", "COMPLETED"]


def test_a_rejected_release_fails_at_the_gate_and_never_deploys_to_production(
    sample: SampleRepository, orgs: dict[str, Org]
) -> None:
    run_id = gated(sample, orgs, minutes=30)
    wait_for_the_gate(run_id)
    assert decide(run_id, {"decision": "reject", "comment": "tests flaky"}).status_code == 200

    finished = wait_for_run(run_id, timeout=120)
    assert finished.status == "FAILED"
    by_name = steps(run_id)
    assert (by_name["approval"].status, by_name["approval"].error) == (
        "FAILED",
        "release rejected by release-manager: tests flaky",
    )
    assert (by_name["deploy_production"].status, attempts(by_name["deploy_production"])) == ("CANCELLED", [])


def test_a_release_nobody_approves_in_time_fails_at_the_gate_with_its_timeout(
    sample: SampleRepository, orgs: dict[str, Org]
) -> None:
    run_id = gated(sample, orgs, minutes=0.05)  # three seconds

    finished = wait_for_run(run_id, timeout=180)
    assert finished.status == "FAILED"
    by_name = steps(run_id)
    assert (by_name["approval"].status, by_name["approval"].error) == (
        "FAILED",
        "approval timed out after 0.05 minutes",
    )
    assert (by_name["deploy_production"].status, attempts(by_name["deploy_production"])) == ("CANCELLED", [])
