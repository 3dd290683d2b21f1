"""Fixtures of the vault tests: credentials with unique names, and step attempts really RUNNING in the
engine (triggered and claimed through the engine's lifecycle on a worker row of the test's own)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from django.utils import timezone

from sfpserver.engine import lifecycle
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.models import StepRun, Worker, WorkerStatus
from sfpserver.engine.trigger import trigger

LEASE_QUEUE = "vault-lease-tests"  # served by nobody: the tests claim these steps themselves

SFDX_URL = "force://PlatformCLI::5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJvqrE.Y2Fj3CHd3Z2Cp@acme.my.salesforce.com"
SFDX_META = {"username": "ci@acme.com", "org_type": "production", "is_devhub": True}


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid4().hex[:12]}"


@dataclass(frozen=True)
class Running:
    step_id: UUID
    run_id: UUID
    name: str
    attempt: int
    worker_id: UUID
    secret: str = field(default="", repr=False)  # the attempt's lease secret, as the claiming worker holds it


@pytest.fixture
def worker_row(db_access: None) -> Iterator[Worker]:
    """A worker of the test's own; its heartbeat lies in the future so the scheduler never reaps it."""
    worker = Worker.objects.create(
        name=unique("vault-test-worker"),
        pool="vault-test",
        queues=[LEASE_QUEUE],
        hostname="tests",
        pid=os.getpid(),
        slots=1,
        last_heartbeat=timezone.now() + timedelta(days=1),
    )
    yield worker
    Worker.objects.filter(id=worker.id).update(status=WorkerStatus.STOPPED, stopped_at=timezone.now())


@pytest.fixture
def start_step(worker_row: Worker) -> Iterator[Callable[..., Running]]:
    """start_step(credentials) -> a step declaring them, RUNNING attempt 0 on `worker_row`."""
    runs: list[UUID] = []

    def start(credentials: Sequence[str] | str = (), step_name: str = "use") -> Running:
        definition = WorkflowDef(
            name=unique("tv.lease"),
            steps=(
                StepDef(
                    step_name,
                    "tv:none",
                    queue=LEASE_QUEUE,
                    execution_timeout=3600.0,
                    args={"credentials": credentials if isinstance(credentials, str) else list(credentials)},
                ),
            ),
        )
        run_id = trigger(definition)
        runs.append(run_id)
        step = StepRun.objects.get(run_id=run_id)
        claimed = lifecycle.claim(step.id, step.attempt, worker_row.id, worker_row.name)
        assert claimed is not None
        return Running(step.id, run_id, step_name, claimed.attempt, worker_row.id, claimed.lease_secret)

    yield start
    for run_id in runs:
        lifecycle.cancel_run(run_id, "vault test finished")
