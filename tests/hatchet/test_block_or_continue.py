"""Block or continue, on the same DAG run by a real SDK worker: by default (Hatchet's rule) a task that fails
for good cancels its descendants and fails the run; with `continue_on_failure=True` its descendants run, read
its error, and the run completes with the failure listed as continued past."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sfpserver.accounts import tokens
from sfpserver.engine.models import StepRun, WorkflowRun
from sfpserver.hatchet import FailedTaskRunExceptionGroup, V1TaskStatus
from tests.hatchet import workflows as wf

pytestmark = pytest.mark.usefixtures("sdk_worker")


def _steps(run_id: str) -> dict[str, tuple[str, object]]:
    return {s.name: (s.status, s.output) for s in StepRun.objects.filter(run_id=run_id)}


def _api_detail(run_id: str) -> dict[str, Any]:
    issued = tokens.issue("block-or-continue-reader", "owner")
    response = Client().get(f"/sfp/api/runs/{run_id}", HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert response.status_code == 200, response.json()
    return response.json()


def test_by_default_a_failed_task_cancels_its_descendants_and_fails_the_run() -> None:
    ref = wf.blocking.run(wait_for_result=False)
    with pytest.raises(FailedTaskRunExceptionGroup) as caught:
        ref.result()
    assert [(e.exc_type, e.exc) for e in caught.value.exceptions] == [
        ("NonRetryableException", "lint found 3 problems")
    ]
    run_id = ref.workflow_run_id
    assert _steps(run_id) == {
        "lint": ("FAILED", None),
        "package": ("COMPLETED", {"packaged": True}),
        "report": ("CANCELLED", None),
        "publish": ("CANCELLED", None),
        "alert-on-failure": ("COMPLETED", {"alerted": True}),
    }
    run = WorkflowRun.objects.get(id=run_id)
    assert (run.status, run.error, run.continued_failures) == ("FAILED", "lint: lint found 3 problems", [])


def test_a_task_that_continues_on_failure_lets_its_descendants_run_and_read_its_error() -> None:
    ref = wf.continuing.run(wait_for_result=False)
    result = ref.result()
    assert result["report"] == {
        "failed": ["lint"],
        "error": "lint found 3 problems",
        "type": "NonRetryableException",
        "lint_output": "lint failed; read its error with ctx.get_task_run_error",
        "packaged": True,
    }
    assert result["publish"] == {"published": True}
    steps = _steps(ref.workflow_run_id)
    assert steps["lint"] == ("FAILED", None)
    assert steps["alert-on-failure"] == ("COMPLETED", {"skipped": True})  # no failure to handle: skipped


def test_a_run_that_continued_past_a_failure_is_completed_with_failures_in_the_api_and_the_runs_client() -> None:
    ref = wf.continuing.run(wait_for_result=False)
    ref.result()
    body = _api_detail(ref.workflow_run_id)
    assert (body["status"], body["error"], body["continued_failures"]) == ("COMPLETED", "", ["lint"])
    steps = {s["name"]: (s["status"], s["continue_on_failure"], s["error"]) for s in body["steps"]}
    assert steps["lint"] == ("FAILED", True, "lint found 3 problems")
    assert steps["publish"] == ("COMPLETED", False, "")
    details = wf.hatchet.runs.get(ref.workflow_run_id)
    assert details.run.status == V1TaskStatus.COMPLETED
    assert {t.display_name.rsplit("-", 1)[0]: t.status for t in details.tasks}["lint"] == V1TaskStatus.FAILED
    assert details.run.error_message is not None and "lint found 3 problems" in details.run.error_message
