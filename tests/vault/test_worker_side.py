"""The worker side in one process: a step leases what it declared, everything it reports is masked, and its
secrets are cleared once its outcome is recorded, whether it completed or failed."""

from __future__ import annotations

import pytest

from sfpserver.engine import lifecycle, runtime
from sfpserver.engine.models import Attempt, RunEvent, StepRun, Worker
from sfpserver.engine.trigger import trigger
from sfpserver.vault import services, worker
from sfpserver.vault.models import CredentialAudit
from tests.vault import workflows
from tests.vault.conftest import unique

pytestmark = pytest.mark.usefixtures("db_access")


@pytest.fixture
def token() -> str:
    value = "ghs_" + unique("inproc").replace("-", "") + "Q" * 10
    services.store("github_token", workflows.LEAK_TOKEN, value)
    return value


def run_here(worker_row: Worker, fail: bool) -> StepRun:
    run_id = trigger("tv.hold", {"fail": fail})
    step = StepRun.objects.get(run_id=run_id)
    runtime.execute(str(step.id), step.attempt, lifecycle.Claimant(worker_row.id, worker_row.name))
    return StepRun.objects.get(id=step.id)


def test_a_completed_step_had_its_secret_masked_and_cleared(worker_row: Worker, token: str) -> None:
    step = run_here(worker_row, fail=False)
    assert step.status == "COMPLETED"
    assert step.output == {"token": "***", "held": 1}
    assert list(RunEvent.objects.filter(step=step).values_list("message", flat=True)) == ["holding ***"]
    held = workflows.seen[-1]
    assert held.cleared and len(held) == 0
    assert worker.holding() == 0
    audit = CredentialAudit.objects.get(step_id=step.id)
    assert (audit.granted, audit.actor) == (True, f"worker:{worker_row.name}")


def test_a_failed_step_had_its_error_masked_and_its_secret_cleared(worker_row: Worker, token: str) -> None:
    step = run_here(worker_row, fail=True)
    assert step.status == "FAILED"
    assert step.error == "failing with ***"
    attempt = Attempt.objects.get(step=step)
    assert "ValueError: failing with ***" in attempt.traceback
    assert token not in attempt.traceback
    assert workflows.seen[-1].cleared
    assert worker.holding() == 0
