"""The one Celery task of the engine: a thin shell that runs attempt N of step S (see runtime.execute).

Its Celery state follows the step's outcome, for monitoring (Flower): once a failed attempt is recorded the
task raises StepFailed, an expected error, so Celery shows FAILURE with the step's error. The message is acked
as any other (no Celery retry: retries are the engine's)."""

from __future__ import annotations

from celery import shared_task

from sfpserver.engine import runtime, worker
from sfpserver.engine.batching import RUN_BATCH_TASK
from sfpserver.engine.dispatch import RUN_STEP_TASK


class StepFailed(Exception):
    """The attempt this message asked for failed (its outcome is already recorded)."""


@shared_task(name=RUN_STEP_TASK, ignore_result=True, acks_late=True, throws=(StepFailed,))
def run_step(step_id: str, attempt: int) -> None:
    worker.run_step(step_id, attempt)
    error = runtime.failure_of(step_id, attempt)
    if error is not None:
        raise StepFailed(f"{error.type}: {error.message}")


@shared_task(name=RUN_BATCH_TASK, ignore_result=True, acks_late=True)
def run_batch(batch_id: str) -> None:
    """Run one batch of a batch task (engine/batch_runtime.py): each member's outcome is on its own step."""
    worker.run_batch(batch_id)
