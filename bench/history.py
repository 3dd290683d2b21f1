"""The finished runs a server keeps (30 days by default), so the bench measures tables of a realistic size.

Starting from empty tables would measure something no server sees: Postgres plans the engine's prepared
statements for the tables as they are when a worker connects, and a one-page table is scanned, not indexed.
The history is created once (kept in the bench's embedded database) and left alone by forget_old_runs.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from bench.results import progress
from sfpserver.engine.models import Attempt, AttemptOutcome, RunStatus, StepRun, StepStatus, WorkflowRun

WORKFLOW = "history.build"
RUNS = 20_000
BATCH = 2_000


def ensure(runs: int = RUNS) -> None:
    missing = runs - WorkflowRun.objects.filter(workflow_name=WORKFLOW).count()
    if missing <= 0:
        return
    progress(f"creating the history: {missing} finished one-step runs (once)")
    for start in range(0, missing, BATCH):
        _create(min(BATCH, missing - start))


def _create(count: int) -> None:
    finished = timezone.now() - timedelta(days=1)
    with transaction.atomic():
        done = {"status": RunStatus.COMPLETED, "output": {"build": None}, "finished_at": finished}
        runs = WorkflowRun.objects.bulk_create(WorkflowRun(workflow_name=WORKFLOW, **done) for _ in range(count))
        steps = StepRun.objects.bulk_create(
            StepRun(
                run=run,
                name="build",
                action="history:build",
                queue="history",
                status=StepStatus.COMPLETED,
                execution_timeout=60,
                schedule_timeout=300,
                started_at=finished,
                finished_at=finished,
            )
            for run in runs
        )
        Attempt.objects.bulk_create(
            Attempt(step=step, number=0, started_at=finished, finished_at=finished, outcome=AttemptOutcome.COMPLETED)
            for step in steps
        )
